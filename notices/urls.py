from django.urls import path

from . import views

urlpatterns = [
    path("topview", views.TopviewNoticeView.as_view(), name="topview-notice"),
    path("topview/test", views.TopviewTestNoticeView.as_view(), name="topview-notice-test"),
]
