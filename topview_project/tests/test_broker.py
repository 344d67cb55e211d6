"""A broker outage costs a web process one failed publish, one log line, and no waiting."""

import logging
import time

import pytest
from django.db import transaction

from topview_project import broker


class FlakyTask:
    def __init__(self):
        self.down = True
        self.published = []

    def delay(self, *args):
        if self.down:
            raise ConnectionRefusedError("broker down")
        self.published.append(args)


@pytest.fixture(autouse=True)
def fresh_outage(monkeypatch):
    monkeypatch.setattr(broker, "_outage", broker._broker_outage())


def test_an_outage_is_logged_once_and_not_retried_until_its_time(settings, caplog):
    settings.BROKER_RETRY_AFTER_SECONDS = 60
    task = FlakyTask()
    with caplog.at_level(logging.WARNING, logger="topview_project.broker"):
        assert [broker.send(task, n) for n in range(50)] == [False] * 50
    assert len(caplog.records) == 1 and "Broker unreachable" in caplog.text
    task.down = False
    assert broker.send(task, 99) is False  # Still inside the retry interval: not even tried.
    assert task.published == []


def test_the_broker_is_tried_again_after_the_interval_and_its_return_logged(settings, caplog, monkeypatch):
    settings.BROKER_RETRY_AFTER_SECONDS = 5
    task = FlakyTask()
    broker.send(task, 1)
    task.down = False
    later = time.monotonic() + 6
    monkeypatch.setattr(broker.time, "monotonic", lambda: later)
    with caplog.at_level(logging.WARNING, logger="topview_project.broker"):
        assert broker.send(task, 2) is True
    assert task.published == [(2,)] and "reachable again" in caplog.text


def test_a_real_unreachable_redis_fails_fast():
    """Publishing to a Redis port nobody listens on, with the project's Celery settings."""
    from celery import Celery
    from django.conf import settings

    app = Celery("probe", broker="redis://127.0.0.1:9/0")
    app.conf.update(
        task_publish_retry=settings.CELERY_TASK_PUBLISH_RETRY,
        broker_connection_timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT,
        broker_transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
    )
    probe = app.task(name="probe")(lambda: None)
    started = time.monotonic()
    assert broker.send(probe) is False
    assert time.monotonic() - started < 3  # Without those settings: 6 s of retries.


class RecordingTask:
    """A task for `send_batched_on_commit`: records each message's items."""

    def __init__(self, name, *, eager=False):
        self.name, self.messages = name, []
        self.app = type("App", (), {"conf": type("Conf", (), {"task_always_eager": eager})()})()

    def delay(self, items):
        self.messages.append(list(items))


def test_a_quiet_process_sends_at_once_a_busy_one_once_per_window(
    settings, wait_until, transactional_db
):
    settings.BROKER_BATCH_WINDOW_MS, settings.BROKER_BATCH_MAX = 300, 100
    task = RecordingTask("batch-window")
    broker.send_batched_on_commit(task, 0)
    wait_until(lambda: task.messages, timeout=5, interval=0.01)
    sent_first = time.monotonic()  # At once: no window to wait for.
    for n in range(1, 5):
        broker.send_batched_on_commit(task, n)
    wait_until(lambda: len(task.messages) == 2, timeout=5, interval=0.01)
    assert task.messages == [[0], [1, 2, 3, 4]]  # Within the window after a message: together.
    assert time.monotonic() - sent_first >= 0.25
    time.sleep(0.4)
    broker.send_batched_on_commit(task, 5)  # Quiet again: at once, alone.
    wait_until(lambda: len(task.messages) == 3, timeout=0.2, interval=0.01)
    assert task.messages[2] == [5]


def test_a_batch_over_the_maximum_is_split(settings, wait_until, transactional_db):
    settings.BROKER_BATCH_WINDOW_MS, settings.BROKER_BATCH_MAX = 200, 3
    task = RecordingTask("batch-split")
    broker.send_batched_on_commit(task, "first")
    wait_until(lambda: task.messages, timeout=5, interval=0.01)
    for n in range(7):  # Within the window after a message: they wait for it together.
        broker.send_batched_on_commit(task, n)
    wait_until(lambda: sum(map(len, task.messages)) == 8, timeout=5)
    assert task.messages == [["first"], [0, 1, 2], [3, 4, 5], [6]]


def test_a_batch_waits_for_the_commit(settings, wait_until, transactional_db):
    settings.BROKER_BATCH_WINDOW_MS = 10
    task = RecordingTask("batch-commit")
    with transaction.atomic():
        broker.send_batched_on_commit(task, 1)
        time.sleep(0.1)
        assert task.messages == []
    wait_until(lambda: task.messages == [[1]], timeout=5)


def test_in_process_celery_runs_each_item_at_once(transactional_db):
    task = RecordingTask("batch-eager", eager=True)
    broker.send_batched_on_commit(task, 1)
    assert task.messages == [[1]]


def test_a_broker_outage_leaves_the_batch_to_the_sweep_and_the_thread_alive(
    settings, wait_until, transactional_db
):
    settings.BROKER_BATCH_WINDOW_MS, settings.BROKER_RETRY_AFTER_SECONDS = 10, 0
    task = RecordingTask("batch-outage")
    down = FlakyTask()
    task.delay = down.delay
    broker.send_batched_on_commit(task, 1)
    time.sleep(0.2)
    down.down = False
    broker.send_batched_on_commit(task, 2)
    wait_until(lambda: down.published, timeout=5)
    assert down.published == [([2],)]
