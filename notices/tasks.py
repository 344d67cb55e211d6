"""Celery tasks of the inbox: thin, each calls one service (imported late: services import us)."""

from celery import shared_task


@shared_task(name="notices.process_notice")
def process_notice(notice_id: int) -> None:
    from .services import notice_process

    notice_process(notice_id=notice_id)


@shared_task(name="notices.sweep")
def sweep() -> None:
    from .services import outbox_sweep

    outbox_sweep()


@shared_task(name="notices.alert_dead_notice")
def alert_dead_notice(notice_id: int) -> None:
    from .services import notice_alert_dead

    notice_alert_dead(notice_id=notice_id)
