"""Celery tasks of the task lifecycle: each loads a row by id and calls a service."""

from celery import shared_task


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
