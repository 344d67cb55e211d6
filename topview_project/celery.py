"""The Celery app. `topview_project/__init__.py` imports it, so `.delay()` finds this broker."""

import logging.config
import os

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "topview_project.settings")

app = Celery("topview_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def _log_as_django_does(**kwargs) -> None:
    """Workers and beat log through the project's LOGGING rather than Celery's own handlers: the
    same token filter, LOG_FORMAT and notice ids as the web processes (LOG_LEVEL sets the level)."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
