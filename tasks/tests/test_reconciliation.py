"""Reconciliation's rules: where a task is asked, when again, how many a minute, which tasks are due."""

from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from tasks import reconciliation
from tasks.models import Task
from tasks.services import task_apply_status, task_poll_claim
from tasks.status import TaskStatus
from tasks.topview_client import KINDS


def test_the_kind_a_task_was_submitted_to_comes_before_its_biz_type():
    assert reconciliation.kind_to_ask(kind="text2video", biz_type="M2V_EXPORT") == KINDS["text2video"]
    assert reconciliation.kind_to_ask(kind="", biz_type=" m2v_export ") == KINDS["m2v"]
    assert reconciliation.kind_to_ask(kind="", biz_type="VOICE_CLONE") is None
    assert reconciliation.kind_to_ask(kind="gone", biz_type="") is None


def test_the_delay_doubles_from_the_threshold_up_to_the_cap():
    delays = [reconciliation.poll_delay(attempts=n, after_seconds=600, max_seconds=6 * 3600)
              for n in range(1, 8)]
    assert [d.total_seconds() / 60 for d in delays] == [10, 20, 40, 80, 160, 320, 360]


@given(attempts=st.integers(0, 10_000), after=st.integers(1, 10**6), cap=st.integers(1, 10**6))
def test_the_delay_never_exceeds_the_cap_nor_shrinks(attempts, after, cap):
    delay = reconciliation.poll_delay(attempts=attempts, after_seconds=after, max_seconds=cap)
    following = reconciliation.poll_delay(attempts=attempts + 1, after_seconds=after, max_seconds=cap)
    assert min(after, cap) <= delay.total_seconds() <= cap and following >= delay


def test_the_budget_is_what_the_cap_leaves_of_the_last_minute():
    assert reconciliation.query_budget(per_minute=60, used_last_minute=0) == 60
    assert reconciliation.query_budget(per_minute=60, used_last_minute=45) == 15
    assert reconciliation.query_budget(per_minute=60, used_last_minute=80) == 0


def test_an_answer_becomes_a_callback_body_whose_result_is_the_answer():
    answer = {"taskId": "t-1", "status": "success", "errorMsg": None, "exportVideos": []}
    body = reconciliation.callback_body(topview_task_id="t-1", biz_type="M2V_EXPORT", answer=answer)
    assert body == {"bizType": "M2V_EXPORT", "taskId": "t-1", "status": "success",
                    "errorMsg": "", "result": answer}
    assert "uuid" not in body


@pytest.fixture
def now():
    return timezone.now()


def task(task_id, status="running", *, due_in=-60, kind="m2v", biz_type="", **fields):
    return Task.objects.create(
        topview_task_id=task_id, status=status, kind=kind, biz_type=biz_type,
        next_poll_at=timezone.now() + timedelta(seconds=due_in), **fields,
    )


def claimed_ids(claim):
    return sorted(task.topview_task_id for task, _ in claim.tasks)


@pytest.mark.django_db
def test_a_new_task_is_due_once_its_status_has_not_changed_for_the_threshold(settings):
    settings.RECONCILE_AFTER_SECONDS = 600
    created = Task.objects.create(topview_task_id="t-1", status="queued", kind="m2v")
    assert timedelta(seconds=599) < created.next_poll_at - created.status_changed_at <= timedelta(seconds=601)
    assert task_poll_claim(now=timezone.now(), per_minute=60).tasks == []
    later = timezone.now() + timedelta(seconds=601)
    assert claimed_ids(task_poll_claim(now=later, per_minute=60)) == ["t-1"]


@pytest.mark.django_db
def test_only_open_tasks_past_their_time_are_due(now):
    task("queued", "queued")
    task("running", "running")
    task("unknown-with-kind", "unknown")
    task("not-yet", "running", due_in=60)
    task("finished", "success")
    task("failed", "failed")
    assert claimed_ids(task_poll_claim(now=now, per_minute=60)) == [
        "queued", "running", "unknown-with-kind"]


@pytest.mark.django_db
def test_a_task_of_no_known_kind_is_set_aside_with_the_reason_visible(now):
    task("by-biz-type", kind="", biz_type="M2V_EXPORT")
    task("voice", kind="", biz_type="VOICE_CLONE")
    task("nothing", "unknown", kind="", biz_type="")
    claim = task_poll_claim(now=now, per_minute=60)
    assert claimed_ids(claim) == ["by-biz-type"] and claim.unaskable == 2
    assert claim.tasks[0][1] == KINDS["m2v"]
    voice = Task.objects.get(topview_task_id="voice")
    assert voice.next_poll_at is None and voice.last_polled_at is None
    assert "'VOICE_CLONE'" in voice.poll_error
    # Set aside, it is not looked at again, nor counted against the cap.
    assert task_poll_claim(now=now + timedelta(hours=1), per_minute=60).unaskable == 0


@pytest.mark.django_db
def test_each_query_without_a_change_pushes_the_next_one_further(now, settings):
    settings.RECONCILE_AFTER_SECONDS = 600
    task("t-1")
    seen = []
    moment = now
    for _ in range(3):
        claim = task_poll_claim(now=moment, per_minute=60)
        assert claimed_ids(claim) == ["t-1"]
        polled = Task.objects.get()
        seen.append((polled.poll_attempts, (polled.next_poll_at - moment).total_seconds()))
        assert task_poll_claim(now=polled.next_poll_at - timedelta(seconds=1), per_minute=60).tasks == []
        moment = polled.next_poll_at + timedelta(minutes=2)  # past the cap's minute too
    assert seen == [(1, 600), (2, 1200), (3, 2400)]


@pytest.mark.django_db
def test_a_status_change_starts_the_clock_again(now, settings):
    settings.RECONCILE_AFTER_SECONDS = 600
    task("t-1", "queued", poll_attempts=4)
    task_apply_status(topview_task_id="t-1", biz_type="", status=TaskStatus.RUNNING,
                      error_message="", result=None, notify_owner=False)
    polled = Task.objects.get()
    assert polled.poll_attempts == 0
    assert timedelta(seconds=599) < polled.next_poll_at - polled.status_changed_at < timedelta(seconds=601)
    task_apply_status(topview_task_id="t-1", biz_type="", status=TaskStatus.FAILED,
                      error_message="", result=None, notify_owner=False)
    assert Task.objects.get().next_poll_at is None


@pytest.mark.django_db
def test_no_more_queries_a_minute_than_the_cap_counting_the_last_minutes(now):
    for n in range(5):
        task(f"t-{n}", due_in=-60 + n)
    first = task_poll_claim(now=now, per_minute=3)
    assert claimed_ids(first) == ["t-0", "t-1", "t-2"]  # the longest due first
    assert task_poll_claim(now=now + timedelta(seconds=30), per_minute=3).tasks == []
    later = task_poll_claim(now=now + timedelta(seconds=61), per_minute=3)
    assert claimed_ids(later) == ["t-3", "t-4"]
