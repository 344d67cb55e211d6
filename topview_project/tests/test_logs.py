import json
import logging
import os
import subprocess
import sys

import pytest

from conftest import ROOT, database_url
from notices.models import Notice
from topview_project.logcontext import LogContextFilter, log_context
from topview_project.logjson import JsonFormatter

URL = "/notice/topview"
NOTICE = b'{"taskId": "t-json", "status": "success"}'


@pytest.mark.django_db
def test_a_sane_request_id_is_kept_and_answered(client):
    response = client.get(URL, headers={"X-Request-ID": "req-1.a_B"})
    assert response["X-Request-ID"] == "req-1.a_B"


@pytest.mark.django_db
@pytest.mark.parametrize("given", [None, "", "x" * 65, "has space", "quote\"", "new\nline"])
def test_a_missing_or_odd_request_id_is_replaced(client, given):
    headers = {"X-Request-ID": given} if given is not None else {}
    answered = client.get(URL, headers=headers)["X-Request-ID"]
    assert answered != given and len(answered) == 32 and answered.isalnum()


def test_the_formatter_writes_one_json_object_with_the_context_and_the_traceback():
    record = logging.LogRecord("notices", logging.ERROR, __file__, 1, "Notice %s failed", (7,), None)
    try:
        raise ValueError("boom")
    except ValueError:
        record.exc_info = sys.exc_info()
    with log_context(request_id="r-1", notice_id=7, task_id=""):
        LogContextFilter().filter(record)
    line = JsonFormatter().format(record)
    assert len(line.splitlines()) == 1  # The traceback's newlines are escaped.
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "notices"
    assert entry["message"] == "Notice 7 failed"
    assert entry["request_id"] == "r-1" and entry["notice_id"] == 7 and "task_id" not in entry
    assert entry["time"].endswith("+00:00") and "ValueError: boom" in entry["exception"]


# A process of its own, configured by LOG_FORMAT=json as a deployment would be: its console
# handler's output (stderr) is read back. Tasks run in-process, so processing logs there too.
POST_A_NOTICE = f"""
import django
django.setup()
from django.test import Client
response = Client().post("{URL}", {NOTICE!r}, content_type="application/json",
                         headers={{"X-Request-ID": "req-42"}})
print(response.status_code, response["X-Request-ID"])
"""


@pytest.mark.django_db(transaction=True)
def test_json_logs_carry_the_request_id_notice_id_and_task_id(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"}
    env.update(LOG_FORMAT="json", LOG_LEVEL="INFO", DATABASE_URL=database_url(),
               NOTICE_TOKENS="", DJANGO_SETTINGS_MODULE="topview_project.settings")
    done = subprocess.run([sys.executable, "-c", POST_A_NOTICE], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["200", "req-42"]
    entries = [json.loads(line) for line in done.stderr.splitlines()]  # Every line is JSON.
    notice_id = Notice.objects.get().pk
    received = [e for e in entries if e["message"].startswith("Received Topview notice: ")]
    assert received == [{
        "time": received[0]["time"], "level": "INFO", "logger": "notices.services.receiving",
        "message": f"Received Topview notice: {{'taskId': 't-json', 'status': 'success'}} "
                   f"(notice {notice_id})",
        "request_id": "req-42", "notice_id": notice_id, "task_id": "t-json",
    }]
    status = [e for e in entries if e["message"].startswith("Topview task t-json status: success")]
    assert status and status[0]["notice_id"] == notice_id and status[0]["request_id"] == "req-42"


def test_the_token_filter_still_applies_to_json_lines(settings):
    settings.NOTICE_TOKENS = ["a-token-of-sixteen-chars-or-more"]
    handler_filters = settings.LOGGING["handlers"]["console"]["filters"]
    assert handler_filters == ["log_context", "redact_tokens"]
    from topview_project.logfilters import RedactNoticeTokens

    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1,
                               "Bad: /notice/topview/%s", ("a-token-of-sixteen-chars-or-more",), None)
    RedactNoticeTokens().filter(record)
    assert "sixteen" not in json.loads(JsonFormatter().format(record))["message"]
