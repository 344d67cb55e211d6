"""Reconciliation: asking Topview about tasks whose callback never came (or was refused).

Celery beat runs `reconcile` every RECONCILE_INTERVAL_SECONDS. It takes the open tasks that are
due (`tasks.services.task_poll_claim`: backoff per task, a cap per minute), asks Topview's query
endpoint about each, and records every answer as a notice of source `poll`, shaped like
Topview's callback, which the workers process like any other. Its raw body is the answer's
JSON, so the audit trail shows where each status came from. An answer that changes nothing is
recorded too: it shows we asked. The backoff keeps that to a handful of rows per stuck task
(10 min, 20, 40... then every RECONCILE_BACKOFF_MAX_SECONDS), and pruning removes them with the rest.
"""

import json
import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tasks import reconciliation
from tasks.models import Task
from tasks.services import task_poll_claim, task_poll_record
from tasks.status import normalise_status
from tasks.topview_client import TaskKind, TopviewClient, TopviewError, is_configured
from topview_project import broker
from topview_project.logcontext import log_context

from ..models import Notice, NoticeSource, NoticeState
from ..parsing import NoticeFormat, parse_notice
from ..tasks import process_notice

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reconciliation:
    asked: int = 0
    failed: int = 0
    unaskable: int = 0


def reconcile() -> Reconciliation:
    """Ask Topview about the tasks due; nothing at all without API credentials."""
    if not is_configured():
        return Reconciliation()
    claim = task_poll_claim(
        now=timezone.now(), per_minute=settings.RECONCILE_MAX_QUERIES_PER_MINUTE
    )
    # No retries inside a run: the task's backoff is the retry, and a run must not stall on one.
    client = TopviewClient.from_settings(retries=0)
    failed = 0
    for task, kind in claim.tasks:
        with log_context(task_id=task.topview_task_id):
            failed += not _ask(client, task, kind)
    outcome = Reconciliation(asked=len(claim.tasks), failed=failed, unaskable=claim.unaskable)
    if claim.tasks or claim.unaskable:
        logger.info("Reconciliation: %s", outcome)
    return outcome


def _ask(client: TopviewClient, task: Task, kind: TaskKind) -> bool:
    """Ask about one task and record the answer; False when Topview could not answer."""
    try:
        answer = client.query(kind, task.topview_task_id)
    except TopviewError as exc:
        logger.warning("Reconciliation could not ask about task %s: %s", task.topview_task_id, exc)
        task_poll_record(task_id=task.pk, error=str(exc))
        return False
    task_poll_record(task_id=task.pk, error="")
    notice_record_poll(topview_task_id=task.topview_task_id, biz_type=task.biz_type, answer=answer)
    return True


def notice_record_poll(*, topview_task_id: str, biz_type: str, answer: dict) -> Notice:
    """Store Topview's answer as a poll notice and hand it to the workers once committed."""
    raw = json.dumps(answer).encode()
    body = reconciliation.callback_body(
        topview_task_id=topview_task_id, biz_type=biz_type, answer=answer
    )
    parsed = parse_notice(json.dumps(body).encode(), max_depth=settings.NOTICE_MAX_JSON_DEPTH)
    now = timezone.now()
    notice = Notice(
        source=NoticeSource.POLL,
        received_at=now,
        headers={},
        raw_body=raw,
        body_size=len(raw),
        payload=parsed.payload,
        # Topview's own answer, not a delivery in our simple format.
        format=parsed.format if parsed.format == NoticeFormat.INVALID else NoticeFormat.TOPVIEW,
        error=parsed.error[:255],
        topview_task_id=parsed.task_id or topview_task_id,
        biz_type=parsed.biz_type,
        status=parsed.status,
        task_status=normalise_status(parsed.status),
        warnings=parsed.warnings,
    )
    if parsed.format == NoticeFormat.INVALID:
        notice.state, notice.processed_at = NoticeState.DONE, now
    else:
        notice.next_attempt_at = now + timedelta(seconds=settings.NOTICE_SWEEP_GRACE_SECONDS)
    with transaction.atomic():
        notice.save(force_insert=True)
        if notice.state == NoticeState.PENDING:
            broker.send_on_commit(process_notice, notice.pk)
    return notice
