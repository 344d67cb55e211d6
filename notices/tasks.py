"""Celery tasks of the inbox: thin, each calls one service (imported late: services import us)."""

from celery import shared_task
from django.conf import settings


# Inside its lease: a notice whose processing hangs (a slow Topview) fails and is retried,
# rather than being handed to a second worker while the first still holds it.
_LEASE = settings.NOTICE_PROCESSING_LEASE_SECONDS


@shared_task(name="notices.process_notice", soft_time_limit=_LEASE * 0.8, time_limit=_LEASE * 0.9)
def process_notice(notice_id: int) -> None:
    from .services import notice_process

    notice_process(notice_id=notice_id)


@shared_task(name="notices.process_notices", soft_time_limit=_LEASE * 0.8, time_limit=_LEASE * 0.9)
def process_notices(notice_ids: list[int]) -> None:
    """A batch from one web process (broker.send_batched_on_commit): one message, many notices."""
    from .services import notice_process_batch

    notice_process_batch(notice_ids=notice_ids, within_seconds=_LEASE * 0.4)


@shared_task(name="notices.sweep")
def sweep() -> None:
    from .services import outbox_sweep

    outbox_sweep()


@shared_task(name="notices.alert_dead_notice")
def alert_dead_notice(notice_id: int) -> None:
    from .services import notice_alert_dead

    notice_alert_dead(notice_id=notice_id)


@shared_task(name="notices.prune")
def prune() -> None:
    from datetime import timedelta

    from django.conf import settings

    from .services import notice_prune

    notice_prune(older_than=timedelta(days=settings.NOTICE_RETENTION_DAYS))


@shared_task(name="notices.reconcile")
def reconcile() -> None:
    from .services import reconcile

    reconcile()
