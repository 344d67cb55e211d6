import json
import re

import pytest
from django.db import OperationalError

from notices import views
from notices.models import Notice
from tasks.models import Task

pytestmark = pytest.mark.django_db
URL = "/notice/topview"


def post(client, body, content_type="application/json", **headers):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(URL, raw, content_type=content_type, headers=headers)


def test_get_says_the_endpoint_is_alive(client):
    response = client.get(URL)
    assert response.status_code == 200
    assert response.json() == {
        "message": "Topview notice endpoint is active",
        "endpoint": "/notice/topview",
        "methods": ["POST", "GET"],
        "description": "Webhook endpoint for Topview AI notifications",
    }


def test_simple_notice_is_acknowledged_with_a_utc_timestamp(client):
    response = post(client, {"taskId": "t", "status": "success"})
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["message"] == "Notice received successfully"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", body["timestamp"])


def test_topview_callback_gets_topviews_acknowledgement(client, settings):
    settings.TOPVIEW_UID = ""
    body = {"uuid": "n-9", "bizType": "M2V_EXPORT", "taskId": "t", "status": "success"}
    response = post(client, body, **{"Topview-Uid": "uid-from-header"})
    assert response.json() == {
        "code": "200", "message": "Success",
        "result": {"uuid": "n-9", "topviewUid": "uid-from-header", "result": "success"},
    }
    settings.TOPVIEW_UID = "our-uid"
    again = post(client, body, **{"Topview-Uid": "our-uid"})
    assert again.status_code == 200 and again.json()["result"]["topviewUid"] == "our-uid"
    assert Notice.objects.filter(is_duplicate=True).count() == 1


def test_partial_body_is_accepted_with_warnings_kept(client):
    assert post(client, {"test": "data"}).status_code == 200
    assert Notice.objects.get().warnings == [
        "taskId missing: default unknown", "status missing: default unknown"]


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [(b"not json", "text/plain"), (b"[1,2]", "application/json"), (b"\xff\xfe\x00", "application/json"),
     (b"", "application/json"), (b"a=1&b=2", "application/x-www-form-urlencoded")],
)
def test_bad_bodies_are_stored_and_answered_400(client, raw, content_type):
    response = post(client, raw, content_type=content_type)
    assert response.status_code == 400
    assert response.json()["success"] is False and response.json()["error"]
    notice = Notice.objects.get()
    assert bytes(notice.raw_body) == raw and notice.format == "invalid"


@pytest.mark.parametrize(
    "raw",
    [b'{"taskId": "t\\u0000", "status": "success\\u0000", "m": "\\udfff"}',
     json.dumps({"taskId": "t", "status": "running", "message": "x" * 900_000}).encode(),
     b'{"a":' * 5000 + b"1" + b"}" * 5000,
     b'{"big": 1e400, "int": ' + b"9" * 4000 + b"}"],
)
def test_hostile_bodies_never_give_a_500(client, raw):
    response = post(client, raw)
    assert response.status_code in (200, 400)
    assert bytes(Notice.objects.get().raw_body) == raw


def test_a_body_over_the_limit_is_413_with_its_size_and_first_bytes_kept(client, settings):
    settings.NOTICE_MAX_BODY_BYTES = 1000
    raw = b'{"taskId": "' + b"x" * 5000 + b'"}'
    response = post(client, raw)
    assert response.status_code == 413
    notice = Notice.objects.get()
    assert notice.body_size == len(raw) and bytes(notice.raw_body) == raw[:1000]


def test_a_database_failure_is_a_503_with_an_error_id_and_no_traceback(client, monkeypatch, caplog, settings):
    settings.DEBUG = False

    def unreachable(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(views, "notice_receive", unreachable)
    response = post(client, {"taskId": "t", "status": "success"})
    assert response.status_code == 503
    body = response.json()
    assert set(body) == {"success", "error", "error_id"} and body["success"] is False
    assert body["error_id"] in caplog.text and "Traceback" not in response.content.decode()


def test_secret_headers_are_not_stored(client):
    post(client, {"taskId": "t"}, Authorization="Bearer s3cret", **{"X-Notice-Token": "tok"})
    headers = Notice.objects.get().headers
    assert headers["Authorization"] == "[redacted]" and headers["X-Notice-Token"] == "[redacted]"
    assert "s3cret" not in json.dumps(headers)


def test_the_test_endpoint_stores_and_processes_a_test_notice(client):
    response = client.post(URL + "/test")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["message"] == "Test notification processed"
    assert {k: v for k, v in body["test_data"].items() if k != "timestamp"} == {
        "taskId": "test_task_123", "status": "success", "message": "Test notification received"}
    notice = Notice.objects.get()
    assert notice.is_test and notice.state == "done"
    assert Task.objects.get(topview_task_id="test_task_123").status == "success"


def test_the_received_log_lines_carry_the_notice_id(client, caplog):
    caplog.set_level("INFO", logger="notices")
    post(client, {"taskId": "task_123", "status": "success"})
    notice_id = Notice.objects.get().pk
    assert f"Received Topview notice: {{'taskId': 'task_123', 'status': 'success'}} (notice {notice_id})" in caplog.text
    assert f"Topview task task_123 status: success (notice {notice_id})" in caplog.text


def test_a_lying_content_length_is_still_a_413_with_the_audit_row(client, settings):
    settings.NOTICE_MAX_BODY_BYTES = 100
    raw = b"x" * 500
    response = client.generic("POST", URL, raw, content_type="application/json",
                              CONTENT_LENGTH=str(2**64))
    assert response.status_code == 413
    notice = Notice.objects.get()
    assert notice.body_size == 2**63 - 1 and bytes(notice.raw_body) == raw[:100]


def test_nul_in_a_header_name_or_value_is_stored_replaced(client):
    response = client.post(URL, b'{"taskId": "t"}', content_type="application/json",
                           **{"HTTP_X_A\x00B": "v\x00w"})
    assert response.status_code == 200
    assert Notice.objects.get().headers["X-A\ufffdB"] == "v\ufffdw"


def test_a_notice_asking_for_html_is_still_stored_and_answered_in_json(client):
    response = post(client, {"taskId": "t", "status": "success"}, Accept="text/html")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.json()["success"] is True and Notice.objects.count() == 1
