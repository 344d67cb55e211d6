from django.urls import path

from .consumers import OwnTasksConsumer, StaffNoticesConsumer

websocket_urlpatterns = [
    path("ws/tasks/", OwnTasksConsumer.as_asgi()),
    path("ws/notices/", StaffNoticesConsumer.as_asgi()),
]
