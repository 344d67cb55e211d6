"""The whole loop over real connections: a task submitted through the API (live server) to the
fake Topview, whose callbacks reach our notice URL (with its token), are processed by a real
Celery worker on Redis, and finish the task the user reads back through the API."""

import json
from urllib.request import Request, urlopen

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from notices.models import Notice, NoticeState
from tasks.fake_topview import FakeTopview

from .fake_topview_fixtures import point_settings_at

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fast_outbox"),
]


def call(url, token, body=None):
    request = Request(url, data=None if body is None else json.dumps(body).encode(),
                      method="GET" if body is None else "POST",
                      headers={"Authorization": f"Token {token}", "Content-Type": "application/json"})
    with urlopen(request, timeout=30) as answer:
        return answer.status, json.loads(answer.read())


@pytest.mark.parametrize("mode, notices", [("once", 1), ("twice", 2), ("out-of-order", 2)])
def test_a_task_submitted_through_the_api_is_finished_by_topviews_callback(
        live_server, celery_worker_process, wait_until, settings, mode, notices):
    user = get_user_model().objects.create_user(f"user-{mode}", email="u@example.com")
    token = Token.objects.create(user=user).key
    with FakeTopview(deliveries=mode, delay=0.5) as fake:
        point_settings_at(settings, fake, live_server.url)
        status, created = call(f"{live_server.url}/api/tasks/", token,
                               {"kind": "m2v", "params": {"productLink": "https://shop/p"}})
        assert (status, created["status"]) == (201, "queued")
        task_url = f"{live_server.url}/api/tasks/{created['id']}/"

        def finished():
            task = call(task_url, token)[1]
            return task if task["status"] == "success" else None

        done = wait_until(finished)
        fake.join()
        task_id = created["topview_task_id"]
        assert [d.http_status for d in fake.deliveries] == [200] * notices
    assert done["video_url"] == f"{fake.media_base}{task_id}/video.mp4"
    assert done["cover_url"] == f"{fake.media_base}{task_id}/cover.png"
    stored = Notice.objects.filter(topview_task_id=task_id)
    wait_until(lambda: stored.count() == notices and not stored.exclude(state=NoticeState.DONE).exists())
    assert stored.filter(is_duplicate=True).count() == (1 if mode == "twice" else 0)
    assert call(task_url, token)[1]["status"] == "success"  # the late "running" changed nothing
