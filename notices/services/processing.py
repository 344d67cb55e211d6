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

from tasks.models import Task
from tasks.services import task_apply_status
from tasks.status import TERMINAL, TaskStatus
from tasks.verification import Verdict, Verification, verify_status
from topview_project import broker, metrics
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
            return _attempt(notice)


def _attempt(notice: Notice) -> Notice:
    """One claimed attempt, timed; a notice done for the first time gives its end-to-end time."""
    started = time.perf_counter()
    end_to_end = None
    try:
        verdict = _verify(notice)  # Asks Topview over HTTP: outside any transaction or lock.
        with transaction.atomic():
            notice = Notice.objects.select_for_update().get(pk=notice.pk)
            if notice.state != NoticeState.PROCESSING:
                return notice  # Another worker finished it while we waited for the lock.
            _apply(notice, verdict)
            if notice.processed_at is None:
                notice.processed_at = timezone.now()
                end_to_end = (notice.processed_at - notice.received_at).total_seconds()
            notice.state = NoticeState.DONE
            notice.next_attempt_at = None
            notice.save(update_fields=[
                "task", "is_late", "verification", "verification_answer", "state",
                "processed_at", "next_attempt_at",
            ])
    except Exception as exc:
        logger.exception("Notice %s failed (attempt %s)", notice.pk, notice.attempts)
        notice, end_to_end = _record_failure(notice.pk, exc), None
    metrics.PROCESS_SECONDS.labels(notice.state).observe(time.perf_counter() - started)
    if end_to_end is not None:
        metrics.END_TO_END_SECONDS.observe(end_to_end)
    return notice


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


def _verify(notice: Notice) -> Verdict:
    claimed = TaskStatus(notice.task_status)
    result = (notice.payload or {}).get("result")
    task = Task.objects.filter(topview_task_id=notice.topview_task_id).only("biz_type", "status")
    task = task.first() if notice.topview_task_id else None
    if notice.source == NoticeSource.POLL:
        # Topview's own answer to our query: asking again would only repeat it.
        confirmed = Verification.CONFIRMED if claimed in TERMINAL else Verification.NOT_NEEDED
        return Verdict(confirmed, claimed, result=result)
    if notice.is_test or not notice.topview_task_id or (task and task.status in TERMINAL):
        # Nothing to ask: a test, no task, or a task already finished (the notice is late).
        return Verdict(Verification.NOT_NEEDED, claimed, result=result)
    return verify_status(
        topview_task_id=notice.topview_task_id,
        # The kind we recorded (we submitted the task) before the kind the sender claims.
        biz_type=(task.biz_type if task else "") or notice.biz_type,
        claimed=claimed,
        result=result,
    )


def _apply(notice: Notice, verdict: Verdict) -> None:
    notice.verification = verdict.verification
    notice.verification_answer = verdict.answer
    if verdict.verification == Verification.CONTRADICTED:
        logger.warning(
            "Notice %s claims %s; Topview says %s", notice.pk, notice.task_status, verdict.status
        )
    if not notice.topview_task_id:
        return  # A partial body: kept for the record, there is no task to follow.
    payload = notice.payload or {}
    error_message = verdict.error_message or payload.get("errorMsg") or payload.get("message") or ""
    task, step = task_apply_status(
        topview_task_id=notice.topview_task_id,
        biz_type=notice.biz_type,
        status=verdict.status,
        error_message=error_message if isinstance(error_message, str) else "",
        result=verdict.result,
        notify_owner=not notice.is_test,
        archive_media=not notice.is_test,
    )
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
    base = settings.NOTICE_RETRY_BASE_SECONDS
    return min(base * 2 ** max(attempts - 1, 0), settings.NOTICE_RETRY_MAX_SECONDS)
