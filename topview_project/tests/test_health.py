from datetime import timedelta

import pytest
from django.utils import timezone

from notices.models import Heartbeat, Notice, NoticeState
from notices.services import notice_receive, outbox_sweep

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_with_a_fresh_sweep_and_no_backlog(client):
    outbox_sweep()
    answer = client.get("/readyz")
    assert answer.status_code == 200, answer.json()
    assert set(answer.json()["checks"]) == {"database", "broker", "worker", "backlog"}


def test_readyz_fails_without_a_recent_sweep(client, settings):
    Heartbeat.objects.create(name="sweep", at=timezone.now() - timedelta(minutes=5))
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert "a worker or beat is down" in answer.json()["checks"]["worker"]["detail"]


def test_readyz_fails_on_an_old_backlog(client):
    outbox_sweep()
    raw = b'{"taskId": "t", "status": "running"}'
    notice = notice_receive(raw=raw, body_size=len(raw), headers={}, remote_addr=None)
    Notice.objects.filter(pk=notice.pk).update(received_at=timezone.now() - timedelta(hours=1))
    checks = client.get("/readyz").json()["checks"]
    assert not checks["backlog"]["ok"] and "3600 s old" in checks["backlog"]["detail"]
    Notice.objects.filter(pk=notice.pk).update(state=NoticeState.DONE)
    assert client.get("/readyz").status_code == 200


def test_readyz_fails_when_the_broker_is_down(client, monkeypatch):
    from kombu import Connection

    from topview_project import health

    outbox_sweep()
    monkeypatch.setattr(health.celery_app, "connection_for_read",
                        lambda: Connection("redis://127.0.0.1:9/0"))
    answer = client.get("/readyz")
    assert answer.status_code == 503 and not answer.json()["checks"]["broker"]["ok"]
