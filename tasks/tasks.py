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


@shared_task(
    name="tasks.archive_media", bind=True, max_retries=None,
    soft_time_limit=_ARCHIVE_LEASE * 0.8, time_limit=_ARCHIVE_LEASE * 0.9,
)
def archive_media(self, copy_id: int) -> None:
    """Archive one copy; a failure is retried when its row says (in-process runs leave it to the sweep)."""
    from django.utils import timezone

    from .archive import media_archive
    from .models import MediaState

    copy = media_archive(copy_id=copy_id)
    if copy.state == MediaState.FAILED and not self.request.is_eager:
        wait = (copy.next_attempt_at - timezone.now()).total_seconds()
        raise self.retry(countdown=max(wait, 0))


@shared_task(name="tasks.alert_media_copy")
def alert_media_copy(copy_id: int) -> None:
    from .archive import media_alert

    media_alert(copy_id=copy_id)
