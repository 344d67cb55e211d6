"""Writes of the task lifecycle: moving a task by a notice's status, and telling its owner."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from live.services import task_broadcast_on_commit
from topview_project import broker, metrics
from topview_project.bulk import bulk_update

from . import reconciliation
from .archive import media_copies_record
from .lifecycle import Transition, transition
from .models import OPEN_STATUSES, Notification, Task
from .results import extract_result_fields, load_result
from .status import TERMINAL, TaskStatus
from .tasks import send_notification
from .topview_client import TaskKind

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StatusChange:
    """What one notice says of one task."""

    topview_task_id: str
    biz_type: str
    status: TaskStatus
    error_message: str
    result: Any
    notify_owner: bool
    archive_media: bool = True  # a success has its result files archived once committed


class TaskBatch:
    """The tasks of a batch of status changes, locked until the caller's transaction commits.

    `apply` each change in the order its notices came, then `save` once: whatever the batch's
    size, a few statements (one SELECT, one INSERT of the tasks not seen before, one UPDATE of
    those that moved). The notices of one task are thus applied one at a time, whatever the
    number of workers. Tasks are locked in id order and inserted in taskId order, so batches
    mostly wait for each other; the rare deadlock left (three batches racing on new tasks) is
    PostgreSQL's to detect, and the batch's notices are then tried one at a time.
    """

    def __init__(self, *, biz_types: Mapping[str, str]) -> None:
        """`biz_types`: the bizType by taskId, for tasks not seen before. Call in a transaction."""
        locked = Task.objects.select_for_update().filter(topview_task_id__in=biz_types)
        locked = locked.order_by("pk")
        self.tasks = {task.topview_task_id: task for task in locked}
        missing = sorted(set(biz_types) - set(self.tasks))
        if missing:
            # ON CONFLICT DO NOTHING: a task another worker inserts meanwhile is waited for.
            Task.objects.bulk_create(
                [Task(topview_task_id=task_id, biz_type=biz_types[task_id]) for task_id in missing],
                ignore_conflicts=True,
            )
            self.tasks = {task.topview_task_id: task for task in locked.all()}
        self.moved: dict[int, Task] = {}
        self.finished: list[Task] = []
        self.succeeded: list[Task] = []
        self.now = timezone.now()

    def status_of(self, topview_task_id: str) -> TaskStatus:
        return TaskStatus(self.tasks[topview_task_id].status)

    def apply(self, change: StatusChange) -> tuple[Task, Transition]:
        task = self.tasks[change.topview_task_id]
        step = transition(current=TaskStatus(task.status), incoming=change.status)
        if step.changed:
            _move(task, change, step, self.now)
            self.moved[task.pk] = task
        if step.finished and change.notify_owner and task.owner_id:
            self.finished.append(task)
        if step.changed and step.status == TaskStatus.SUCCESS and change.archive_media:
            self.succeeded.append(task)
        return task, step

    def save(self) -> None:
        if self.moved:
            bulk_update(list(self.moved.values()), _MOVED_FIELDS)
        for task in self.moved.values():
            task_broadcast_on_commit(task=task)  # Live: the owner's sockets, after commit.
        for task in self.finished:
            notification_record(task)
        if self.succeeded:
            media_copies_record(tasks=self.succeeded)


def task_apply_status(**change: Any) -> tuple[Task, Transition]:
    """Move one task (created if new) by one notice's status (`StatusChange`'s fields as
    keywords); call inside a transaction."""
    change = StatusChange(**change)
    batch = TaskBatch(biz_types={change.topview_task_id: change.biz_type})
    applied = batch.apply(change)
    batch.save()
    return applied


_MOVED_FIELDS = [
    "status", "status_changed_at", "biz_type", "error_message", "result", "video_url",
    "cover_url", "duration_ms", "cost_credits", "updated_at", "next_poll_at", "poll_attempts",
]


def task_status_set(task: Task, status: TaskStatus, now) -> None:
    """Give the task its new status (the caller saves it). A changed status starts
    reconciliation's clock again; a finished task is never asked."""
    task.status = status
    task.status_changed_at = task.updated_at = now
    task.next_poll_at = (
        None if status in TERMINAL else now + timedelta(seconds=settings.RECONCILE_AFTER_SECONDS)
    )
    task.poll_attempts = 0


def _move(task: Task, change: StatusChange, step: Transition, now) -> None:
    task_status_set(task, step.status, now)
    task.biz_type = task.biz_type or change.biz_type
    if step.status == TaskStatus.FAILED:
        task.error_message = change.error_message
    loaded = load_result(change.result)
    if loaded is not None:
        fields = extract_result_fields(loaded)
        task.result = loaded
        task.video_url = fields.video_url
        task.cover_url = fields.cover_url
        task.duration_ms = fields.duration_ms
        task.cost_credits = fields.cost_credits


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


def notification_record(task: Task) -> None:
    """Record that the task's owner is to be told of its final status, once; email on commit."""
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
