"""Handing work to the Celery workers without ever letting the broker fail a request.

Every hand-off is best effort: the work is already committed in the database, and the sweep
(`notices.services.outbox_sweep`) hands on whatever the broker never got. So when the broker is
down, a process logs it once, stops trying for BROKER_RETRY_AFTER_SECONDS, and answers at once.

Under load, one message per notice is most of what a request and a worker task cost (measured
in `make bench`), so notices are handed on in batches: `send_batched_on_commit` adds an id to this
process's batch, and a thread of the process publishes the batch as one message a few
milliseconds later. A process that dies with a batch unsent loses nothing: the sweep sends it.
"""

import atexit
import logging
import os
import threading
import time

from celery import Task
from django.conf import settings
from django.db import transaction

from .outage import Outage

logger = logging.getLogger(__name__)


def _broker_outage() -> Outage:
    return Outage(logger=logger, level=logging.ERROR,
                  down="Broker unreachable: work waits in the database for the sweep",
                  up="Broker reachable again after %.0f s")


_outage = _broker_outage()


def send_on_commit(task: Task, *args) -> None:
    """Send `task(*args)` once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: send(task, *args))


def send_batched_on_commit(task: Task, item) -> None:
    """Once the current transaction commits, add `item` to the batch that `task(items)` gets.

    In-process (eager) Celery runs the task at once with the one item, as `send_on_commit` does.
    """
    if task.app.conf.task_always_eager:
        send_on_commit(task, [item])
        return
    transaction.on_commit(lambda: _batcher(task).add(item))


class _Batcher:
    """One task's batch in this process, published by a thread of its own.

    An item after a quiet spell goes at once, alone. Under load the thread sends at most one
    message per BROKER_BATCH_WINDOW_MS, holding what arrived meanwhile (up to BROKER_BATCH_MAX
    items a message): a notice waits at most the window, and only when others came just before.
    """

    def __init__(self, task: Task) -> None:
        self.task, self.pid = task, os.getpid()
        self.items: list = []
        self.lock = threading.Lock()
        self.wake = threading.Event()
        threading.Thread(target=self._run, name=f"batch-{task.name}", daemon=True).start()

    def add(self, item) -> None:
        with self.lock:
            self.items.append(item)
        self.wake.set()

    def flush(self) -> None:
        with self.lock:
            items, self.items = self.items, []
        size = settings.BROKER_BATCH_MAX
        for start in range(0, len(items), size):
            send(self.task, items[start:start + size])

    def _run(self) -> None:
        sent_at = 0.0
        while True:
            self.wake.wait()
            pause = sent_at + settings.BROKER_BATCH_WINDOW_MS / 1000 - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            self.wake.clear()
            sent_at = time.monotonic()
            try:
                self.flush()
            except Exception:  # `send` catches the broker's errors; this keeps the thread alive.
                logger.exception("Batch of %s not sent: the sweep will send it", self.task.name)


_batchers: dict[str, _Batcher] = {}
_batchers_lock = threading.Lock()


def _batcher(task: Task) -> _Batcher:
    """This process's batcher for `task`; a forked child (a gunicorn worker) makes its own."""
    batcher = _batchers.get(task.name)
    if batcher is None or batcher.pid != os.getpid():
        with _batchers_lock:
            batcher = _batchers.get(task.name)
            if batcher is None or batcher.pid != os.getpid():
                batcher = _batchers[task.name] = _Batcher(task)
    return batcher


@atexit.register
def _flush_on_exit() -> None:
    """A worker stopped gracefully (a gunicorn restart) sends what it holds; else the sweep does."""
    for batcher in list(_batchers.values()):
        if batcher.pid == os.getpid():
            batcher.flush()


def send(task: Task, *args) -> bool:
    """Publish `task(*args)`; False when the broker is down (the sweep will send it later)."""
    now = time.monotonic()
    if _outage.resting(now):
        return False
    try:
        task.delay(*args)
    except Exception:
        _outage.failed(now, retry_after=settings.BROKER_RETRY_AFTER_SECONDS)
        return False
    _outage.worked(now)
    return True
