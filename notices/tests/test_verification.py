"""Verify by fetching: finishing notices checked with (a fake) Topview's query endpoint."""

import json

import pytest

from notices.models import Notice, NoticeState
from notices.services import notice_process, notice_receive
from tasks.fake_topview import FakeTopview
from tasks.models import Task

pytestmark = pytest.mark.django_db


@pytest.fixture
def topview(settings):
    with FakeTopview(uid="our-uid", api_key="our-key") as fake:
        settings.TOPVIEW_UID, settings.TOPVIEW_API_KEY = "our-uid", "our-key"
        settings.TOPVIEW_API_BASE_URL = fake.base_url
        yield fake


def process(status="success", *, task="t-1", uuid="n-1", biz="M2V_EXPORT", **extra):
    body = {"uuid": uuid, "taskId": task, "status": status, "bizType": biz, **extra}
    raw = json.dumps(body).encode()
    notice = notice_receive(raw=raw, body_size=len(raw), headers={"Topview-Uid": "our-uid"},
                            remote_addr=None)
    return notice_process(notice_id=notice.pk)


def test_a_confirmed_success_finishes_the_task_with_topviews_result(topview):
    topview.add_task("t-1", "success", kind="m2v")
    notice = process("success", result={"exportVideos": [{"videoUrl": "https://forged"}]})
    assert notice.verification == "confirmed"
    assert notice.verification_answer["status"] == "success"
    task = Task.objects.get()
    assert task.status == "success"
    assert task.video_url and task.video_url != "https://forged"  # Topview's own result
    assert ("/v1/m2v/task/query", "t-1") in topview.queries


def test_a_success_topview_does_not_confirm_is_retried_and_cannot_finish_the_task(topview):
    topview.add_task("t-1", "running", kind="m2v")
    notice = process("success")
    assert notice.state == NoticeState.FAILED and "is 'running'" in notice.last_error
    assert not Task.objects.filter(status="success").exists()
    topview.set_status("t-1", "success")  # Topview's own view catches up: the retry confirms.
    Notice.objects.filter(pk=notice.pk).update(next_attempt_at=notice.received_at)
    notice = notice_process(notice_id=notice.pk)
    assert notice.verification == "confirmed" and Task.objects.get().status == "success"


def test_topview_saying_the_other_final_status_wins(topview):
    topview.add_task("t-1", "fail", kind="m2v", error_msg="render failed")
    notice = process("success")
    assert notice.verification == "contradicted"
    task = Task.objects.get()
    assert (task.status, task.error_message) == ("failed", "render failed")


def test_a_finished_task_is_not_asked_about_again(topview):
    Task.objects.create(topview_task_id="t-1", status="success")
    notice = process("fail")
    assert notice.verification == "" and notice.is_late and topview.queries == []


def test_a_task_topview_does_not_know_is_not_touched(topview):
    notice = process("fail")
    assert notice.verification == "contradicted"
    assert Task.objects.get().status == "unknown"


def test_a_task_of_unknown_kind_cannot_be_finished_by_a_notice(topview):
    notice = process("success", biz="SOMETHING_NEW")
    assert notice.verification == "unverifiable"
    assert Task.objects.get().status == "unknown"
    assert topview.queries == []


def test_progress_notices_are_not_verified(topview):
    notice = process("running")
    assert notice.verification == "" and Task.objects.get().status == "running"
    assert topview.queries == []


def test_topview_refusing_the_query_is_a_failure_retried_later(topview):
    topview.add_task("t-1", "success", kind="m2v")
    topview.fail_next("4006")
    notice = process("success")
    assert notice.state == NoticeState.FAILED and "4006" in notice.last_error
    assert not Task.objects.filter(status="success").exists()
    Notice.objects.filter(pk=notice.pk).update(next_attempt_at=notice.received_at)
    assert notice_process(notice_id=notice.pk).verification == "confirmed"


def test_without_credentials_notices_are_trusted_and_marked(settings):
    settings.TOPVIEW_API_KEY = ""
    notice = process("success")
    assert notice.verification == "unconfirmed" and Task.objects.get().status == "success"


def test_a_task_we_submitted_is_asked_where_it_was_submitted(topview):
    """A photo avatar's notices carry no bizType we know: its kind comes from our Task."""
    topview.add_task("t-1", "success", kind="photo_avatar")
    Task.objects.create(topview_task_id="t-1", kind="photo_avatar", status="running")
    notice = process("success", biz="")
    assert notice.verification == "confirmed" and Task.objects.get().status == "success"
    assert ("/v1/photo_avatar/task/query", "t-1") in topview.queries


def test_confirming_a_batch_costs_one_query_to_tell_which_notices_ask(topview, django_assert_num_queries):
    from notices.services.batches import _asking_topview

    ids = [notice_receive(raw=json.dumps({"taskId": f"t-{n}", "status": "success"}).encode(),
                          body_size=40, headers={"Topview-Uid": "our-uid"}, remote_addr=None).pk
           for n in range(10)]
    with django_assert_num_queries(1):
        assert _asking_topview(ids) == ids
