"""Processing a stored notice: applying it to its task once, whatever happens to the worker.

A notice is claimed in a transaction of its own (state processing, one more attempt, a lease),
so the attempt is counted even if the worker dies in the middle of it. The work itself runs in a
second transaction that locks the notice and its task. A failure is recorded with the time of the
next attempt, which the sweep honours; after NOTICE_MAX_ATTEMPTS the notice is dead.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from live.services import notices_broadcast_on_commit
from tasks.lifecycle import Transition
from tasks.models import Task
from tasks.services import StatusChange, TaskBatch
from tasks.status import TERMINAL, TaskStatus
from tasks.topview_client import is_configured
from tasks.verification import Verdict, Verification, verify_status
from topview_project import broker, metrics
from topview_project.backoff import doubling
from topview_project.bulk import bulk_update
from topview_project.logcontext import log_context

from ..models import Notice, NoticeSource, NoticeState
from ..tasks import alert_dead_notice

logger = logging.getLogger(__name__)


def notice_process(*, notice_id: int) -> Notice:
    """Apply a stored notice to its task; for a notice already done or dead, nothing changes.

    Lines logged meanwhile carry the notice's id and taskId.
    """
    with log_context(notice_id=notice_id):
        notice, claimed = _claim(notice_id)
        if not claimed:
            return notice
        with log_context(task_id=notice.topview_task_id):
            return notice_attempt(notice)


def notice_attempt(notice: Notice) -> Notice:
    """One claimed attempt, timed; a notice done for the first time gives its end-to-end time."""
    started = time.perf_counter()
    end_to_end = []
    try:
        verdict = _verify(notice)  # Asks Topview over HTTP: outside any transaction or lock.
        with transaction.atomic():
            notice = Notice.objects.select_for_update().get(pk=notice.pk)
            if notice.state != NoticeState.PROCESSING:
                return notice  # Another worker finished it while we waited for the lock.
            end_to_end = apply_claimed([notice], verdicts={notice.pk: verdict} if verdict else {})
    except Exception as exc:
        logger.exception("Notice %s failed (attempt %s)", notice.pk, notice.attempts)
        notice = _record_failure(notice.pk, exc)
    observe([notice], seconds=time.perf_counter() - started, end_to_end=end_to_end)
    return notice


def observe(notices: list[Notice], *, seconds: float, end_to_end: list[float]) -> None:
    """Metrics of notices processed together in `seconds` (each counted with its share)."""
    for notice in notices:
        metrics.PROCESS_SECONDS.labels(notice.state).observe(seconds / len(notices))
    for one in end_to_end:
        metrics.END_TO_END_SECONDS.observe(one)


def _claim(notice_id: int) -> tuple[Notice, bool]:
    """Count the attempt and take a lease, in a transaction of its own; False: not ours to do."""
    now = timezone.now()
    with transaction.atomic():
        notice = Notice.objects.select_for_update().get(pk=notice_id)
        if notice.state in (NoticeState.DONE, NoticeState.DEAD):
            return notice, False
        if notice.state == NoticeState.PROCESSING and notice.next_attempt_at > now:
            return notice, False  # Another worker holds its lease.
        if notice.attempts >= settings.NOTICE_MAX_ATTEMPTS:
            _mark_dead(notice, notice.last_error or "every attempt ended its worker")
        else:
            notice.attempts += 1
            notice.state = NoticeState.PROCESSING
            notice.next_attempt_at = now + timedelta(seconds=settings.NOTICE_PROCESSING_LEASE_SECONDS)
        notice.save(update_fields=["attempts", "state", "next_attempt_at", "last_error"])
        return notice, notice.state == NoticeState.PROCESSING


def asks_topview(notice: Notice) -> bool:
    """Whether the notice's status is asked of Topview (verify by fetching) before it is applied:
    one that would finish a task, when the API is configured."""
    return bool(
        is_configured() and not notice.is_test and notice.topview_task_id
        and notice.source != NoticeSource.POLL  # Topview's own answer: asking would repeat it.
        and TaskStatus(notice.task_status) in TERMINAL
    )


def _verify(notice: Notice) -> Verdict | None:
    """Topview's verdict on the notice; None when there is nothing to ask (see `apply_claimed`)."""
    if not asks_topview(notice):
        return None
    task = Task.objects.filter(topview_task_id=notice.topview_task_id)
    task = task.only("kind", "biz_type", "status").first()
    if task and task.status in TERMINAL:
        return None  # Already finished: the notice is late, nothing to ask.
    return verify_status(
        topview_task_id=notice.topview_task_id,
        # What we recorded (we submitted the task) before what the sender claims.
        kind=task.kind if task else "",
        biz_type=(task.biz_type if task else "") or notice.biz_type,
        claimed=TaskStatus(notice.task_status),
    )


def apply_claimed(notices: list[Notice], *, verdicts: dict[int, Verdict]) -> list[float]:
    """Apply claimed, locked notices to their tasks in the order given and mark them done; call
    inside a transaction. Returns the end-to-end seconds of those done for the first time.

    `verdicts` holds Topview's word on the notices it was asked about; the others are judged
    here, by their task's status when their turn comes (a batch may hold several of one task).
    """
    biz_types: dict[str, str] = {}
    for notice in notices:
        if notice.topview_task_id:
            biz_types.setdefault(notice.topview_task_id, notice.biz_type)
    tasks = TaskBatch(biz_types=biz_types)
    now = timezone.now()
    end_to_end = []
    for notice in notices:
        verdict = verdicts.get(notice.pk) or _trusted_verdict(
            notice, tasks.status_of(notice.topview_task_id) if notice.topview_task_id else None
        )
        change = _status_change(notice, verdict)
        if change is not None:
            _note_applied(notice, *tasks.apply(change))
        if notice.processed_at is None:
            notice.processed_at = now
            end_to_end.append((now - notice.received_at).total_seconds())
        notice.state = NoticeState.DONE
        notice.next_attempt_at = None
    tasks.save()
    notices_broadcast_on_commit(notices=notices)  # Live: staff pages show them (best effort).
    bulk_update(notices, [
        "task", "is_late", "verification", "verification_answer", "state", "processed_at",
        "next_attempt_at",
    ])
    return end_to_end


def _trusted_verdict(notice: Notice, task_status: TaskStatus | None) -> Verdict:
    """The verdict on a notice Topview is not asked about: its own word, unconfirmed where it
    finishes a task (no API credentials: every notice is trusted), confirmed where it is
    Topview's own answer to our query (a poll notice)."""
    claimed = TaskStatus(notice.task_status)
    result = (notice.payload or {}).get("result")
    if notice.is_test or task_status is None or task_status in TERMINAL or claimed not in TERMINAL:
        # Nothing to confirm: a test, no task, a task already finished (the notice is late), or
        # a status that finishes nothing.
        return Verdict(Verification.NOT_NEEDED, claimed, result=result)
    if notice.source == NoticeSource.POLL:
        return Verdict(Verification.CONFIRMED, claimed, result=result)  # Topview's own answer
    return Verdict(Verification.UNCONFIRMED, claimed, result=result)


def _status_change(notice: Notice, verdict: Verdict) -> StatusChange | None:
    """What the notice says of its task, as the verdict lets it; None for a notice without one."""
    notice.verification = verdict.verification
    notice.verification_answer = verdict.answer
    if verdict.verification == Verification.CONTRADICTED:
        logger.warning(
            "Notice %s claims %s; Topview says %s", notice.pk, notice.task_status, verdict.status
        )
    if not notice.topview_task_id:
        return None  # A partial body: kept for the record, there is no task to follow.
    payload = notice.payload or {}
    error_message = verdict.error_message or payload.get("errorMsg") or payload.get("message") or ""
    return StatusChange(
        topview_task_id=notice.topview_task_id,
        biz_type=notice.biz_type,
        status=verdict.status,
        error_message=error_message if isinstance(error_message, str) else "",
        result=verdict.result,
        notify_owner=not notice.is_test,
        archive_media=not notice.is_test,
    )


def _note_applied(notice: Notice, task: Task, step: Transition) -> None:
    notice.task = task
    if notice.processed_at is None:
        # Lateness is judged once, when the notice is first applied; a replay does not rewrite it.
        notice.is_late = step.late
    if step.late:
        logger.info(
            "Notice %s is late: task %s is already %s", notice.pk, task.topview_task_id, task.status
        )


def _record_failure(notice_id: int, exc: Exception) -> Notice:
    with transaction.atomic():
        notice = Notice.objects.select_for_update().get(pk=notice_id)
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if notice.attempts >= settings.NOTICE_MAX_ATTEMPTS:
            _mark_dead(notice, error)
        else:
            notice.state = NoticeState.FAILED
            notice.last_error = error
            notice.next_attempt_at = timezone.now() + timedelta(seconds=retry_delay(notice.attempts))
        notice.save(update_fields=["last_error", "state", "next_attempt_at"])
        notices_broadcast_on_commit(notices=[notice])
        return notice


def _mark_dead(notice: Notice, error: str) -> None:
    """Give up on the notice (the caller saves it) and alert the admins once it is committed."""
    notice.state = NoticeState.DEAD
    notice.last_error = error
    notice.next_attempt_at = None
    logger.error("Notice %s is dead after %s attempts: %s", notice.pk, notice.attempts, error)
    broker.send_on_commit(alert_dead_notice, notice.pk)


def retry_delay(attempts: int) -> int:
    """Seconds before the next attempt: doubling from the base, capped."""
    return doubling(attempts=attempts, base=settings.NOTICE_RETRY_BASE_SECONDS,
                    cap=settings.NOTICE_RETRY_MAX_SECONDS)
