"""The Topview client against the fake Topview (no database)."""

import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest

from tasks import topview_client as tv
from tasks.fake_topview import FakeTopview


@pytest.fixture
def fake():
    with FakeTopview() as fake:
        yield fake


class Sleeps(list):
    """Records the backoff delays instead of sleeping them."""

    def __call__(self, seconds):
        self.append(seconds)


def client_for(fake, *, sleep=None, **options):
    options = {"api_key": fake.api_key, "topview_uid": fake.uid, "timeout": 5, **options}
    sleep = Sleeps() if sleep is None else sleep
    return tv.TopviewClient(base_url=fake.base_url, sleep=sleep, **options)


@pytest.mark.parametrize("kind", list(tv.KINDS.values()), ids=list(tv.KINDS))
def test_submit_and_query_each_kind(fake, kind):
    client = client_for(fake)
    submitted = client.submit(kind, {"productLink": "https://shop/p"}, notice_url="https://us/n/t")
    assert submitted["status"] == "init" and submitted["errorMsg"] == ""
    task = fake.tasks[submitted["taskId"]]
    assert (task.kind, task.notice_url) == (kind, "https://us/n/t")
    assert task.payload == {"productLink": "https://shop/p", "noticeUrl": "https://us/n/t"}
    assert fake.requests[-1]["path"] == kind.submit_path

    assert client.query(kind.name, task.task_id)["status"] == "init"
    fake.set_status(task.task_id, "success")
    done = client.query(kind, task.task_id, cloudfront=True)
    assert done["status"] == "success" and done["taskId"] == task.task_id
    assert len(done) > 3  # the kind's result fields
    assert fake.queries[-1] == (kind.query_path, task.task_id)
    assert fake.requests[-1]["query"] == {"taskId": task.task_id, "needCloudFrontUrl": "true"}


def test_every_request_carries_the_auth_headers(fake):
    client_for(fake).query("m2v", fake.add_task("t-1").task_id)
    headers = fake.requests[-1]["headers"]
    assert headers["authorization"] == "Bearer fake-key"
    assert headers["topview-uid"] == "fake-uid"


@pytest.mark.parametrize("wrong", [{"api_key": "nope"}, {"topview_uid": "someone-else"}])
def test_wrong_credentials_are_unauthorized_and_not_retried(fake, wrong):
    sleeps = Sleeps()
    with pytest.raises(tv.TopviewUnauthorized) as caught:
        client_for(fake, sleep=sleeps, **wrong).query("m2v", "t-1")
    assert (caught.value.code, caught.value.http_status) == ("401", 401)
    assert sleeps == []


def test_unknown_task_is_not_found(fake):
    fake.add_task("t-1", kind="text2video")
    with pytest.raises(tv.TopviewNotFound):
        client_for(fake).query("m2v", "t-1")  # asked at another kind's endpoint


@pytest.mark.parametrize("code", list(tv.ERRORS))
def test_each_error_code_maps_to_its_class(fake, code):
    fake.fail_next(code, times=10, message="told so")
    with pytest.raises(tv.ERRORS[code]) as caught:
        client_for(fake, retries=1).query("m2v", "t-1")
    assert isinstance(caught.value, tv.TopviewError)
    error = caught.value
    assert (error.code, error.message, error.http_status) == (code, "told so", 200)


def test_error_classes_named_by_the_brief():
    assert tv.ERRORS["4004"] is tv.TopviewNotFound
    assert tv.ERRORS["4100"] is tv.TopviewInsufficientCredit
    assert issubclass(tv.ERRORS["5003"], tv.TopviewServerError)
    assert {tv.ERRORS[c] for c in ("5000", "5001", "5004", "5005")} == {tv.TopviewServerError}


def test_integer_and_unknown_codes():
    assert tv._unwrap(b'{"code": 200, "message": "ok", "result": {"a": 1}}', 200) == {"a": 1}
    with pytest.raises(tv.TopviewInsufficientCredit):
        tv._unwrap(b'{"code": 4100, "message": "no credit"}', 200)
    with pytest.raises(tv.TopviewError) as caught:
        tv._unwrap(b'{"code": "4999", "message": "new"}', 200)
    assert type(caught.value) is tv.TopviewError and caught.value.code == "4999"
    assert type(tv.error_for("5999")) is tv.TopviewServerError


@pytest.mark.parametrize("fail", [lambda f: f.fail_next("5003", times=2),
                                  lambda f: f.fail_next_http(500, times=2),
                                  lambda f: f.fail_next("5001", times=2, http_status=502)],
                         ids=["busy", "http-500", "5001-on-502"])
def test_retried_with_backoff_then_success(fake, fail):
    sleeps = Sleeps()
    fake.add_task("t-1", "running")
    fail(fake)
    client = client_for(fake, sleep=sleeps, backoff_seconds=0.5)
    assert client.query("m2v", "t-1")["status"] == "running"
    assert sleeps == [0.5, 1.0]
    assert len(fake.queries) == 3


def test_the_last_error_is_raised_after_the_last_retry(fake):
    sleeps = Sleeps()
    fake.fail_next("5003", times=4)
    with pytest.raises(tv.TopviewBusy):
        client_for(fake, sleep=sleeps, retries=3).query("m2v", "t-1")
    assert sleeps == [1.0, 2.0, 4.0] and len(fake.queries) == 4


@pytest.mark.parametrize("code, error", [("4004", tv.TopviewNotFound),
                                         ("4100", tv.TopviewInsufficientCredit),
                                         ("4007", tv.TopviewUnfinishedTaskExists)])
def test_4xxx_is_never_retried(fake, code, error):
    sleeps = Sleeps()
    fake.fail_next(code, times=5)
    with pytest.raises(error):
        client_for(fake, sleep=sleeps).submit("m2v", {}, notice_url="https://us/n")
    assert sleeps == [] and len(fake.requests) == 1


@pytest.mark.parametrize("body, status", [
    (b"<html>oops</html>", 200), (b"", 200), (b"[1, 2]", 200), (b'{"message": "no code"}', 200),
    (b'{"code": null}', 200), (b'{"code": "200", "result": "text"}', 200), (b"not found", 404),
])
def test_malformed_answers_are_protocol_errors(body, status):
    with serving(body, status) as base_url:
        client = tv.TopviewClient(base_url=base_url, api_key="k", topview_uid="u", timeout=5,
                                  sleep=Sleeps())
        with pytest.raises(tv.TopviewProtocolError):
            client.query("m2v", "t-1")


def test_a_deeply_nested_answer_is_a_protocol_error():
    with pytest.raises(tv.TopviewProtocolError):
        tv._unwrap(b"[" * 100_000 + b"]" * 100_000, 200)


def test_connection_refused_is_retried_then_raised():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps = Sleeps()
    client = tv.TopviewClient(base_url=f"http://127.0.0.1:{port}", api_key="k", topview_uid="u",
                              timeout=2, retries=2, sleep=sleeps)
    with pytest.raises(tv.TopviewConnectionError):
        client.query("m2v", "t-1")
    assert sleeps == [1.0, 2.0]


def test_timeouts_are_honoured_and_retried(fake):
    sleeps = Sleeps()
    fake.add_task("t-1")
    fake.stall_next(3.0, times=2)
    started = time.monotonic()
    assert client_for(fake, sleep=sleeps, timeout=0.2).query("m2v", "t-1")["status"] == "init"
    assert time.monotonic() - started < 2.5
    assert sleeps == [1.0, 2.0]


def test_a_timeout_on_every_try_raises(fake):
    fake.stall_next(3.0, times=2)
    started = time.monotonic()
    with pytest.raises(tv.TopviewConnectionError):
        client_for(fake, timeout=0.2, retries=1).query("m2v", "t-1")
    assert time.monotonic() - started < 2.5


def test_check_notice_url(fake):
    assert client_for(fake).check_notice_url("https://us/notice/topview/t")["result"] == "success"
    assert fake.checked_urls == ["https://us/notice/topview/t"]
    sent = fake.requests[-1]
    assert sent["path"] == "/notice/notice_url/check"
    assert sent["body"] == {"noticeUrl": "https://us/notice/topview/t"}


def test_kind_for_biz_type():
    assert tv.kind_for_biz_type("M2V_EXPORT") is tv.KINDS["m2v"]
    assert tv.kind_for_biz_type(" common_task_text2video ") is tv.KINDS["text2video"]
    replace = tv.kind_for_biz_type("PRODUCT_AVATAR_REPLACE_PRODUCT_IMAGE")
    assert replace is tv.KINDS["product_avatar_image2video"]
    assert tv.kind_for_biz_type("VOICE_CLONE") is None
    assert tv.kind_for_biz_type(None) is None


def test_notice_url(settings):
    settings.PUBLIC_BASE_URL = "https://abc.ngrok-free.app"
    settings.NOTICE_TOKENS = []
    assert tv.notice_url() == "https://abc.ngrok-free.app/notice/topview"
    settings.NOTICE_TOKENS = ["current-token-0123456789", "old-token-0123456789"]
    assert tv.notice_url() == "https://abc.ngrok-free.app/notice/topview/current-token-0123456789"
    assert tv.notice_url("other-token") == "https://abc.ngrok-free.app/notice/topview/other-token"
    settings.PUBLIC_BASE_URL = ""
    with pytest.raises(tv.TopviewNotConfigured, match="PUBLIC_BASE_URL"):
        tv.notice_url()


@pytest.mark.parametrize("missing", ["TOPVIEW_API_KEY", "TOPVIEW_UID"])
def test_from_settings_needs_key_and_uid(settings, missing):
    settings.TOPVIEW_API_KEY, settings.TOPVIEW_UID = "key", "uid"
    setattr(settings, missing, "")
    assert not tv.is_configured()
    with pytest.raises(tv.TopviewNotConfigured):
        tv.TopviewClient.from_settings()


def test_from_settings(settings, fake):
    settings.TOPVIEW_API_KEY, settings.TOPVIEW_UID = fake.api_key, fake.uid
    settings.TOPVIEW_API_BASE_URL, settings.TOPVIEW_API_TIMEOUT_SECONDS = fake.base_url + "/", 7
    assert tv.is_configured()
    client = tv.TopviewClient.from_settings()
    assert (client.base_url, client.timeout) == (fake.base_url, 7)
    assert client.submit("photo_avatar", {}, notice_url="https://us/n")["status"] == "init"


class serving:
    """A server answering every request with these bytes and this status."""

    def __init__(self, body: bytes, status: int):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    def __enter__(self):
        Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_a_redirect_is_not_followed_with_the_api_key():
    """urllib would carry Authorization to wherever a 3xx points."""
    import http.server
    import threading

    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, self.headers.get("Authorization")))
            self.send_response(302)
            self.send_header("Location", f"http://127.0.0.1:{self.server.server_port}/elsewhere")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = tv.TopviewClient(base_url=f"http://127.0.0.1:{server.server_port}", api_key="k",
                               topview_uid="u", timeout=5, retries=0)
        with pytest.raises(tv.TopviewError):
            client.query("m2v", "t-1")
    finally:
        server.shutdown()
    assert [path for path, _ in seen] == ["/v1/m2v/task/query?taskId=t-1"]


# -- a submit is retried only when Topview cannot have acted on it --------------------------


@pytest.mark.parametrize("fault", [
    lambda f: f.stall_next(3.0), lambda f: f.reset_next(),
    lambda f: f.fail_next("5000"), lambda f: f.fail_next("5001", http_status=502),
    lambda f: f.fail_next_http(500), lambda f: f.fail_next_http(503),
], ids=["timeout", "reset", "5000", "5001-on-502", "http-500", "http-503"])
def test_a_submit_that_may_have_reached_topview_is_not_retried(fake, fault):
    sleeps = Sleeps()
    fault(fake)
    started = time.monotonic()
    with pytest.raises(tv.TopviewSubmitUncertain, match="may have been created") as caught:
        client_for(fake, sleep=sleeps, timeout=0.3).submit("m2v", {}, notice_url="https://us/n")
    assert time.monotonic() - started < 2.5
    assert isinstance(caught.value.__cause__, (tv.TopviewServerError, tv.TopviewConnectionError))
    assert sleeps == [] and len(fake.requests) == 1


def test_a_submit_whose_answer_was_lost_created_its_task_exactly_once(fake):
    """The fault the rule is for: the task exists at Topview although the client saw an error."""
    fake.reset_next()
    with pytest.raises(tv.TopviewSubmitUncertain):
        client_for(fake).submit("m2v", {"a": 1}, notice_url="https://us/n")
    assert len(fake.tasks) == 1


def test_a_busy_submit_is_retried_and_creates_one_task(fake):
    sleeps = Sleeps()
    fake.fail_next("5003", times=2)
    submitted = client_for(fake, sleep=sleeps).submit("m2v", {}, notice_url="https://us/n")
    assert sleeps == [1.0, 2.0] and list(fake.tasks) == [submitted["taskId"]]


def test_a_submit_busy_on_every_try_raises_busy(fake):
    fake.fail_next("5003", times=4)
    with pytest.raises(tv.TopviewBusy):
        client_for(fake, retries=3).submit("m2v", {}, notice_url="https://us/n")
    assert fake.tasks == {}


def test_a_refused_submit_is_retried_once_topview_listens_again(fake):
    fake.refuse_connections()
    sleeps = []

    def sleep(seconds):  # Topview comes back while the client waits.
        sleeps.append(seconds)
        fake.start_listening()

    submitted = client_for(fake, sleep=sleep).submit("m2v", {}, notice_url="https://us/n")
    assert sleeps == [1.0] and list(fake.tasks) == [submitted["taskId"]]


def test_a_submit_refused_on_every_try_raises_not_reached(fake):
    fake.refuse_connections()
    sleeps = Sleeps()
    with pytest.raises(tv.TopviewNotReached):
        client_for(fake, sleep=sleeps, retries=2).submit("m2v", {}, notice_url="https://us/n")
    assert sleeps == [1.0, 2.0]


def test_query_and_check_are_still_retried_after_a_reset(fake):
    sleeps = Sleeps()
    fake.add_task("t-1", "running")
    fake.reset_next(times=2)
    assert client_for(fake, sleep=sleeps).query("m2v", "t-1")["status"] == "running"
    fake.reset_next()
    assert client_for(fake, sleep=sleeps).check_notice_url("https://us/n")["result"] == "success"
    assert sleeps == [1.0, 2.0, 1.0]
