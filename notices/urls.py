from django.urls import path

from . import views

# The token is the secret part of the URL given to Topview; the bare URLs serve development
# (no NOTICE_TOKENS) and `?token=` callers.
urlpatterns = [
    path("topview", views.TopviewNoticeView.as_view(), name="topview-notice"),
    path("topview/test", views.TopviewTestNoticeView.as_view(), name="topview-notice-test"),
    path("topview/<str:token>", views.TopviewNoticeView.as_view(), name="topview-notice-token"),
    path(
        "topview/<str:token>/test",
        views.TopviewTestNoticeView.as_view(),
        name="topview-notice-test-token",
    ),
]
