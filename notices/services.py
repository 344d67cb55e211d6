"""Writes of the inbox: storing a delivery, processing a stored notice, replaying notices.

Storing is the hot path: one INSERT (a second one only for a duplicate uuid), then the answer.
Everything else happens in `notice_process`, which a worker runs after the INSERT commits.
"""

import logging
from collections.abc import Iterable, Mapping
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from tasks.services import task_apply_status
from tasks.status import normalise_status

from .models import Notice, NoticeState
from .parsing import NoticeFormat, ParsedNotice, parse_notice
from .tasks import process_notice

logger = logging.getLogger(__name__)

_LOGGED_PAYLOAD_CHARS = 500


class NoticeRetryLater(Exception):
    """Processing failed and will be tried again in `seconds`."""

    def __init__(self, message: str, *, seconds: int):
        super().__init__(message)
        self.seconds = seconds


def notice_receive(
    *,
    raw: bytes,
    body_size: int,
    headers: Mapping[str, str],
    remote_addr: str | None,
    is_test: bool = False,
) -> Notice:
    """Store one delivery, whatever it holds, and hand it to the workers once committed.

    `raw` is the whole body, or only its first bytes when `body_size` is over the limit.
    A test notice is not handed on: its caller processes it at once, to answer with the result.
    """
    parsed = _judge(raw=raw, body_size=body_size, topview_uid=headers.get("Topview-Uid", ""))
    notice = Notice(
        remote_addr=remote_addr,
        headers=dict(headers),
        raw_body=raw,
        body_size=body_size,
        payload=parsed.payload,
        format=parsed.format,
        error=parsed.error[:255],
        notice_uuid=parsed.notice_uuid,
        topview_task_id=parsed.task_id,
        biz_type=parsed.biz_type,
        status=parsed.status,
        task_status=normalise_status(parsed.status),
        warnings=parsed.warnings,
        is_test=is_test,
    )
    if parsed.format == NoticeFormat.INVALID:
        # Nothing to process: the stored bytes are the whole of what can be done with it.
        notice.state = NoticeState.DONE
        notice.processed_at = notice.received_at
    _insert_once(notice)
    _log_received(notice)
    if notice.state == NoticeState.PENDING and not is_test:
        transaction.on_commit(lambda: _hand_to_worker(notice.pk))
    return notice


def _judge(*, raw: bytes, body_size: int, topview_uid: str) -> ParsedNotice:
    limit = settings.NOTICE_MAX_BODY_BYTES
    if body_size > limit:
        return ParsedNotice.invalid(f"body of {body_size} bytes is over the limit of {limit}")
    try:
        return parse_notice(raw, topview_uid=topview_uid, max_depth=settings.NOTICE_MAX_JSON_DEPTH)
    except Exception:  # The parser is total; this keeps a bug in it from losing the notice.
        logger.exception("Notice body could not be parsed; stored as invalid")
        return ParsedNotice.invalid("body could not be parsed")


def _insert_once(notice: Notice) -> None:
    """INSERT; a uuid already delivered makes the row a duplicate, decided by the unique index."""
    try:
        with transaction.atomic():
            notice.save(force_insert=True)
        return
    except IntegrityError:
        if not notice.notice_uuid or not Notice.objects.filter(
            notice_uuid=notice.notice_uuid, is_duplicate=False
        ).exists():
            raise
    notice.pk = None
    notice.is_duplicate = True
    notice.state = NoticeState.DONE
    notice.processed_at = notice.received_at
    notice.save(force_insert=True)


def _log_received(notice: Notice) -> None:
    shown = repr(notice.payload) if notice.payload is not None else repr(bytes(notice.raw_body))
    if len(shown) > _LOGGED_PAYLOAD_CHARS:
        shown = shown[:_LOGGED_PAYLOAD_CHARS] + "..."
    logger.info("Received Topview notice: %s (notice %s)", shown, notice.pk)
    if notice.format == NoticeFormat.INVALID:
        logger.warning("Notice %s is invalid: %s", notice.pk, notice.error)
        return
    for warning in notice.warnings:
        logger.warning("Notice %s: %s", notice.pk, warning)
    logger.info(
        "Topview task %s status: %s (notice %s%s)",
        notice.topview_task_id or "unknown",
        notice.status or "unknown",
        notice.pk,
        ", duplicate" if notice.is_duplicate else "",
    )


def _hand_to_worker(notice_id: int) -> None:
    try:
        process_notice.delay(notice_id)
    except Exception:
        # The notice is committed and stays pending: a broker outage delays it, never loses it.
        logger.exception("Notice %s could not be handed to the workers; it stays pending", notice_id)


def notice_process(*, notice_id: int) -> Notice:
    """Apply a stored notice to its task, once: running it again for a done notice does nothing."""
    notice = _claim(notice_id)
    if notice.state != NoticeState.PROCESSING:
        return notice
    try:
        with transaction.atomic():
            notice = Notice.objects.select_for_update().get(pk=notice_id)
            if notice.state != NoticeState.PROCESSING:
                return notice  # Another worker finished it while we waited for the lock.
            _apply(notice)
            notice.state = NoticeState.DONE
            notice.processed_at = timezone.now()
            notice.next_attempt_at = None
            notice.save(
                update_fields=["task", "is_late", "state", "processed_at", "next_attempt_at"]
            )
            return notice
    except Exception as exc:
        _record_failure(notice_id, exc)
        raise


def _claim(notice_id: int) -> Notice:
    """Count the attempt in its own transaction, so a worker that dies still leaves it counted."""
    with transaction.atomic():
        notice = Notice.objects.select_for_update().get(pk=notice_id)
        if notice.state in (NoticeState.DONE, NoticeState.DEAD):
            return notice
        if notice.attempts >= settings.NOTICE_MAX_ATTEMPTS:
            notice.state = NoticeState.DEAD
            notice.last_error = notice.last_error or "gave up: every attempt ended its worker"
        else:
            notice.attempts += 1
            notice.state = NoticeState.PROCESSING
        notice.save(update_fields=["attempts", "state", "last_error"])
        return notice


def _apply(notice: Notice) -> None:
    if not notice.topview_task_id:
        return  # A partial body: kept for the record, there is no task to follow.
    payload = notice.payload or {}
    error_message = payload.get("errorMsg") or payload.get("message") or ""
    task, step = task_apply_status(
        topview_task_id=notice.topview_task_id,
        biz_type=notice.biz_type,
        status=normalise_status(notice.status),
        error_message=error_message if isinstance(error_message, str) else "",
        result=payload.get("result"),
        notify_owner=not notice.is_test,
    )
    notice.task = task
    notice.is_late = step.late
    if step.late:
        logger.info(
            "Notice %s is late: task %s is already %s", notice.pk, task.topview_task_id, task.status
        )


def _record_failure(notice_id: int, exc: Exception) -> None:
    with transaction.atomic():
        notice = Notice.objects.select_for_update().get(pk=notice_id)
        notice.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if notice.attempts >= settings.NOTICE_MAX_ATTEMPTS:
            notice.state = NoticeState.DEAD
            notice.next_attempt_at = None
            logger.error("Notice %s is dead after %s attempts", notice_id, notice.attempts)
        else:
            notice.state = NoticeState.FAILED
            notice.next_attempt_at = timezone.now() + timedelta(seconds=retry_delay(notice.attempts))
        notice.save(update_fields=["last_error", "state", "next_attempt_at"])
    if notice.state == NoticeState.FAILED:
        raise NoticeRetryLater(notice.last_error, seconds=retry_delay(notice.attempts)) from exc


def retry_delay(attempts: int) -> int:
    """Seconds before the next attempt: doubling from the base, capped."""
    base = settings.NOTICE_RETRY_BASE_SECONDS
    return min(base * 2 ** max(attempts - 1, 0), settings.NOTICE_RETRY_MAX_SECONDS)


def notice_replay(*, notice_ids: Iterable[int]) -> int:
    """Process the given notices again (idempotently); duplicates and invalid ones are skipped."""
    replayable = Notice.objects.filter(pk__in=list(notice_ids), is_duplicate=False).exclude(
        format=NoticeFormat.INVALID
    )
    with transaction.atomic():
        ids = list(replayable.select_for_update().values_list("pk", flat=True))
        Notice.objects.filter(pk__in=ids).update(
            state=NoticeState.PENDING, attempts=0, next_attempt_at=None
        )
        for notice_id in ids:
            transaction.on_commit(lambda notice_id=notice_id: _hand_to_worker(notice_id))
    return len(ids)
