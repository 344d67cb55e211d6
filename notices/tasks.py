"""Celery tasks of the inbox: each loads a notice by id and calls a service."""

from celery import shared_task


@shared_task(bind=True, name="notices.process_notice", max_retries=None)
def process_notice(self, notice_id: int) -> None:
    from .services import NoticeRetryLater, notice_process

    try:
        notice_process(notice_id=notice_id)
    except NoticeRetryLater as later:
        raise self.retry(countdown=later.seconds, exc=later) from None
