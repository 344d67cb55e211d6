"""task_submit against the fake Topview, on the database."""

import logging

import pytest
from django.contrib.auth import get_user_model

from tasks import topview_client as tv
from tasks.models import Task
from tasks.submission import task_submit

from .fake_topview_fixtures import TOKEN, no_backoff, topview  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return get_user_model().objects.create_user("ada", email="ada@example.com")


def test_a_submitted_task_is_the_users_with_topviews_id_and_status(topview, user):
    task = task_submit(user=user, kind="text2video", params={"prompt": "a cat"})
    (fake_task,) = topview.tasks.values()
    assert (task.topview_task_id, task.owner, task.kind, task.status) == (
        fake_task.task_id, user, "text2video", "queued")
    assert fake_task.payload == {"prompt": "a cat",
                                 "noticeUrl": f"https://us.example/notice/topview/{TOKEN}"}
    assert Task.objects.get() == task


def test_the_users_params_cannot_redirect_the_callback(topview, user):
    task_submit(user=user, kind="m2v", params={"noticeUrl": "https://evil.example/steal"})
    (fake_task,) = topview.tasks.values()
    assert fake_task.notice_url == f"https://us.example/notice/topview/{TOKEN}"


def test_a_task_whose_notice_came_first_becomes_the_users_and_keeps_its_status(
        topview, user, monkeypatch):
    """The callback raced the submit's answer: the worker created the task, unowned, finished."""
    real_submit = tv.TopviewClient.submit

    def submit_then_notice_first(client, kind, payload, *, notice_url):
        answer = real_submit(client, kind, payload, notice_url=notice_url)
        Task.objects.create(topview_task_id=answer["taskId"], status="success",
                            biz_type="M2V_EXPORT", video_url="https://cdn/v.mp4")
        return answer

    monkeypatch.setattr(tv.TopviewClient, "submit", submit_then_notice_first)
    task = task_submit(user=user, kind="m2v", params={})
    assert (task.owner, task.kind, task.status, task.video_url) == (
        user, "m2v", "success", "https://cdn/v.mp4")
    assert Task.objects.count() == 1
    # Finished before it had an owner: the owner is told all the same, once.
    assert list(task.notifications.values_list("user", "status")) == [(user.pk, "success")]


@pytest.mark.parametrize("fault, error, level", [
    (lambda f: f.fail_next("4100", message="credit 0"), tv.TopviewInsufficientCredit, "WARNING"),
    (lambda f: f.fail_next("4000", message="bad prompt"), tv.TopviewParameterError, "WARNING"),
    (lambda f: f.reset_next(), tv.TopviewSubmitUncertain, "ERROR"),
    (lambda f: f.fail_next("5003", times=4), tv.TopviewBusy, "ERROR"),
], ids=["credit", "params", "no-answer", "busy"])
def test_a_refused_submit_is_logged_whole_and_creates_no_task(
        topview, user, caplog, no_backoff, fault, error, level):
    fault(topview)
    with caplog.at_level(logging.WARNING, logger="tasks.submission"), pytest.raises(error):
        task_submit(user=user, kind="m2v", params={"prompt": "keep me"})
    assert not Task.objects.exists()
    (record,) = caplog.records
    assert record.levelname == level
    assert f"user {user.pk}, kind m2v" in record.getMessage()
    assert '{"prompt": "keep me"}' in record.getMessage()


@pytest.mark.parametrize("missing", ["TOPVIEW_API_KEY", "PUBLIC_BASE_URL"])
def test_not_configured(topview, user, settings, caplog, missing):
    setattr(settings, missing, "")
    with pytest.raises(tv.TopviewNotConfigured, match=missing):
        task_submit(user=user, kind="m2v", params={})
    assert topview.requests == [] and not Task.objects.exists()
    assert "Submit to Topview failed" in caplog.text


def test_an_answer_without_task_id_is_a_protocol_error(topview, user, monkeypatch):
    monkeypatch.setattr(tv.TopviewClient, "submit", lambda *args, **kwargs: {"status": "init"})
    with pytest.raises(tv.TopviewProtocolError, match="no taskId"):
        task_submit(user=user, kind="m2v", params={})
    assert not Task.objects.exists()


def test_a_task_adopted_from_its_notice_moves_its_reconciliation_clock(topview, user, monkeypatch):
    """A status the submit's answer moves forward restarts the wait before Topview is asked."""
    from datetime import timedelta

    from django.utils import timezone

    real_submit = tv.TopviewClient.submit

    def submit_then_early_notice(client, kind, payload, *, notice_url):
        answer = real_submit(client, kind, payload, notice_url=notice_url)
        Task.objects.create(topview_task_id=answer["taskId"], status="unknown", poll_attempts=3,
                            next_poll_at=timezone.now() - timedelta(minutes=1))
        return answer

    monkeypatch.setattr(tv.TopviewClient, "submit", submit_then_early_notice)
    task = task_submit(user=user, kind="m2v", params={})
    task.refresh_from_db()
    assert (task.owner, task.status, task.poll_attempts) == (user, "queued", 0)
    assert task.next_poll_at > timezone.now() + timedelta(minutes=9)
