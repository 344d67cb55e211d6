"""Broadcasts are best effort: a channel layer that is down or hangs never fails the work."""

import json
import logging
import socket
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction

from live import services
from notices.models import NoticeState
from notices.services import notice_process, notice_receive
from tasks.models import Task
from tasks.services import task_apply_status
from tasks.status import TaskStatus
from topview_project.tests.servers import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def redis_layer(url: str) -> dict:
    return {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                        "CONFIG": {"hosts": [{"address": url, "socket_connect_timeout": 1}],
                                   "prefix": "topview-live-test"}}}


@pytest.fixture
def layer_down(settings):
    """A Redis layer on a port where nothing listens."""
    settings.CHANNEL_LAYERS = redis_layer(f"redis://127.0.0.1:{free_port()}/0")
    settings.LIVE_RETRY_AFTER_SECONDS = 0


def outage_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "live.services"]


def test_an_outage_is_logged_once_and_its_end_once(layer_down, settings, caplog):
    caplog.set_level(logging.WARNING, logger="live.services")
    assert [services.broadcast(group="g", data={"n": n}) for n in range(3)] == [False] * 3
    assert outage_lines(caplog) == ["Channel layer unreachable: live pages miss updates"]
    settings.CHANNEL_LAYERS = redis_layer(settings.CHANNEL_REDIS_URL)  # Redis is back.
    assert services.broadcast(group="g", data={}) and services.broadcast(group="g", data={})
    assert len(outage_lines(caplog)) == 2 and "reachable again" in outage_lines(caplog)[1]


def test_after_a_failure_the_process_leaves_the_layer_alone_for_a_while(layer_down, settings):
    settings.LIVE_RETRY_AFTER_SECONDS = 60
    assert not services.broadcast(group="g", data={})
    settings.CHANNEL_LAYERS = redis_layer(settings.CHANNEL_REDIS_URL)
    assert not services.broadcast(group="g", data={})  # Not tried: still resting.


def test_a_layer_that_does_not_answer_costs_a_broadcast_its_timeout_only(settings):
    with socket.socket() as silent:  # Accepts connections (the backlog) and never answers.
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        settings.CHANNEL_LAYERS = redis_layer(f"redis://127.0.0.1:{silent.getsockname()[1]}/0")
        settings.LIVE_BROADCAST_TIMEOUT_SECONDS = 1
        started = time.monotonic()
        assert not services.broadcast(group="g", data={})
        assert time.monotonic() - started < 3


def test_processing_succeeds_while_the_layer_is_down(layer_down, eager_celery, caplog):
    owner = get_user_model().objects.create_user("owner")
    Task.objects.create(topview_task_id="t-1", owner=owner)
    raw = json.dumps({"uuid": "u-1", "taskId": "t-1", "status": "success"}).encode()
    notice = notice_receive(raw=raw, body_size=len(raw), headers={}, remote_addr=None)
    notice = notice_process(notice_id=notice.pk)  # Processed in-process already: nothing changes.
    assert notice.state == NoticeState.DONE and not notice.last_error
    assert Task.objects.get(topview_task_id="t-1").status == "success"
    assert outage_lines(caplog) == ["Channel layer unreachable: live pages miss updates"]


def test_a_task_change_is_broadcast_after_commit_to_its_owner_only(monkeypatch):
    sent = []
    monkeypatch.setattr(services, "broadcast", lambda **kwargs: sent.append(kwargs))
    owner = get_user_model().objects.create_user("owner")
    Task.objects.create(topview_task_id="owned", owner=owner)
    for task_id in ("owned", "ownerless"):
        before = len(sent)
        with transaction.atomic():
            task_apply_status(topview_task_id=task_id, biz_type="", status=TaskStatus.RUNNING,
                              error_message="", result=None, notify_owner=True)
            assert len(sent) == before  # Nothing before the commit.
    assert [(m["group"], m["data"]["taskId"]) for m in sent] == [(f"live.tasks.{owner.pk}", "owned")]
