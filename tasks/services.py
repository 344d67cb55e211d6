"""Writes of the task lifecycle: moving a task by a notice's status, and telling its owner."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from topview_project import broker, metrics

from . import reconciliation
from .archive import media_copies_record
from .lifecycle import Transition, transition
from .models import OPEN_STATUSES, Notification, Task, first_poll_at
from .results import extract_result_fields, load_result
from .status import TERMINAL, TaskStatus
from .tasks import send_notification
from .topview_client import TaskKind

logger = logging.getLogger(__name__)


def task_apply_status(
    *,
    topview_task_id: str,
    biz_type: str,
    status: TaskStatus,
    error_message: str,
    result: Any,
    notify_owner: bool,
    archive_media: bool = True,
) -> tuple[Task, Transition]:
    """Move the task (created if new) by one notice's status; call inside a transaction.

    The task's row stays locked until the caller commits, so notices of one task are applied
    one at a time, whatever the number of workers. A changed status starts reconciliation's
    clock again; a success has its result files archived once committed (`archive_media`).
    """
    task, _ = Task.objects.select_for_update().get_or_create(
        topview_task_id=topview_task_id, defaults={"biz_type": biz_type}
    )
    step = transition(current=TaskStatus(task.status), incoming=status)
    if not step.changed:
        return task, step
    task.status = step.status
    task.status_changed_at = timezone.now()
    task.next_poll_at = None if step.status in TERMINAL else first_poll_at()
    task.poll_attempts = 0
    task.biz_type = task.biz_type or biz_type
    if step.status == TaskStatus.FAILED:
        task.error_message = error_message
    loaded = load_result(result)
    if loaded is not None:
        fields = extract_result_fields(loaded)
        task.result = loaded
        task.video_url = fields.video_url
        task.cover_url = fields.cover_url
        task.duration_ms = fields.duration_ms
        task.cost_credits = fields.cost_credits
    task.save()
    if step.finished and notify_owner and task.owner_id:
        _notification_record(task)
    if step.status == TaskStatus.SUCCESS and archive_media:
        media_copies_record(task=task)
    return task, step


@dataclass(frozen=True)
class PollClaim:
    """The tasks a reconciliation run may ask Topview about now, with where to ask."""

    tasks: list[tuple[Task, TaskKind]]
    unaskable: int  # due tasks whose kind we cannot tell: set aside, the reason on each


def task_poll_claim(*, now: datetime, per_minute: int) -> PollClaim:
    """Take the tasks due for a query, within the cap per minute, and set each one's next query.

    The next query time (the backoff) is written before Topview is asked: a run that dies, or
    a second run at the same time (rows locked, skipped), asks nobody twice. A status change
    (`task_apply_status`) starts the clock again.
    """
    used = Task.objects.filter(last_polled_at__gt=now - timedelta(minutes=1)).count()
    budget = reconciliation.query_budget(per_minute=per_minute, used_last_minute=used)
    if not budget:
        return PollClaim(tasks=[], unaskable=0)
    claimed, unaskable = [], []
    with transaction.atomic():
        due = (
            Task.objects.select_for_update(skip_locked=True)
            .filter(status__in=OPEN_STATUSES, next_poll_at__lte=now)
            .order_by("next_poll_at")[:budget]
        )
        for task in due:
            kind = reconciliation.kind_to_ask(kind=task.kind, biz_type=task.biz_type)
            if kind is None:
                task.next_poll_at = None
                task.poll_error = reconciliation.cannot_ask_reason(
                    kind=task.kind, biz_type=task.biz_type
                )
                unaskable.append(task)
                continue
            task.poll_attempts += 1
            task.last_polled_at = now
            task.next_poll_at = now + reconciliation.poll_delay(
                attempts=task.poll_attempts,
                after_seconds=settings.RECONCILE_AFTER_SECONDS,
                max_seconds=settings.RECONCILE_BACKOFF_MAX_SECONDS,
            )
            claimed.append((task, kind))
        Task.objects.bulk_update(
            [task for task, _ in claimed] + unaskable,
            ["next_poll_at", "poll_attempts", "last_polled_at", "poll_error"],
        )
    for task in unaskable:
        logger.warning("Reconciliation skips task %s: %s", task.topview_task_id, task.poll_error)
    return PollClaim(tasks=claimed, unaskable=len(unaskable))


def task_poll_record(*, task_id: int, error: str) -> None:
    """What the last query gave: an error to show, or none (it was answered)."""
    Task.objects.filter(pk=task_id).update(poll_error=error[:2000])


def _notification_record(task: Task) -> None:
    notification, created = Notification.objects.get_or_create(
        task=task, status=task.status, defaults={"user_id": task.owner_id}
    )
    if created:
        broker.send_on_commit(send_notification, notification.pk)


def notification_sweep(*, older_than: timedelta, limit: int) -> int:
    """Hand on notifications never tried this long after they were recorded (message lost)."""
    ids = list(
        Notification.objects.filter(
            sent_at__isnull=True, send_attempts=0, created_at__lte=timezone.now() - older_than
        )
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    for notification_id in ids:
        broker.send(send_notification, notification_id)
    return len(ids)


def notification_send(*, notification_id: int) -> Notification:
    """Email the owner, at most once.

    The attempt is marked in its own transaction before the email is handed to the mail server:
    a worker that dies while sending leaves the mark, and the email is never sent a second time.
    An error from the mail server clears the mark and raises, so the task retries.
    """
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update().select_related("task", "user")
            .get(pk=notification_id)
        )
        if notification.sent_at or notification.send_started_at:
            return notification
        if not notification.user.email:
            logger.warning("Cannot tell %s about %s: no email", notification.user, notification.task)
            return notification
        notification.send_started_at = timezone.now()
        notification.send_attempts += 1
        notification.save(update_fields=["send_started_at", "send_attempts"])
    task = notification.task
    verb = "is ready" if notification.status == TaskStatus.SUCCESS else "failed"
    lines = [f"Your Topview task {task.topview_task_id} {verb}."]
    if task.video_url:
        lines.append(f"Video: {task.video_url}")
    if task.error_message:
        lines.append(f"Error: {task.error_message}")
    try:
        send_mail(
            subject=f"Topview task {task.topview_task_id} {verb}",
            message="\n".join(lines),
            from_email=None,
            recipient_list=[notification.user.email],
        )
    except Exception as exc:
        notification.send_started_at = None
        notification.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        notification.save(update_fields=["send_started_at", "last_error"])
        raise
    notification.sent_at = timezone.now()
    notification.save(update_fields=["sent_at"])
    metrics.NOTIFICATIONS_SENT.labels(notification.status).inc()
    logger.info("Told %s that task %s %s", notification.user, task.topview_task_id, verb)
    return notification
