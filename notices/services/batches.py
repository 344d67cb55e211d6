"""Processing the batches the web processes send (`broker.send_batched_on_commit`).

A notice alone costs about a dozen statements (claim, lock, task, notice, two commits). A batch
is claimed by one UPDATE and applied in one transaction: a few statements whatever its size,
which is what lets one worker keep up with the web under load (`make bench`). Each notice still
has its own attempt count and lease, so a batch changes nothing of what can go wrong:
- notices whose final status is asked of Topview over HTTP are processed one at a time, never
  inside the batch's transaction, and handed on in a new message when the batch runs long;
- when the batch's transaction fails, each of its notices is tried alone, so one bad notice
  fails by itself and is retried by itself.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from tasks.topview_client import is_configured
from topview_project import broker
from topview_project.logcontext import log_context

from ..models import Notice, NoticeState
from ..tasks import process_notices
from .processing import apply_claimed, asks_topview, notice_attempt, notice_process, observe

logger = logging.getLogger(__name__)


def notice_process_batch(*, notice_ids: list[int], within_seconds: float) -> int:
    """Process the notices; those still to do after `within_seconds` go on in a new message.

    Returns how many were processed here.
    """
    started = time.monotonic()
    alone = _asking_topview(notice_ids)
    asking = set(alone)
    alone += _process_together([pk for pk in notice_ids if pk not in asking])
    for done, notice_id in enumerate(alone):
        if time.monotonic() - started > within_seconds:
            broker.send(process_notices, alone[done:])
            return len(notice_ids) - len(alone) + done
        notice_process(notice_id=notice_id)
    return len(notice_ids)


def _asking_topview(notice_ids: list[int]) -> list[int]:
    """The notices to be confirmed by Topview over HTTP first: never held in a transaction."""
    if not is_configured():
        return []  # Nobody to ask: no query either.
    fields = ("is_test", "topview_task_id", "task_status", "source")
    return [
        notice.pk
        for notice in Notice.objects.filter(pk__in=notice_ids).only(*fields).order_by("pk")
        if asks_topview(notice)
    ]


def _process_together(notice_ids: list[int]) -> list[int]:
    """Claim the notices and apply them in one transaction; returns those not claimed.

    Those are done, or held by another worker, or at their last attempt: `notice_process`
    decides each alone (at once, for the first two).
    """
    if not notice_ids:
        return []
    started = time.perf_counter()
    claimed = _claim(notice_ids)
    try:
        with transaction.atomic():
            notices = list(claimed.select_for_update().order_by("received_at", "pk"))
            end_to_end = apply_claimed(notices, verdicts={})
    except Exception:
        logger.exception("A batch of %s notices failed; each is tried alone", len(notice_ids))
        notices = list(claimed.order_by("received_at", "pk"))
        for notice in notices:
            with log_context(notice_id=notice.pk, task_id=notice.topview_task_id):
                notice_attempt(notice)
    else:
        if notices:
            observe(notices, seconds=time.perf_counter() - started, end_to_end=end_to_end)
    mine = {notice.pk for notice in notices}
    return [pk for pk in notice_ids if pk not in mine]


def _claim(notice_ids: list[int]):
    """Count an attempt and take a lease on each notice free to take, by one UPDATE committed
    at once; the lease's end tells ours apart (a worker that claims one after our lease has
    lapsed gives it another end, and this batch then leaves it alone)."""
    now = timezone.now()
    lease_end = now + timedelta(seconds=settings.NOTICE_PROCESSING_LEASE_SECONDS)
    free = Q(state__in=[NoticeState.PENDING, NoticeState.FAILED]) | Q(
        state=NoticeState.PROCESSING, next_attempt_at__lte=now
    )
    Notice.objects.filter(free, pk__in=notice_ids, attempts__lt=settings.NOTICE_MAX_ATTEMPTS).update(
        state=NoticeState.PROCESSING, attempts=F("attempts") + 1, next_attempt_at=lease_end
    )
    return Notice.objects.filter(
        pk__in=notice_ids, state=NoticeState.PROCESSING, next_attempt_at=lease_end
    )
