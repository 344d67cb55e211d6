"""Handing work to the Celery workers without ever letting the broker fail a request.

Every hand-off is best effort: the work is already committed in the database, and the sweep
(`notices.services.outbox_sweep`) hands on whatever the broker never got. So when the broker is
down, a process logs it once, stops trying for BROKER_RETRY_AFTER_SECONDS, and answers at once.
"""

import logging
import threading
import time

from celery import Task
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)


class _Outage:
    """This process's view of the broker: down since when, and when to try it again."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.down_since: float | None = None
        self.retry_at = 0.0


_outage = _Outage()


def send_on_commit(task: Task, *args) -> None:
    """Send `task(*args)` once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: send(task, *args))


def send(task: Task, *args) -> bool:
    """Publish `task(*args)`; False when the broker is down (the sweep will send it later)."""
    now = time.monotonic()
    if _outage.down_since is not None and now < _outage.retry_at:
        return False
    try:
        task.delay(*args)
    except Exception:
        with _outage.lock:
            if _outage.down_since is None:
                _outage.down_since = now
                logger.exception("Broker unreachable: work waits in the database for the sweep")
            _outage.retry_at = now + settings.BROKER_RETRY_AFTER_SECONDS
        return False
    if _outage.down_since is not None:
        with _outage.lock:
            if _outage.down_since is not None:
                logger.warning("Broker reachable again after %.0f s", now - _outage.down_since)
                _outage.down_since = None
    return True
