"""Settings for `make bench`'s second reference: the service's own Django, nothing of ours
(DJANGO_SETTINGS_MODULE=bench.bare_django, served by topview_project.wsgi).

The same settings, middleware and gunicorn configuration as the service, with a URLconf whose
notice URL answers a constant JSON after reading the body (no database, no broker). The gap
between it and the bare WSGI ceiling is what Django costs; the gap between it and the notice
endpoint is what our work costs (parsing, the INSERT, the hand-off, logs, metrics).
"""

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from topview_project.settings import *  # noqa: F403

ROOT_URLCONF = "bench.bare_django"


@csrf_exempt
def constant(request):
    request.body  # Read, as the notice endpoint does.  # noqa: B018
    return JsonResponse({"success": True, "message": "bare Django"})


urlpatterns = [path("notice/topview", constant)]
