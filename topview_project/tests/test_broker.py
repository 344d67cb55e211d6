"""A broker outage costs a web process one failed publish, one log line, and no waiting."""

import logging
import time

import pytest

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
    monkeypatch.setattr(broker, "_outage", broker._Outage())


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
