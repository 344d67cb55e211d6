"""Writes of the inbox, one module per concern; import the functions from here."""

from .batches import notice_process_batch
from .outbox import notice_alert_dead, notice_replay, outbox_sweep
from .polling import notice_record_poll, reconcile
from .processing import notice_process, retry_delay
from .receiving import NoticeRefused, notice_receive
from .refusals import refusal_record
from .retention import notice_prune

__all__ = [
    "NoticeRefused",
    "refusal_record",
    "notice_alert_dead",
    "notice_process",
    "notice_process_batch",
    "notice_prune",
    "notice_receive",
    "notice_record_poll",
    "notice_replay",
    "outbox_sweep",
    "reconcile",
    "retry_delay",
]
