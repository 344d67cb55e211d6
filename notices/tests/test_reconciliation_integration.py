"""A callback that never comes: the beat job's run asks (a fake) Topview, and a real worker on
Redis processes the answer, finishes the task and archives its video and cover."""

import hashlib
import uuid

import pytest
from django.core.files.storage import default_storage

from notices import tasks as beat_jobs
from notices.models import Notice, NoticeState
from tasks.fake_topview import FakeTopview
from tasks.models import MediaState, Task
from tasks.tests.media_server import MediaServer
from tasks.topview_client import TopviewClient, notice_url

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fast_outbox"),
]

VIDEO, COVER = b"\x00\x00\x00\x18ftypmp42" * 5000, b"\xff\xd8\xff\xe0jpeg" * 100


@pytest.fixture
def topview(settings, live_server):
    with FakeTopview(uid="our-uid", api_key="our-key") as fake:
        settings.TOPVIEW_UID, settings.TOPVIEW_API_KEY = "our-uid", "our-key"
        settings.TOPVIEW_API_BASE_URL = fake.base_url
        settings.PUBLIC_BASE_URL = live_server.url
        yield fake


def test_a_task_whose_callback_never_comes_is_finished_by_reconciliation(
    topview, celery_worker_process, wait_until
):
    client = TopviewClient.from_settings()
    submitted = client.submit("m2v", {"productName": "demo"}, notice_url=notice_url())
    task_id = submitted["taskId"]
    Task.objects.create(topview_task_id=task_id, kind="m2v", status="queued")
    with MediaServer() as media:
        prefix = f"/{uuid.uuid4().hex}"
        result = {"exportVideos": [{
            "videoUrl": media.serve(f"{prefix}/v.mp4", VIDEO),
            "coverUrl": media.serve(f"{prefix}/c.jpg", COVER, content_type="image/jpeg"),
        }]}
        topview.set_status(task_id, "success", result=result)  # and no callback is ever sent
        assert beat_jobs.reconcile.run() is None and Notice.objects.count() == 0  # not due yet
        Task.objects.filter(topview_task_id=task_id).update(next_poll_at="2000-01-01T00:00:00Z")

        beat_jobs.reconcile.run()  # what beat runs every RECONCILE_INTERVAL_SECONDS

        notice = wait_until(lambda: Notice.objects.filter(
            topview_task_id=task_id, state=NoticeState.DONE).first())
        assert (notice.source, notice.task_status, notice.verification) == ("poll", "success", "confirmed")
        task = Task.objects.get(topview_task_id=task_id)
        assert task.status == "success" and task.next_poll_at is None
        copies = wait_until(lambda: len(done := [
            c for c in task.media_copies.all() if c.state == MediaState.DONE]) == 2 and done)
    assert topview.deliveries == []  # Topview never called back
    by_role = {copy.role: copy for copy in copies}
    for role, body in (("video", VIDEO), ("cover", COVER)):
        copy = by_role[role]
        assert (copy.size, copy.sha256) == (len(body), hashlib.sha256(body).hexdigest())
        with default_storage.open(copy.file.name) as stored:
            assert stored.read() == body
        default_storage.delete(copy.file.name)
