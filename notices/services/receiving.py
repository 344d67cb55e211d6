"""Storing a delivery: the hot path, one INSERT (a second only for a duplicate uuid), then answer.

Everything else happens in `processing.notice_process`, which a worker runs after the commit.
"""

import logging
import reprlib
from contextlib import nullcontext
from collections.abc import Mapping
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from tasks.status import normalise_status
from topview_project import broker, prepared_insert
from topview_project.logcontext import log_context

from ..access import topview_uid_refusal
from ..models import Notice, NoticeState
from ..parsing import NoticeFormat, ParsedNotice, parse_notice
from ..tasks import process_notices

logger = logging.getLogger(__name__)

# The log shows a notice in brief: a 1 MiB body is never rendered whole on the hot path.
_LOGGED_BODY_BYTES = 1000
_short_repr = reprlib.Repr()
_short_repr.maxlevel, _short_repr.maxdict, _short_repr.maxlist = 4, 12, 6
_short_repr.maxstring, _short_repr.maxother = 120, 60


class NoticeRefused(Exception):
    """The delivery is not ours to store as a notice (it is recorded as a refusal instead)."""


def notice_receive(
    *,
    raw: bytes,
    body_size: int,
    headers: Mapping[str, str],
    remote_addr: str | None,
    is_test: bool = False,
    incomplete: bool = False,
) -> Notice:
    """Store one delivery, whatever it holds, and hand it to the workers once committed.

    `raw` is the whole body, or only its first bytes when `body_size` is over the limit, or what
    came before the sender was cut off (`incomplete`).
    A test notice is not handed on: its caller processes it at once, to answer with the result.
    Raises NoticeRefused for a Topview callback that names another Topview account.
    """
    sent_uid = headers.get("Topview-Uid")
    parsed = _judge(raw=raw, body_size=body_size, topview_uid=sent_uid or "", incomplete=incomplete)
    refusal = topview_uid_refusal(
        sent=sent_uid, expected=settings.TOPVIEW_UID, is_topview=parsed.format == NoticeFormat.TOPVIEW
    )
    if refusal:
        raise NoticeRefused(refusal)
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
    else:
        # Should the hand-off below never reach a worker, the sweep takes it from here.
        notice.next_attempt_at = notice.received_at + timedelta(
            seconds=settings.NOTICE_SWEEP_GRACE_SECONDS
        )
    _insert_once(notice)
    with log_context(notice_id=notice.pk, task_id=notice.topview_task_id):
        _log_received(notice)
        if notice.state == NoticeState.PENDING and not is_test:
            broker.send_batched_on_commit(process_notices, notice.pk)
    return notice


def _judge(*, raw: bytes, body_size: int, topview_uid: str, incomplete: bool) -> ParsedNotice:
    limit = settings.NOTICE_MAX_BODY_BYTES
    if incomplete:
        seconds = settings.NOTICE_BODY_READ_SECONDS
        return ParsedNotice.invalid(
            f"body not received whole within {seconds} s ({len(raw)} bytes came)"
        )
    if body_size > limit:
        return ParsedNotice.invalid(f"body of {body_size} bytes is over the limit of {limit}")
    try:
        return parse_notice(raw, topview_uid=topview_uid, max_depth=settings.NOTICE_MAX_JSON_DEPTH)
    except Exception:  # The parser is total; this keeps a bug in it from losing the notice.
        logger.exception("Notice body could not be parsed; stored as invalid")
        return ParsedNotice.invalid("body could not be parsed")


def _insert_once(notice: Notice) -> None:
    """INSERT; a uuid already delivered makes the row a duplicate, decided by the unique index."""
    # Alone, the INSERT commits by itself (autocommit): no BEGIN and COMMIT round trips on the
    # hot path. Inside a caller's transaction, a savepoint keeps a duplicate from breaking it.
    try:
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            prepared_insert.insert(notice)
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
    notice.next_attempt_at = None
    prepared_insert.insert(notice)


def _log_received(notice: Notice) -> None:
    if notice.payload is None:
        shown = repr(bytes(notice.raw_body[:_LOGGED_BODY_BYTES]))
    elif len(notice.raw_body) <= _LOGGED_BODY_BYTES:
        shown = repr(notice.payload)  # As the original design logs it, keys in order.
    else:
        shown = _short_repr.repr(notice.payload)
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
