"""Celery tasks of the task lifecycle: each loads a row by id and calls a service."""

from celery import shared_task


@shared_task(
    name="tasks.send_notification", autoretry_for=(Exception,), retry_backoff=10, max_retries=8
)
def send_notification(notification_id: int) -> None:
    from .services import notification_send

    notification_send(notification_id=notification_id)
