from django.urls import path

from . import views

urlpatterns = [
    path("notices/", views.notices_page, name="live-notices"),
]
