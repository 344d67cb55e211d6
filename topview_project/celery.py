"""The Celery app. `topview_project/__init__.py` imports it, so `.delay()` finds this broker."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "topview_project.settings")

app = Celery("topview_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
