"""Reconciliation's run against a fake Topview: answers recorded as poll notices and processed."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from notices.models import Notice, NoticeSource, NoticeState
from notices.services import reconcile as reconcile_now
from tasks.fake_topview import FakeTopview
from tasks.models import Task

pytestmark = pytest.mark.django_db


@pytest.fixture
def topview(settings, eager_celery):
    """A fake Topview our API settings point at; hand-offs run in-process."""
    with FakeTopview(uid="our-uid", api_key="our-key") as fake:
        settings.TOPVIEW_UID, settings.TOPVIEW_API_KEY = "our-uid", "our-key"
        settings.TOPVIEW_API_BASE_URL = fake.base_url
        settings.RECONCILE_AFTER_SECONDS = 600
        yield fake


@pytest.fixture
def reconcile(django_capture_on_commit_callbacks):
    """One run of the beat job, its hand-offs to the workers run once it has committed."""
    def run():
        with django_capture_on_commit_callbacks(execute=True):
            return reconcile_now()
    return run


def stuck(task_id="t-1", status="running", *, kind="m2v", biz_type="M2V_EXPORT"):
    """A task whose status has not changed for longer than the threshold: its callback never came."""
    past = timezone.now() - timedelta(seconds=601)
    return Task.objects.create(topview_task_id=task_id, status=status, kind=kind,
                               biz_type=biz_type, status_changed_at=past, next_poll_at=past)


def test_nothing_is_asked_without_api_credentials(topview, reconcile, settings):
    settings.TOPVIEW_API_KEY = ""
    stuck()
    assert reconcile().asked == 0
    assert topview.queries == [] and not Notice.objects.exists()
    assert Task.objects.get().poll_attempts == 0


def test_topviews_answer_finishes_the_task_through_a_poll_notice(topview, reconcile):
    # Nothing listens on port 9: the archive's download fails at once, and is not this test's.
    video = "http://127.0.0.1:9/t-1.mp4"
    topview.add_task("t-1", "success", kind="m2v", result={"exportVideos": [{"videoUrl": video}]})
    stuck()
    assert reconcile().asked == 1
    notice = Notice.objects.get()
    assert notice.source == NoticeSource.POLL and notice.format == "topview"
    answer = json.loads(bytes(notice.raw_body))
    assert answer["taskId"] == "t-1" and answer["status"] == "success"
    assert notice.payload["result"] == answer and notice.notice_uuid == ""
    assert notice.state == NoticeState.DONE and notice.verification == "confirmed"
    task = Task.objects.get()
    assert task.status == "success" and task.video_url == video
    assert (task.next_poll_at, task.poll_error) == (None, "")
    # One query: processing does not ask Topview to confirm its own answer.
    assert topview.queries == [("/v1/m2v/task/query", "t-1")]


def test_an_unchanged_status_is_recorded_and_the_task_asked_later(topview, reconcile):
    topview.add_task("t-1", "running", kind="m2v")
    stuck()
    reconcile()
    notice = Notice.objects.get()
    assert (notice.source, notice.task_status, notice.state) == ("poll", "running", "done")
    task = Task.objects.get()
    assert task.status == "running" and task.poll_attempts == 1
    assert task.next_poll_at - task.last_polled_at == timedelta(seconds=600)
    assert reconcile().asked == 0  # not due again yet


def test_the_endpoint_the_task_was_submitted_to_is_asked(topview, reconcile):
    topview.add_task("t-1", "fail", kind="text2video", error_msg="no credit")
    stuck(kind="text2video", biz_type="")
    reconcile()
    assert topview.queries == [("/v1/common_task/text2video/task/query", "t-1")]
    task = Task.objects.get()
    assert (task.status, task.error_message) == ("failed", "no credit")


@pytest.mark.parametrize("code", ["5003", "4004"])
def test_a_query_topview_refuses_is_recorded_on_the_task_and_asked_again_later(topview, reconcile, code):
    topview.add_task("t-1", "success", kind="m2v")
    stuck()
    topview.fail_next(code)
    assert reconcile().failed == 1
    assert not Notice.objects.exists()
    task = Task.objects.get()
    assert code in task.poll_error and task.status == "running" and task.poll_attempts == 1
    assert len(topview.queries) == 1  # no retry inside the run: the backoff is the retry
    Task.objects.update(next_poll_at=timezone.now(), last_polled_at=timezone.now() - timedelta(minutes=2))
    reconcile()
    task = Task.objects.get()
    assert (task.status, task.poll_error) == ("success", "")


def test_tasks_that_cannot_be_asked_are_counted_and_never_queried(topview, reconcile):
    stuck(kind="", biz_type="VOICE_CLONE")
    assert reconcile().unaskable == 1
    assert topview.queries == [] and not Notice.objects.exists()
