"""The sweep, retries scheduled in the database, the dead state and its alert, replay."""

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from notices.models import Notice, NoticeState
from notices.services import notice_receive, outbox_sweep
from tasks.models import Notification, Task

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def short_grace(settings):
    settings.NOTICE_SWEEP_GRACE_SECONDS = 15
    settings.NOTICE_PROCESSING_LEASE_SECONDS = 60


def receive(uuid="n-1", status="success", task="t-1"):
    raw = json.dumps({"uuid": uuid, "taskId": task, "status": status}).encode()
    return notice_receive(raw=raw, body_size=len(raw), headers={}, remote_addr=None)


def age(notice, **delta):
    """Move the notice's due time into the past, as if the time had passed."""
    Notice.objects.filter(pk=notice.pk).update(next_attempt_at=timezone.now() - timedelta(**delta))


def test_a_new_notice_is_due_after_the_grace_period():
    notice = receive()
    assert 14 <= (notice.next_attempt_at - notice.received_at).total_seconds() <= 15


def test_the_sweep_hands_on_only_what_is_due(eager_celery):
    waiting, lost = receive("a", task="t-a"), receive("b", task="t-b")
    age(lost, seconds=1)
    assert outbox_sweep().notices == 1
    assert Notice.objects.get(pk=lost.pk).state == NoticeState.DONE
    assert Notice.objects.get(pk=waiting.pk).state == NoticeState.PENDING


def test_a_swept_notice_is_not_handed_on_again_before_the_next_grace_period():
    notice = receive()
    age(notice, seconds=1)
    assert outbox_sweep().notices == 1  # Published to a broker that never delivers it.
    assert outbox_sweep().notices == 0
    age(notice, seconds=1)
    assert outbox_sweep().notices == 1


def test_a_lapsed_lease_goes_back_to_pending_and_is_processed(eager_celery):
    notice = receive()
    Notice.objects.filter(pk=notice.pk).update(
        state=NoticeState.PROCESSING, attempts=1, next_attempt_at=timezone.now() - timedelta(seconds=1)
    )
    assert outbox_sweep().notices == 1
    notice.refresh_from_db()
    assert (notice.state, notice.attempts) == (NoticeState.DONE, 2)


def test_a_failed_notice_waits_for_its_retry_time(eager_celery):
    notice = receive()
    Notice.objects.filter(pk=notice.pk).update(
        state=NoticeState.FAILED, attempts=1, next_attempt_at=timezone.now() + timedelta(seconds=30)
    )
    assert outbox_sweep().notices == 0
    age(notice, seconds=1)
    assert outbox_sweep().notices == 1
    assert Notice.objects.get(pk=notice.pk).state == NoticeState.DONE


def test_a_dead_notice_alerts_the_admins_once_with_a_link(settings, eager_celery):
    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.PUBLIC_BASE_URL = "https://notices.example.com"
    notice = receive()
    Notice.objects.filter(pk=notice.pk).update(state=NoticeState.DEAD, last_error="boom")
    assert outbox_sweep().alerts == 1
    assert outbox_sweep().alerts == 0
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@example.com"]
    assert f"https://notices.example.com/admin/notices/notice/{notice.pk}/change/" in mail.outbox[0].body
    assert Notice.objects.get(pk=notice.pk).alerted_at is not None


def test_notifications_whose_message_was_lost_are_sent_once(eager_celery):
    owner = get_user_model().objects.create_user("ann", email="ann@example.com")
    task = Task.objects.create(topview_task_id="t-1", owner=owner, status="success")
    notification = Notification.objects.create(task=task, user=owner, status="success")
    assert outbox_sweep().notifications == 0  # Recorded just now: its message may be on its way.
    Notification.objects.filter(pk=notification.pk).update(created_at=timezone.now() - timedelta(minutes=1))
    assert outbox_sweep().notifications == 1
    assert outbox_sweep().notifications == 0
    assert len(mail.outbox) == 1


def test_a_notice_waiting_long_is_handed_on_less_often():
    notice = receive()
    Notice.objects.filter(pk=notice.pk).update(
        received_at=timezone.now() - timedelta(hours=1), next_attempt_at=timezone.now()
    )
    outbox_sweep()
    wait = Notice.objects.get(pk=notice.pk).next_attempt_at - timezone.now()
    assert timedelta(minutes=29) < wait <= timedelta(minutes=30)  # half its age, not 15 s


def test_a_backlog_is_handed_on_in_batches(settings, monkeypatch):
    from notices.services import outbox

    settings.BROKER_BATCH_MAX = 2
    sent = []
    monkeypatch.setattr(outbox.broker, "send", lambda task, *args: sent.append((task.name, *args)))
    notices = [receive(f"n-{n}", task=f"t-{n}") for n in range(5)]
    for notice in notices:
        age(notice, seconds=1)
    assert outbox_sweep().notices == 5
    batches = [ids for name, ids in sent if name == "notices.process_notices"]
    assert [len(ids) for ids in batches] == [2, 2, 1]
    assert sorted(sum(batches, [])) == sorted(n.pk for n in notices)


def test_a_failing_media_sweep_holds_up_neither_notices_nor_the_heartbeat(
    eager_celery, monkeypatch
):
    from notices.models import Heartbeat
    from notices.services import outbox

    def broken(**kwargs):
        raise RuntimeError("media table on fire")

    monkeypatch.setattr(outbox, "media_sweep", broken)
    lost = receive()
    age(lost, seconds=1)
    assert outbox_sweep().notices == 1
    assert Notice.objects.get(pk=lost.pk).state == NoticeState.DONE
    assert Heartbeat.objects.exists()
