from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import health
from .metrics_endpoint import metrics_view

urlpatterns = [
    path("admin/", admin.site.urls),
    path("notice/", include("notices.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("metrics", metrics_view, name="metrics"),
    # The Task API for the product's users (tasks/api).
    path("api/", include("tasks.api.urls")),
]

# Live updates: the staff page of incoming notices (its WebSockets are in live/routing.py).
urlpatterns += [path("live/", include("live.urls"))]

# Archived media (issue 6) under MEDIA_URL, from the filesystem in development only (static()
# serves nothing when DEBUG is off): the files are the owners' videos, not public assets.
from django.conf import settings  # noqa: E402
from django.conf.urls.static import static  # noqa: E402

urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
