"""Broadcasting changes to open pages, from whichever process made them (a worker, mostly).

Best effort: a page that misses a message shows it on its next load, so the channel layer may
never fail or slow down the work that changed the row. A broadcast is sent only once the change
is committed; a failure is logged once per outage, and for LIVE_RETRY_AFTER_SECONDS after one the
process sends nothing (a layer that hangs would otherwise cost every message its timeout).
"""

import asyncio
import logging
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import transaction

from notices.models import Notice
from tasks.models import Task
from topview_project.outage import Outage

from .groups import STAFF_NOTICES, owner_tasks
from .messages import notice_message, task_message

logger = logging.getLogger(__name__)

# The message type the consumers handle (`live_update`).
UPDATE = "live.update"


def notices_broadcast_on_commit(*, notices: Sequence[Notice]) -> None:
    """Show the notices, as they are now, on the staff pages once the transaction commits: one
    message for a worker's whole batch (each socket gets them one by one)."""
    messages = [notice_message(notice) for notice in notices]
    if messages:
        transaction.on_commit(lambda: broadcast(group=STAFF_NOTICES, data=messages))


def task_broadcast_on_commit(*, task: Task) -> None:
    """Tell the task's owner (if any) its status once the transaction commits."""
    if task.owner_id is None:
        return
    group, message = owner_tasks(task.owner_id), task_message(task)
    transaction.on_commit(lambda: broadcast(group=group, data=message))


def _layer_outage() -> Outage:
    return Outage(logger=logger, level=logging.WARNING,
                  down="Channel layer unreachable: live pages miss updates",
                  up="Channel layer reachable again after %.0f s")


_health = _layer_outage()


class _SenderLoop:
    """An event loop of this process's own, in a thread, for the Redis layer's broadcasts.

    async_to_sync would run each broadcast on a new event loop, so on a new Redis connection:
    1.8 ms a broadcast against 0.35 ms on this loop, which keeps its connection (measured here).
    A forked child (Celery's prefork pool) starts a loop of its own: the thread is not forked.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pid = 0

    def run(self, coroutine, timeout: float) -> None:
        with self.lock:
            if self.loop is None or self.pid != os.getpid():
                self.loop, self.pid = asyncio.new_event_loop(), os.getpid()
                thread = threading.Thread(target=self.loop.run_forever, name="live-broadcast")
                thread.daemon = True
                thread.start()
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            future.result(timeout)
        finally:
            future.cancel()


_sender_loop = _SenderLoop()


def broadcast(*, group: str, data: dict[str, Any] | list[dict[str, Any]]) -> bool:
    """Send `data` (one message, or a list sent one by one) to the group's sockets; False when
    it was not sent (never raises)."""
    now = time.monotonic()
    if _health.resting(now):
        return False
    message = {"type": UPDATE, "data": data}
    timeout = settings.LIVE_BROADCAST_TIMEOUT_SECONDS
    try:
        layer = get_channel_layer()
        if isinstance(layer, InMemoryChannelLayer):
            # Its sockets live on this process's server loop, which async_to_sync reaches.
            async_to_sync(layer.group_send)(group, message)
        else:
            _sender_loop.run(layer.group_send(group, message), timeout)
    except Exception:
        _health.failed(now, retry_after=settings.LIVE_RETRY_AFTER_SECONDS)
        return False
    _health.worked(now)
    return True
