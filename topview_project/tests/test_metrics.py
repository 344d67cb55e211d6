import json
import os
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from conftest import ROOT, database_url
from notices.models import Notice, NoticeState
from notices.services import notice_process, notice_receive
from tasks.models import Notification, Task
from tasks.services import notification_send

pytestmark = pytest.mark.django_db
URL = "/notice/topview"
TOKEN = "a-token-of-sixteen-chars-or-more"


def scrape(text: str) -> dict[tuple, float]:
    """Every sample of an exposition, by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def get_metrics(client) -> dict[tuple, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return scrape(response.content.decode())


def grew(before, after, name, **labels) -> float:
    key = (name, tuple(sorted(labels.items())))
    assert key in after, f"{key} not exposed"
    return after[key] - before.get(key, 0.0)


def post(client, body, **headers):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(URL, raw, content_type="application/json", headers=headers)


def test_notices_are_counted_by_format_and_outcome_and_timed(client, settings):
    before = get_metrics(client)
    assert post(client, {"taskId": "t-1", "status": "success"}).status_code == 200
    assert post(client, {"uuid": "u-1", "taskId": "t-2", "status": "running"}).status_code == 200
    assert post(client, b"not json").status_code == 400
    settings.NOTICE_TOKENS = [TOKEN]
    assert post(client, {"taskId": "t-3", "status": "success"}).status_code == 401
    settings.NOTICE_TOKENS, settings.TOPVIEW_UID = [], "ours"
    refused = post(client, {"uuid": "u-2", "taskId": "t-4", "status": "success"},
                   **{"Topview-Uid": "theirs"})
    assert refused.status_code == 403
    client.get(URL)  # Not a notice: not counted.
    after = get_metrics(client)

    received = "topview_notices_received_total"
    assert grew(before, after, received, format="simple", outcome="2xx") == 1
    assert grew(before, after, received, format="topview", outcome="2xx") == 1
    assert grew(before, after, received, format="invalid", outcome="4xx") == 1
    assert grew(before, after, received, format="unknown", outcome="token") == 1
    assert grew(before, after, received, format="topview", outcome="topview_uid") == 1
    assert grew(before, after, "topview_notices_refused_total", reason="token") == 1
    assert grew(before, after, "topview_notices_refused_total", reason="topview_uid") == 1
    assert grew(before, after, "topview_notice_ingest_seconds_count") == 5
    assert grew(before, after, "topview_notice_ingest_seconds_bucket", le="+Inf") == 5


def test_processing_is_timed_and_the_end_to_end_time_observed_once(client):
    raw = b'{"taskId": "t-1", "status": "success"}'
    notice = notice_receive(raw=raw, body_size=len(raw), headers={}, remote_addr=None)
    Notice.objects.filter(pk=notice.pk).update(received_at=timezone.now() - timedelta(seconds=3))
    before = get_metrics(client)
    assert notice_process(notice_id=notice.pk).state == NoticeState.DONE
    notice_process(notice_id=notice.pk)  # Already done: neither an attempt nor a second time.
    after = get_metrics(client)

    assert grew(before, after, "topview_notice_process_seconds_count", outcome="done") == 1
    assert grew(before, after, "topview_notice_end_to_end_seconds_count") == 1
    assert grew(before, after, "topview_notice_end_to_end_seconds_bucket", le="2.5") == 0
    assert grew(before, after, "topview_notice_end_to_end_seconds_bucket", le="5.0") == 1
    assert 3 <= grew(before, after, "topview_notice_end_to_end_seconds_sum") < 30


def test_a_failed_attempt_is_timed_as_failed(client, monkeypatch):
    from notices.services import processing

    def broken(*args, **kwargs):
        raise RuntimeError("task table on fire")

    monkeypatch.setattr(processing, "TaskBatch", broken)
    raw = b'{"taskId": "t-1", "status": "running"}'
    notice = notice_receive(raw=raw, body_size=len(raw), headers={}, remote_addr=None)
    before = get_metrics(client)
    assert notice_process(notice_id=notice.pk).state == NoticeState.FAILED
    after = get_metrics(client)
    assert grew(before, after, "topview_notice_process_seconds_count", outcome="failed") == 1
    assert grew(before, after, "topview_notice_end_to_end_seconds_count") == 0


def test_backlog_and_dead_notices_are_read_at_scrape_time(client, django_assert_num_queries):
    raw = b'{"taskId": "t-1", "status": "running"}'
    notices = [notice_receive(raw=raw, body_size=len(raw), headers={}, remote_addr=None)
               for _ in range(3)]
    Notice.objects.filter(pk=notices[0].pk).update(received_at=timezone.now() - timedelta(minutes=10))
    Notice.objects.filter(pk=notices[2].pk).update(state=NoticeState.DEAD, next_attempt_at=None)
    with django_assert_num_queries(2):
        samples = get_metrics(client)
    assert samples[("topview_notices_open", ())] == 2
    assert samples[("topview_notices_dead", ())] == 1
    assert 600 <= samples[("topview_notices_oldest_open_age_seconds", ())] < 700


def test_an_empty_backlog_has_no_age(client):
    samples = get_metrics(client)
    assert samples[("topview_notices_open", ())] == 0
    assert samples[("topview_notices_oldest_open_age_seconds", ())] == 0


def test_notifications_sent_are_counted(client):
    owner = get_user_model().objects.create_user("ann", email="ann@example.com")
    task = Task.objects.create(topview_task_id="t-1", owner=owner, status="failed")
    notification = Notification.objects.create(task=task, user=owner, status="failed")
    before = get_metrics(client)
    notification_send(notification_id=notification.pk)
    notification_send(notification_id=notification.pk)  # Sent once: counted once.
    after = get_metrics(client)
    assert grew(before, after, "topview_notifications_sent_total", status="failed") == 1


def test_metrics_can_be_turned_off(client, settings):
    settings.METRICS_ENABLED = False
    assert client.get("/metrics").status_code == 404


def test_metrics_need_no_notice_token(client, settings):
    settings.NOTICE_TOKENS = [TOKEN]
    assert client.get("/metrics").status_code == 200


# A process that counts once, forks (as Celery's prefork pool and gunicorn do) and counts in
# the child too; then another process serves /metrics from the same folder.
COUNT_AND_FORK = """
import os, django
django.setup()
from topview_project import metrics
metrics.NOTICES_RECEIVED.labels("simple", "2xx").inc()
child = os.fork()
if child == 0:
    metrics.NOTICES_RECEIVED.labels("simple", "2xx").inc()
    metrics.NOTIFICATIONS_SENT.labels("success").inc()
    os._exit(0)
os.waitpid(child, 0)
"""
SCRAPE = """
import django, sys
django.setup()
from django.test import Client
sys.stdout.write(Client().get("/metrics").content.decode())
"""


def test_processes_sharing_the_multiprocess_folder_add_up(tmp_path, django_db_setup):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "DATABASE_URL": database_url(),
           "DJANGO_SETTINGS_MODULE": "topview_project.settings"}

    def run(script):
        done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    run(COUNT_AND_FORK)
    run(COUNT_AND_FORK)
    samples = scrape(run(SCRAPE))
    assert samples[("topview_notices_received_total",
                    (("format", "simple"), ("outcome", "2xx")))] == 4
    assert samples[("topview_notifications_sent_total", (("status", "success"),))] == 2
    assert ("topview_notices_open", ()) in samples
    # Named by host and process: containers sharing the folder never share a file.
    assert all(name.name.startswith("counter_") or name.name.startswith("histogram_")
               for name in tmp_path.iterdir())
    assert any(os.uname().nodename.replace("_", "-") in name.name for name in tmp_path.iterdir())
