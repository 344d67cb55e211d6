"""Batches of notices (one message from a web process): processed together, each still its own."""

import json
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from notices.models import Notice, NoticeState
from notices.services import batches, notice_process_batch, notice_receive, processing
from tasks.fake_topview import FakeTopview
from tasks.models import Notification, Task

pytestmark = pytest.mark.django_db


def stored(task="t-1", status="success", uuid=None, **extra):
    body = {"uuid": uuid or f"{task}-{status}", "taskId": task, "status": status,
            "bizType": "M2V_EXPORT", **extra}
    raw = json.dumps(body).encode()
    headers = {"Topview-Uid": django_settings.TOPVIEW_UID} if django_settings.TOPVIEW_UID else {}
    return notice_receive(raw=raw, body_size=len(raw), headers=headers, remote_addr=None).pk


def states(ids):
    return [Notice.objects.get(pk=pk).state for pk in ids]


def test_a_batch_is_applied_in_order_in_a_few_statements(django_assert_max_num_queries):
    owner = get_user_model().objects.create(username="o", email="o@example.com")
    Task.objects.create(topview_task_id="t-0", owner=owner)
    ids = [stored("t-0", "running"), stored("t-0", "success")]
    ids += [stored(f"t-{n}", "success", result={"exportVideos": [{"videoUrl": f"https://v/{n}"}]})
            for n in range(1, 19)]
    ids.append(stored("t-0", "running", uuid="late"))  # After the success: late, no change.
    # 21 notices, 19 tasks, an email: as many statements as one notice alone takes, and one
    # INSERT of the 18 successes' media copies (the archive).
    with django_assert_max_num_queries(14):
        assert notice_process_batch(notice_ids=ids, within_seconds=60) == len(ids)
    assert set(states(ids)) == {NoticeState.DONE}
    assert Task.objects.get(topview_task_id="t-0").status == "success"
    assert Task.objects.get(topview_task_id="t-7").video_url == "https://v/7"
    assert Task.objects.filter(status="success").count() == 19
    late = Notice.objects.get(pk=ids[-1])
    assert late.is_late and late.task.topview_task_id == "t-0"
    assert not Notice.objects.get(pk=ids[1]).is_late
    assert Notice.objects.get(pk=ids[1]).verification == "unconfirmed"
    assert Notification.objects.filter(task__topview_task_id="t-0", status="success").count() == 1
    assert {n.attempts for n in Notice.objects.filter(pk__in=ids)} == {1}


def test_notices_done_or_held_elsewhere_are_left_alone():
    done, held, free = stored("t-1"), stored("t-2"), stored("t-3")
    notice_process_batch(notice_ids=[done], within_seconds=60)
    lease = timezone.now() + timedelta(seconds=60)
    Notice.objects.filter(pk=held).update(state=NoticeState.PROCESSING, attempts=1,
                                          next_attempt_at=lease)
    notice_process_batch(notice_ids=[done, held, free], within_seconds=60)
    assert states([done, held, free]) == ["done", "processing", "done"]
    assert Notice.objects.get(pk=done).attempts == 1 and Notice.objects.get(pk=held).attempts == 1


def test_a_notice_at_its_last_attempt_in_a_batch_is_dead(settings):
    settings.NOTICE_MAX_ATTEMPTS = 2
    pk = stored()
    Notice.objects.filter(pk=pk).update(state=NoticeState.FAILED, attempts=2,
                                        next_attempt_at=timezone.now())
    notice_process_batch(notice_ids=[pk], within_seconds=60)
    assert states([pk]) == ["dead"]


def test_when_the_batch_fails_each_notice_is_tried_alone(monkeypatch):
    good, bad, other = stored("t-1"), stored("t-bad"), stored("t-2")
    real = processing._status_change

    def fails_for_one(notice, verdict):
        if notice.topview_task_id == "t-bad":
            raise RuntimeError("this notice breaks things")
        return real(notice, verdict)

    monkeypatch.setattr(processing, "_status_change", fails_for_one)
    notice_process_batch(notice_ids=[good, bad, other], within_seconds=60)
    assert states([good, bad, other]) == ["done", "failed", "done"]
    broken = Notice.objects.get(pk=bad)
    assert broken.attempts == 1 and "this notice breaks things" in broken.last_error
    assert Task.objects.filter(status="success").count() == 2


def test_notices_confirmed_by_topview_are_asked_about_one_at_a_time(settings, monkeypatch):
    with FakeTopview(uid="uid", api_key="key") as topview:
        settings.TOPVIEW_UID, settings.TOPVIEW_API_KEY = "uid", "key"
        settings.TOPVIEW_API_BASE_URL = topview.base_url
        topview.add_task("t-1", "success", kind="m2v")
        together = []
        monkeypatch.setattr(batches, "apply_claimed", lambda notices, **kw: (
            together.extend(n.topview_task_id for n in notices),
            processing.apply_claimed(notices, **kw))[1])
        ids = [stored("t-1", "success"), stored("t-2", "running")]
        notice_process_batch(notice_ids=ids, within_seconds=60)
    assert together == ["t-2"]  # The running one went with the batch; the success was asked.
    assert Notice.objects.get(pk=ids[0]).verification == "confirmed"
    assert states(ids) == ["done", "done"]


def test_a_batch_that_runs_long_hands_the_rest_on(settings, monkeypatch):
    settings.TOPVIEW_UID, settings.TOPVIEW_API_KEY = "uid", "key"  # Finishing notices ask Topview.
    sent = []
    monkeypatch.setattr(batches.broker, "send", lambda task, ids: sent.append((task.name, ids)))
    ids = [stored(f"t-{n}") for n in range(3)]
    assert notice_process_batch(notice_ids=ids, within_seconds=-1) == 0
    assert sent == [("notices.process_notices", ids)]
    assert states(ids) == ["pending"] * 3  # Not claimed: the next message takes them.
