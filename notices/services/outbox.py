"""The database as outbox: the sweep hands on what the broker lost; replay; dead-notice alerts.

A hand-off through the broker is only a shortcut. What counts is the notice's state in the
database: whatever is still open when it is due is handed on again by the sweep, which Celery
beat runs every NOTICE_SWEEP_INTERVAL_SECONDS.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from tasks.alerts import alert_admins_once
from tasks.archive import MediaSweep, media_sweep
from tasks.services import notification_sweep
from topview_project import broker

from ..models import OPEN_STATES, Heartbeat, Notice, NoticeState
from ..parsing import NoticeFormat
from ..tasks import alert_dead_notice, process_notice, process_notices

logger = logging.getLogger(__name__)
_LONGEST_WAIT = timedelta(hours=1)
SWEEP_HEARTBEAT = "sweep"


@dataclass(frozen=True)
class Sweep:
    notices: int
    notifications: int
    alerts: int
    media_copies: int
    media_alerts: int


def outbox_sweep() -> Sweep:
    """Hand on every due notice, unsent notification, unalerted dead notice and media copy.

    Its heartbeat tells /readyz that beat and a worker are alive: both are needed for a sweep.
    """
    grace = timedelta(seconds=settings.NOTICE_SWEEP_GRACE_SECONDS)
    notices = _sweep_due_notices()
    notifications = notification_sweep(older_than=grace, limit=settings.NOTICE_SWEEP_BATCH)
    alerts = _sweep_dead_alerts()
    try:  # The media archive's trouble must never hold up the notices, nor the heartbeat.
        media = media_sweep(grace=grace, limit=settings.NOTICE_SWEEP_BATCH)
    except Exception:
        logger.exception("Sweep: the media archive's part failed; the next sweep tries again")
        media = MediaSweep(copies=0, alerts=0)
    Heartbeat.objects.update_or_create(name=SWEEP_HEARTBEAT, defaults={"at": timezone.now()})
    return Sweep(notices=notices, notifications=notifications, alerts=alerts,
                 media_copies=media.copies, media_alerts=media.alerts)


def _sweep_due_notices() -> int:
    """Due: pending or failed past its time, or processing past its worker's lease."""
    now = timezone.now()
    grace = timedelta(seconds=settings.NOTICE_SWEEP_GRACE_SECONDS)
    with transaction.atomic():
        due = list(
            Notice.objects.select_for_update(skip_locked=True)
            .filter(state__in=OPEN_STATES, next_attempt_at__lte=now)
            .order_by("next_attempt_at")
            .only("pk", "state", "received_at", "next_attempt_at")[: settings.NOTICE_SWEEP_BATCH]
        )
        states = [notice.state for notice in due]
        for notice in due:
            # Due again only if this hand-off is lost too, and the longer a notice has waited
            # the later: a backlog that takes an hour to drain holds a few copies of a notice,
            # not hundreds. A lapsed lease goes back to pending, for the next worker to claim.
            waited = now - notice.received_at
            notice.next_attempt_at = now + min(max(grace, waited / 2), _LONGEST_WAIT)
            if notice.state == NoticeState.PROCESSING:
                notice.state = NoticeState.PENDING
        Notice.objects.bulk_update(due, ["next_attempt_at", "state"])
    if due:
        logger.info("Sweep: handing on %s notices (%s)", len(due), _counted(states))
    ids = [notice.pk for notice in due]
    for start in range(0, len(ids), settings.BROKER_BATCH_MAX):  # A backlog goes in batches.
        broker.send(process_notices, ids[start:start + settings.BROKER_BATCH_MAX])
    return len(due)


def _counted(states) -> str:
    counts: dict[str, int] = {}
    for state in states:
        counts[state] = counts.get(state, 0) + 1
    return ", ".join(f"{count} {state}" for state, count in sorted(counts.items()))


def _sweep_dead_alerts() -> int:
    ids = list(
        Notice.objects.filter(state=NoticeState.DEAD, alerted_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)[: settings.NOTICE_SWEEP_BATCH]
    )
    for notice_id in ids:
        broker.send(alert_dead_notice, notice_id)
    return len(ids)


def notice_alert_dead(*, notice_id: int) -> Notice:
    """Tell the admins a notice is dead, once: marked before sending, never sent twice."""
    return alert_admins_once(
        queryset=Notice.objects.all(), pk=notice_id,
        wanted=lambda notice: notice.state == NoticeState.DEAD, compose=_dead_notice_alert,
    )


def _dead_notice_alert(notice: Notice) -> tuple[str, str]:
    link = settings.PUBLIC_BASE_URL + reverse("admin:notices_notice_change", args=[notice.pk])
    return (
        f"Notice {notice.pk} is dead (task {notice.topview_task_id or 'unknown'})",
        f"Notice {notice.pk} failed {notice.attempts} times and will not be tried again.\n"
        f"Last error: {notice.last_error}\n\n{link}\n\n"
        "Once the cause is fixed, replay it from the admin (action: Replay).",
    )


def notice_replay(*, notices: QuerySet[Notice]) -> int:
    """Process the given notices again, idempotently; duplicates and invalid ones are skipped.

    Attempts start again from zero, so a dead notice gets its full number of tries once the
    cause of its death is fixed.
    """
    now = timezone.now()
    with transaction.atomic():
        ids = list(
            notices.filter(is_duplicate=False)
            .exclude(format=NoticeFormat.INVALID)
            .select_for_update()
            .values_list("pk", flat=True)
        )
        Notice.objects.filter(pk__in=ids).update(
            state=NoticeState.PENDING,
            attempts=0,
            alerted_at=None,
            next_attempt_at=now + timedelta(seconds=settings.NOTICE_SWEEP_GRACE_SECONDS),
        )
        for notice_id in ids:
            broker.send_on_commit(process_notice, notice_id)
    return len(ids)
