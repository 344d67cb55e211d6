"""Retention: old notices go, in small batches, each task's latest notice stays."""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from ..models import Notice, NoticeState, Refusal, RefusalCount

logger = logging.getLogger(__name__)


def notice_prune(*, older_than: timedelta, batch: int = 1000) -> int:
    """Delete finished notices received before now - older_than; returns how many.

    Each batch is a transaction of its own, so no lock is held for long and a long prune can be
    stopped at any point. A task's latest notice is kept however old, so every task still shows
    where its status came from; open notices (pending, processing, failed) are never deleted.
    """
    cutoff = timezone.now() - older_than
    latest_of_task = Notice.objects.filter(task=OuterRef("task")).order_by("-received_at", "-id")
    prunable = Notice.objects.filter(
        Q(task__isnull=True) | ~Q(pk=Subquery(latest_of_task.values("pk")[:1])),
        received_at__lt=cutoff,
        state__in=[NoticeState.DONE, NoticeState.DEAD],
    )
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(prunable.values_list("pk", flat=True)[:batch])
            if not ids:
                break
            deleted += Notice.objects.filter(pk__in=ids).delete()[0]
    refusals = Refusal.objects.filter(received_at__lt=cutoff).delete()[0]
    RefusalCount.objects.filter(minute__lt=cutoff).delete()
    logger.info("Pruned %s notices and %s refusals received before %s", deleted, refusals, cutoff)
    return deleted
