"""The whole flow over real connections: a live server, PostgreSQL, Redis and a Celery worker."""

import json
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.request import Request, urlopen

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from notices.models import Notice, NoticeState
from notices.services import notice_replay
from tasks.models import Notification, Task
from topview_project import broker

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fast_outbox"),
]


def post(url, body, **headers):
    request = Request(url, data=json.dumps(body).encode(), method="POST",
                      headers={"Content-Type": "application/json", **headers})
    with urlopen(request, timeout=30) as response:
        return response.status, json.loads(response.read())


def emails_sent(mail_dir: Path, task_id: str) -> int:
    """Emails the worker really sent about one task (the file-based backend writes them out)."""
    return mails(mail_dir).count(f"\nSubject: Topview task {task_id} ")


def owned_task(task_id):
    owner = get_user_model().objects.create_user(f"owner-{task_id}", email=f"{task_id}@example.com")
    return Task.objects.create(topview_task_id=task_id, owner=owner)


def test_a_posted_notice_ends_as_a_finished_task_with_one_notification(
    live_server, celery_worker_process, wait_until
):
    task_id = f"t-{uuid.uuid4().hex[:8]}"
    owned_task(task_id)
    url = live_server.url + "/notice/topview"
    for status in ("init", "running", "success"):
        answer = post(url, {"uuid": uuid.uuid4().hex, "taskId": task_id, "status": status,
                            "bizType": "M2V_EXPORT",
                            "result": {"exportVideos": [{"videoUrl": "https://cdn/v.mp4"}]}},
                      **{"Topview-Uid": "uid-1"})
        assert answer[0] == 200 and answer[1]["code"] == "200"
    wait_until(lambda: not Notice.objects.exclude(state=NoticeState.DONE).exists())
    task = Task.objects.get(topview_task_id=task_id)
    assert (task.status, task.video_url) == ("success", "https://cdn/v.mp4")
    wait_until(lambda: Notification.objects.filter(task=task, sent_at__isnull=False).exists())
    assert emails_sent(celery_worker_process, task_id) == 1


def test_out_of_order_notices_converge_on_the_final_status(live_server, celery_worker_process, wait_until):
    task_id = f"t-{uuid.uuid4().hex[:8]}"
    url = live_server.url + "/notice/topview"
    for status in ("fail", "running", "init", "processing"):
        post(url, {"uuid": uuid.uuid4().hex, "taskId": task_id, "status": status, "errorMsg": "boom"})
    wait_until(lambda: Notice.objects.filter(task__isnull=False).count() == 4)
    task = Task.objects.get(topview_task_id=task_id)
    assert (task.status, task.error_message) == ("failed", "boom")
    # Two worker processes may take them in any order: late are those applied after the failure.
    final = Notice.objects.get(status="fail")
    late = {n.pk for n in Notice.objects.exclude(pk=final.pk) if n.processed_at > final.processed_at}
    assert set(Notice.objects.filter(is_late=True).values_list("pk", flat=True)) == late


def test_twenty_concurrent_deliveries_of_one_uuid_have_one_effect(
    live_server, celery_worker_process, wait_until
):
    task_id = f"t-{uuid.uuid4().hex[:8]}"
    owned_task(task_id)
    body = {"uuid": uuid.uuid4().hex, "taskId": task_id, "status": "success", "bizType": "M2V_EXPORT"}
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: post(live_server.url + "/notice/topview", body), range(20)))
    assert [status for status, _ in answers] == [200] * 20
    assert {answer["result"]["uuid"] for _, answer in answers} == {body["uuid"]}
    assert Notice.objects.count() == 20
    assert Notice.objects.filter(is_duplicate=False).count() == 1
    wait_until(lambda: not Notice.objects.exclude(state=NoticeState.DONE).exists())
    assert Task.objects.get(topview_task_id=task_id).status == "success"
    wait_until(lambda: Notification.objects.filter(sent_at__isnull=False).count() == 1)
    assert emails_sent(celery_worker_process, task_id) == 1


def curl(*args):
    done = subprocess.run(["curl", "-s", *args], capture_output=True, timeout=30, check=True)
    return done.stdout.decode()


def test_the_original_designs_curl_commands_give_the_documented_answers(live_server):
    base = live_server.url
    # Usage, step 2.
    assert json.loads(curl(f"{base}/notice/topview")) == {
        "message": "Topview notice endpoint is active", "endpoint": "/notice/topview",
        "methods": ["POST", "GET"], "description": "Webhook endpoint for Topview AI notifications"}
    test = json.loads(curl("-X", "POST", f"{base}/notice/topview/test"))
    assert (test["success"], test["message"]) == (True, "Test notification processed")
    assert test["test_data"]["taskId"] == "test_task_123"
    # Usage, step 3.
    real = json.loads(curl("-X", "POST", f"{base}/notice/topview", "-H", "Content-Type: application/json",
                           "-d", '{"taskId": "real_task_123", "status": "success", '
                           '"message": "Video generation completed", "timestamp": "2024-01-01T00:00:00Z"}'))
    assert (real["success"], real["message"]) == (True, "Notice received successfully")
    # Debug commands.
    verbose = subprocess.run(["curl", "-v", f"{base}/notice/topview"], capture_output=True, timeout=30)
    assert b"< HTTP/1.1 200" in verbose.stderr
    partial = subprocess.run(["curl", "-X", "POST", f"{base}/notice/topview", "-H",
                              "Content-Type: application/json", "-d", '{"test": "data"}', "-v"],
                             capture_output=True, timeout=30)
    assert b"< HTTP/1.1 200" in partial.stderr
    assert json.loads(partial.stdout)["success"] is True
    assert Notice.objects.get(topview_task_id="real_task_123").format == "simple"


def test_a_notice_whose_message_the_broker_lost_is_swept_to_the_worker(
    live_server, celery_worker_process, wait_until, monkeypatch
):
    monkeypatch.setattr(broker, "send", lambda task, *args: False)  # The message is lost.
    task_id = f"t-{uuid.uuid4().hex[:8]}"
    status, _ = post(live_server.url + "/notice/topview", {"uuid": uuid.uuid4().hex, "taskId": task_id, "status": "success"})
    assert status == 200
    notice = Notice.objects.get(topview_task_id=task_id)
    assert notice.state == NoticeState.PENDING
    # The worker's beat sweeps every second; the notice is due two seconds after it was stored.
    wait_until(lambda: Notice.objects.get(pk=notice.pk).state == NoticeState.DONE)
    assert Task.objects.get(topview_task_id=task_id).status == "success"


@pytest.fixture
def poisoned_tasks():
    """A database trigger that refuses tasks named poison-*: a real failure, in the worker."""
    with connection.cursor() as cursor:
        cursor.execute(POISON)
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS poison ON tasks_task; DROP FUNCTION poison()")


POISON = """
CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN
  IF NEW.topview_task_id LIKE 'poison-%' THEN RAISE EXCEPTION 'poisoned task'; END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER poison BEFORE INSERT ON tasks_task FOR EACH ROW EXECUTE FUNCTION poison();
"""


def test_a_failing_notice_is_retried_dies_alerts_once_and_replays_after_the_fix(
    live_server, celery_worker_process, wait_until, poisoned_tasks
):
    task_id = f"poison-{uuid.uuid4().hex[:8]}"
    post(live_server.url + "/notice/topview", {"uuid": uuid.uuid4().hex, "taskId": task_id, "status": "success"})
    notice = Notice.objects.get(topview_task_id=task_id)
    # Attempts 1, 2 and 3, one and two seconds apart (doubling), then dead.
    notice = wait_until(lambda: Notice.objects.filter(pk=notice.pk, state=NoticeState.DEAD).first())
    assert notice.attempts == 3 and "poisoned task" in notice.last_error
    wait_until(lambda: Notice.objects.get(pk=notice.pk).alerted_at)
    alert = f"Subject: [Django] Notice {notice.pk} is dead"
    assert wait_until(lambda: mails(celery_worker_process).count(alert)) == 1
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER poison ON tasks_task")  # The cause is fixed.
    assert notice_replay(notices=Notice.objects.filter(pk=notice.pk)) == 1
    wait_until(lambda: Notice.objects.get(pk=notice.pk).state == NoticeState.DONE)
    assert Task.objects.get(topview_task_id=task_id).status == "success"
    assert mails(celery_worker_process).count(alert) == 1


def mails(mail_dir: Path) -> str:
    return "".join(path.read_text() for path in mail_dir.glob("*.log"))
