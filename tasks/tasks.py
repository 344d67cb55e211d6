"""Celery tasks of the task lifecycle: each loads a row by id and calls a service."""

from celery import shared_task
from django.conf import settings


# Retries only follow mail-server errors (the service cleared its mark); the countdowns stay
# well inside the broker's visibility timeout.
@shared_task(
    name="tasks.send_notification",
    autoretry_for=(Exception,),
    retry_backoff=10,
    retry_backoff_max=600,
    max_retries=8,
)
def send_notification(notification_id: int) -> None:
    from .services import notification_send

    notification_send(notification_id=notification_id)


# A download longer than its lease would be handed to a second worker: stop it inside the lease.
_ARCHIVE_LEASE = settings.ARCHIVE_LEASE_SECONDS


# On the media queue (CELERY_MEDIA_QUEUE): a worker of its own, so slow downloads never hold up
# notices. A failure is not retried by Celery: its row says when it is due again, and the sweep
# hands it on then (no countdown messages held in a worker's memory, however many fail).
@shared_task(
    name="tasks.archive_media", soft_time_limit=_ARCHIVE_LEASE * 0.8, time_limit=_ARCHIVE_LEASE * 0.9
)
def archive_media(copy_id: int) -> None:
    from .archive import media_archive

    media_archive(copy_id=copy_id)


@shared_task(name="tasks.alert_media_copy")
def alert_media_copy(copy_id: int) -> None:
    from .archive import media_alert

    media_alert(copy_id=copy_id)
