"""`manage.py send_test_notice`: real HTTP against the live server, the notice stored and processed."""

import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import CommandError, call_command

from notices.models import Notice, NoticeState

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

live = pytest.mark.django_db(transaction=True)


@pytest.fixture
def endpoint(live_server, eager_celery):
    return live_server.url + "/notice/topview"


@pytest.fixture
def answers_400():
    """A local server that answers every POST with 400 and a JSON body."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = b'{"success": false, "error": "refused by test server"}'
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/notice/topview"
    server.shutdown()
    server.server_close()


def send(*args) -> str:
    out = io.StringIO()
    call_command("send_test_notice", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@live
def test_simple_format_is_stored_processed_and_answered(endpoint):
    out = send("--url", endpoint, "--task-id", "task_simple_1", "--status", "success")

    notice = Notice.objects.get()
    assert notice.format == "simple"
    assert (notice.topview_task_id, notice.status) == ("task_simple_1", "success")
    assert notice.payload["message"] == "Test notice from send_test_notice"
    assert notice.payload["timestamp"].endswith("Z")
    assert notice.headers["Content-Type"] == "application/json"
    assert notice.state == NoticeState.DONE
    assert notice.task.topview_task_id == "task_simple_1"
    assert out.startswith("HTTP 200 OK\n")
    assert json.loads(out.split("\n", 1)[1])["message"] == "Notice received successfully"


@live
@pytest.mark.parametrize("status, has_result", [("success", True), ("fail", False)])
def test_topview_format_gets_topviews_acknowledgement(endpoint, settings, status, has_result):
    settings.TOPVIEW_UID = "uid-42"
    out = send("--url", endpoint, "--format", "topview", "--status", status)

    notice = Notice.objects.get()
    assert notice.format == "topview"
    assert len(notice.notice_uuid) == 32
    assert notice.topview_task_id.startswith("test_task_")
    assert notice.biz_type == "M2V_EXPORT"
    assert notice.headers["Topview-Uid"] == "uid-42"
    assert bool(notice.payload["result"]) is has_result
    assert bool(notice.payload["errorMsg"]) is not has_result
    assert notice.state == NoticeState.DONE
    answer = json.loads(out.split("\n", 1)[1])
    assert answer["code"] == "200"
    assert answer["result"]["uuid"] == notice.notice_uuid


@live
def test_topview_uid_defaults_when_unset(endpoint, settings):
    settings.TOPVIEW_UID = ""
    send("--url", endpoint, "--format", "topview")
    assert Notice.objects.get().headers["Topview-Uid"] == "test-topview-uid"


@live
def test_resend_posts_the_exact_stored_bytes(endpoint):
    send("--url", endpoint, "--format", "topview")
    first = Notice.objects.get()

    out = send("--url", endpoint, "--resend", str(first.pk))

    second = Notice.objects.exclude(pk=first.pk).get()
    assert bytes(second.raw_body) == bytes(first.raw_body)
    assert second.headers["Topview-Uid"] == first.headers["Topview-Uid"]
    assert second.headers["Content-Type"] == "application/json"
    assert second.is_duplicate  # Same uuid: Topview's retry, as the endpoint sees it.
    assert '"code": "200"' in out


@live
def test_resend_of_an_invalid_body_is_byte_identical_and_fails(endpoint):
    raw = b'\xff{"taskId": "broken'
    request = urllib.request.Request(
        endpoint, data=raw, headers={"Content-Type": "text/plain"}, method="POST"
    )
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(request, timeout=10)
    first = Notice.objects.get()

    with pytest.raises(CommandError, match=r"HTTP 400 Bad Request[\s\S]*not UTF-8"):
        send("--url", endpoint, "--resend", str(first.pk))

    second = Notice.objects.exclude(pk=first.pk).get()
    assert bytes(second.raw_body) == bytes(first.raw_body) == raw
    assert second.format == "invalid"
    assert second.headers["Content-Type"] == "text/plain"


@pytest.mark.django_db
def test_resend_of_a_missing_notice_fails():
    with pytest.raises(CommandError, match="Notice 999999 does not exist"):
        send("--url", "http://127.0.0.1:9/notice/topview", "--resend", "999999")


@pytest.mark.parametrize("option", [["--format", "simple"], ["--task-id", "x"], ["--status", "fail"]])
def test_resend_with_body_options_fails(option):
    with pytest.raises(CommandError, match=f"cannot be combined with {option[0]}"):
        send("--resend", "1", *option)


def test_non_2xx_answer_fails_with_status_and_body(answers_400):
    with pytest.raises(CommandError, match=r"HTTP 400 Bad Request[\s\S]*refused by test server"):
        send("--url", answers_400)


def test_unreachable_url_fails_quickly():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(CommandError, match=f"Could not reach http://127.0.0.1:{port}/"):
        send("--url", f"http://127.0.0.1:{port}/notice/topview", "--timeout", "3")
    assert time.monotonic() - started < 3


@live
def test_default_url_uses_public_base_url(live_server, eager_celery, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    out = send("--task-id", "task_default_url")
    assert Notice.objects.get().topview_task_id == "task_default_url"
    assert out.startswith("HTTP 200 OK")


@live
def test_runs_as_a_real_command(endpoint, answers_400):
    def run(url):
        return subprocess.run(
            [sys.executable, "manage.py", "send_test_notice", "--url", url],
            cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=60,
        )

    ok = run(endpoint)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("HTTP 200 OK")
    assert Notice.objects.get().format == "simple"

    refused = run(answers_400)
    assert refused.returncode != 0
    assert "HTTP 400 Bad Request" in refused.stderr
