"""The admin of issue 6: notices by source, tasks that cannot be asked, archived copies linked."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from notices.models import Notice
from notices.services import notice_record_poll
from tasks.models import MediaCopy, MediaState, Task

pytestmark = pytest.mark.django_db

NOTICES = reverse("admin:notices_notice_changelist")
TASKS = reverse("admin:tasks_task_changelist")


def test_the_notice_list_shows_and_filters_the_source(admin_client):
    polled = notice_record_poll(topview_task_id="t-1", biz_type="M2V_EXPORT",
                                answer={"taskId": "t-1", "status": "running"})
    response = admin_client.get(NOTICES, {"source__exact": "poll"})
    assert list(response.context["cl"].result_list) == [polled]
    assert "Poll (our query to Topview)" in response.content.decode()
    assert list(admin_client.get(NOTICES, {"source__exact": "callback"}).context["cl"].result_list) == []
    page = admin_client.get(reverse("admin:notices_notice_change", args=[polled.pk])).content.decode()
    assert "Poll (our query to Topview)" in page and "&quot;status&quot;: &quot;running&quot;" in page


def test_a_tasks_page_shows_where_each_notice_came_from(admin_client):
    notice_record_poll(topview_task_id="t-1", biz_type="", answer={"taskId": "t-1", "status": "init"})
    task = Task.objects.create(topview_task_id="t-1", status="unknown")
    Notice.objects.update(task=task)
    page = admin_client.get(reverse("admin:tasks_task_change", args=[task.pk])).content.decode()
    assert "Poll (our query to Topview)" in page


def test_open_tasks_that_cannot_be_asked_have_a_filter(admin_client):
    Task.objects.create(topview_task_id="voice", status="running", next_poll_at=None,
                        poll_error="cannot ask Topview: ...")
    Task.objects.create(topview_task_id="m2v", status="running", kind="m2v")
    Task.objects.create(topview_task_id="done", status="success", next_poll_at=None)
    response = admin_client.get(TASKS, {"reconciliation": "unaskable"})
    assert [t.topview_task_id for t in response.context["cl"].result_list] == ["voice"]


def test_the_task_page_shows_topviews_url_beside_our_copy(admin_client, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    task = Task.objects.create(topview_task_id="t-1", status="success",
                               video_url="https://cdn.example/v.mp4?sig=1")
    now = timezone.now()
    MediaCopy.objects.create(
        task=task, role="video", source_url=task.video_url, state=MediaState.DONE,
        file="topview/t-1/video.mp4", size=10, sha256="ab" * 32, archived_at=now,
        source_expires_at=now + timedelta(days=7),
    )
    MediaCopy.objects.create(
        task=task, role="cover", source_url="https://cdn.example/c.jpg", state=MediaState.FAILED,
        last_error="HTTPError: 500", next_attempt_at=now, source_expires_at=now + timedelta(days=7),
    )
    page = admin_client.get(reverse("admin:tasks_task_change", args=[task.pk])).content.decode()
    assert '<a href="https://cdn.example/v.mp4?sig=1" rel="noreferrer">source</a>' in page
    assert '<a href="/media/topview/t-1/video.mp4" rel="noreferrer">topview/t-1/video.mp4</a>' in page
    assert "HTTPError: 500" in page and "Failed (will retry)" in page
    assert "ab" * 32 in page


def test_a_result_url_that_is_not_http_is_shown_not_linked(admin_client):
    """It came in a notice: a javascript: link would run in the admin when clicked."""
    task = Task.objects.create(topview_task_id="t-1", status="success")
    MediaCopy.objects.create(
        task=task, role="video", source_url="javascript:alert(document.cookie)",
        state=MediaState.FAILED, next_attempt_at=timezone.now(),
        source_expires_at=timezone.now() + timedelta(days=7),
    )
    page = admin_client.get(reverse("admin:tasks_task_change", args=[task.pk])).content.decode()
    assert "javascript:alert(document.cookie)" in page
    assert 'href="javascript:' not in page
