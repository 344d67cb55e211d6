import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from notices.models import Notice, NoticeState
from notices.parsing import NoticeFormat
from notices.services import notice_process, notice_receive, notice_replay, processing
from tasks.models import Notification, Task

pytestmark = pytest.mark.django_db


def receive(body, headers=None, **kwargs):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return notice_receive(
        raw=raw, body_size=len(raw), headers=headers or {}, remote_addr="127.0.0.1", **kwargs
    )


def topview(uuid="n-1", task="t-1", status="success", **extra):
    return {"uuid": uuid, "taskId": task, "status": status, "bizType": "M2V_EXPORT", **extra}


def test_the_raw_body_is_stored_exactly():
    raw = b'{"taskId": "t",  "status": "success" }\n'
    notice = receive(raw)
    stored = Notice.objects.get(pk=notice.pk)
    assert bytes(stored.raw_body) == raw
    assert (stored.format, stored.state, stored.body_size) == (NoticeFormat.SIMPLE, "pending", len(raw))


def test_invalid_and_oversized_bodies_are_stored_done_and_never_handed_on(
    django_capture_on_commit_callbacks, settings
):
    settings.NOTICE_MAX_BODY_BYTES = 10
    with django_capture_on_commit_callbacks() as callbacks:
        invalid = receive(b"\xff not json")
        oversized = notice_receive(raw=b"0123456789", body_size=5000, headers={}, remote_addr=None)
    assert callbacks == []
    for notice in (invalid, oversized):
        notice.refresh_from_db()
        assert notice.format == NoticeFormat.INVALID and notice.state == NoticeState.DONE
    assert oversized.body_size == 5000 and bytes(oversized.raw_body) == b"0123456789"
    assert "over the limit" in oversized.error


def test_a_valid_notice_is_handed_on_only_after_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        receive(topview())
        assert Notice.objects.count() == 1
    assert len(callbacks) == 1


def test_a_second_delivery_of_a_uuid_is_a_stored_duplicate(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        first = receive(topview())
        second = receive(topview(status="fail"))
    assert len(callbacks) == 1
    assert not first.is_duplicate and second.is_duplicate and second.state == NoticeState.DONE
    assert Notice.objects.filter(notice_uuid="n-1").count() == 2


def test_notices_without_uuid_are_never_duplicates():
    receive({"taskId": "t", "status": "success"})
    receive({"taskId": "t", "status": "success"})
    assert not Notice.objects.filter(is_duplicate=True).exists()


def test_processing_finishes_the_task_and_tells_its_owner_once(django_capture_on_commit_callbacks, eager_celery):
    owner = get_user_model().objects.create_user("ann", email="ann@example.com")
    Task.objects.create(topview_task_id="t-1", owner=owner)
    result = {"exportVideos": [{"videoUrl": "https://cdn/v.mp4", "videoDuration": 900}]}
    notice = receive(topview(result=json.dumps(result)))
    with django_capture_on_commit_callbacks(execute=True):
        notice_process(notice_id=notice.pk)
        notice_process(notice_id=notice.pk)
    notice.refresh_from_db()
    task = Task.objects.get(topview_task_id="t-1")
    assert (notice.state, notice.attempts, notice.task_id) == (NoticeState.DONE, 1, task.pk)
    assert (task.status, task.video_url, task.duration_ms) == ("success", "https://cdn/v.mp4", 900)
    assert task.result == result
    notification = Notification.objects.get()
    assert (notification.user, notification.status) == (owner, "success")
    assert notification.sent_at is not None
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ann@example.com"]


def test_a_late_notice_is_recorded_and_changes_nothing():
    receive(topview(uuid="a", status="success"))
    receive(topview(uuid="b", status="running"))
    for notice in Notice.objects.order_by("pk"):
        notice_process(notice_id=notice.pk)
    late = Notice.objects.get(notice_uuid="b")
    assert late.is_late and late.state == NoticeState.DONE
    assert Task.objects.get().status == "success"


def test_a_failed_task_keeps_its_error_message():
    notice = receive(topview(status="fail", errorMsg="out of credit"))
    notice_process(notice_id=notice.pk)
    task = Task.objects.get()
    assert (task.status, task.error_message) == ("failed", "out of credit")


def test_test_notices_tell_nobody():
    owner = get_user_model().objects.create_user("bob", email="bob@example.com")
    Task.objects.create(topview_task_id="t-1", owner=owner)
    notice = receive(topview(), is_test=True)
    notice_process(notice_id=notice.pk)
    assert Task.objects.get().status == "success"
    assert not Notification.objects.exists()


def test_a_partial_body_is_processed_without_a_task():
    notice = receive({"test": "data"})
    notice = notice_process(notice_id=notice.pk)
    assert notice.state == NoticeState.DONE and notice.task is None
    assert not Task.objects.exists()


def test_an_error_is_recorded_and_retried_with_backoff_then_dead(monkeypatch, settings):
    settings.NOTICE_MAX_ATTEMPTS = 3
    settings.NOTICE_RETRY_BASE_SECONDS = 10

    def broken(**kwargs):
        raise RuntimeError("database said no")

    monkeypatch.setattr(processing, "TaskBatch", broken)
    notice = receive(topview())
    delays = []
    for _ in range(2):
        before = timezone.now()
        notice = notice_process(notice_id=notice.pk)
        assert notice.state == NoticeState.FAILED
        delays.append(round((notice.next_attempt_at - before).total_seconds()))
    assert delays == [10, 20]
    notice = notice_process(notice_id=notice.pk)
    assert (notice.state, notice.attempts, notice.next_attempt_at) == (NoticeState.DEAD, 3, None)
    assert notice.last_error == "RuntimeError: database said no"
    assert notice_process(notice_id=notice.pk).attempts == 3  # dead stays dead


def test_a_notice_that_kills_its_worker_every_time_ends_dead(settings):
    settings.NOTICE_MAX_ATTEMPTS = 2
    notice = receive(topview())
    # Two attempts began and never finished: their workers died mid-way, their lease lapsed.
    Notice.objects.filter(pk=notice.pk).update(
        state=NoticeState.PROCESSING, attempts=2, next_attempt_at=timezone.now()
    )
    assert notice_process(notice_id=notice.pk).state == NoticeState.DEAD
    assert not Task.objects.exists()


def test_a_notice_another_worker_holds_is_left_alone():
    notice = receive(topview())
    held_until = timezone.now() + timedelta(minutes=1)
    Notice.objects.filter(pk=notice.pk).update(
        state=NoticeState.PROCESSING, attempts=1, next_attempt_at=held_until
    )
    notice = notice_process(notice_id=notice.pk)
    assert (notice.state, notice.attempts) == (NoticeState.PROCESSING, 1)
    assert not Task.objects.exists()


def test_replay_processes_again_without_a_second_effect(
    django_capture_on_commit_callbacks, eager_celery
):
    owner = get_user_model().objects.create_user("cy", email="cy@example.com")
    Task.objects.create(topview_task_id="t-1", owner=owner)
    first = receive(topview())
    duplicate = receive(topview())
    invalid = receive(b"nope")
    with django_capture_on_commit_callbacks(execute=True):
        notice_process(notice_id=first.pk)
        chosen = Notice.objects.filter(pk__in=[first.pk, duplicate.pk, invalid.pk])
        assert notice_replay(notices=chosen) == 1
    first.refresh_from_db()
    assert (first.state, first.attempts) == (NoticeState.DONE, 1)
    assert Notification.objects.count() == 1 and len(mail.outbox) == 1


def test_a_test_notice_is_left_to_its_caller(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        notice = receive(topview(), is_test=True)
    assert callbacks == [] and notice.state == NoticeState.PENDING


@pytest.mark.parametrize(
    "result",
    ['{"costCredit": NaN}', '{"costCredit": 1e400, "finishedVideoUrl": "https://v"}',
     '{"finishedVideoUrl": "https://v\\u0000"}', '{"a": "\\udc00"}', "[" * 200 + "]" * 200],
)
def test_a_result_string_holding_hostile_json_still_finishes_the_task(result):
    notice = notice_process(notice_id=receive(topview(result=result)).pk)
    assert notice.state == NoticeState.DONE
    assert Task.objects.get().status == "success"


def test_replay_keeps_the_first_judgement_of_lateness():
    running = receive(topview(uuid="a", status="running"))
    notice_process(notice_id=running.pk)
    notice_process(notice_id=receive(topview(uuid="b", status="success")).pk)
    notice_replay(notices=Notice.objects.filter(pk=running.pk))
    running = notice_process(notice_id=running.pk)
    assert running.state == NoticeState.DONE and not running.is_late
