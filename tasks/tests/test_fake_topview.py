"""The fake Topview's callbacks, received by a tiny server of the test's own (no database)."""

import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from notices.parsing import NoticeFormat, parse_notice
from tasks import fake_media
from tasks import topview_client as tv
from tasks.fake_topview import FakeTopview
from tasks.results import extract_result_fields
from topview_project.tests.servers import ROOT


class Receiver:
    """Records every POST (headers, JSON body) and answers `status`."""

    def __init__(self, status: int = 200):
        self.status, self.received, self.lock = status, [], threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.received.append((dict(self.headers), json.loads(raw), self.path))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notice/topview/tok"

    @property
    def bodies(self):
        return [body for _, body, _ in self.received]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def fake():
    with FakeTopview(seed=1) as fake:
        yield fake


def submitted(fake, receiver, kind="m2v"):
    client = tv.TopviewClient(base_url=fake.base_url, api_key=fake.api_key,
                              topview_uid=fake.uid, timeout=5)
    return client.submit(kind, {}, notice_url=receiver.url)["taskId"]


def test_deliveries_share_one_uuid_and_carry_the_uid_header(fake, receiver):
    task_id = submitted(fake, receiver)
    fake.finish(task_id, deliveries=3).join(5)
    assert len(receiver.received) == 3
    assert len({body["uuid"] for body in receiver.bodies}) == 1
    for headers, body, path in receiver.received:
        assert headers["Topview-Uid"] == "fake-uid"
        assert path == "/notice/topview/tok"
        assert (body["taskId"], body["bizType"], body["status"], body["errorMsg"]) == (
            task_id, "M2V_EXPORT", "success", "")
    first_uuid = receiver.bodies[0]["uuid"]
    assert [(d.uuid, d.http_status) for d in fake.deliveries] == [(first_uuid, 200)] * 3


def test_result_is_a_string_holding_the_query_result(fake, receiver):
    task_id = submitted(fake, receiver)
    fake.finish(task_id).join(5)
    result = receiver.bodies[0]["result"]
    assert isinstance(result, str)
    decoded = json.loads(result)
    assert decoded["exportVideos"][0]["videoUrl"] == f"{fake.base_url}/media/{task_id}/video.mp4"
    client = tv.TopviewClient(base_url=fake.base_url, api_key="fake-key", topview_uid="fake-uid",
                              timeout=5)
    assert client.query("m2v", task_id) == decoded


def test_result_as_an_object_and_a_failure(fake, receiver):
    task_id = submitted(fake, receiver, "text2video")
    fake.finish(task_id, "fail", error_msg="no credit left", result_as_string=False).join(5)
    body = receiver.bodies[0]
    assert (body["status"], body["errorMsg"], body["bizType"]) == ("fail", "no credit left",
                                                                  "COMMON_TASK_TEXT2VIDEO")
    assert body["result"]["status"] == "fail" and "videos" not in body["result"]


def test_running_first_then_the_final_notice(fake, receiver):
    task_id = submitted(fake, receiver)
    fake.finish(task_id, deliveries=2, also_running=True).join(5)
    statuses = [body["status"] for body in receiver.bodies]
    assert statuses == ["running", "success", "success"]
    uuids = [body["uuid"] for body in receiver.bodies]
    assert uuids[0] != uuids[1] == uuids[2]


def test_shuffle_sends_the_same_notices_in_some_order(fake, receiver):
    orders = set()
    for _ in range(12):
        task_id = submitted(fake, receiver)
        before = len(receiver.received)
        fake.finish(task_id, deliveries=2, also_running=True, shuffle=True).join(5)
        statuses = tuple(body["status"] for body in receiver.bodies[before:])
        assert sorted(statuses) == ["running", "success", "success"]
        orders.add(statuses)
    assert len(orders) > 1  # a running notice came after a final one at least once


def test_delay_and_a_receiver_that_fails(fake):
    receiver = Receiver(status=503)
    try:
        task_id = submitted(fake, receiver)
        thread = fake.finish(task_id, delay=0.3)
        assert receiver.received == []
        thread.join(5)
        assert len(receiver.received) == 1
        assert fake.deliveries[0].http_status == 503
    finally:
        receiver.close()


def test_an_unreachable_notice_url_is_recorded(fake):
    fake.add_task("t-1", notice_url="http://127.0.0.1:9/nowhere")
    fake.finish("t-1").join(10)
    assert fake.deliveries[0].http_status is None and fake.deliveries[0].error


def test_seeded_task_and_no_callback_unless_finished(fake, receiver):
    fake.add_task("seeded", "running", kind="video_avatar", notice_url=receiver.url)
    client = tv.TopviewClient(base_url=fake.base_url, api_key="fake-key", topview_uid="fake-uid",
                              timeout=5)
    assert client.query("video_avatar", "seeded")["status"] == "running"
    assert fake.queries == [("/v1/video_avatar/task/query", "seeded")]
    assert receiver.received == [] and fake.deliveries == []


def test_unknown_path_is_404(fake):
    client = tv.TopviewClient(base_url=fake.base_url, api_key="fake-key", topview_uid="fake-uid",
                              timeout=5)
    with pytest.raises(tv.TopviewError) as caught:
        client._call("GET", "/v9/nothing")
    assert caught.value.http_status == 404


@pytest.mark.parametrize("kind", list(tv.KINDS))
def test_the_services_parser_reads_the_fakes_notices(fake, receiver, kind):
    task_id = submitted(fake, receiver, kind)
    fake.finish(task_id).join(5)
    headers, body, _ = receiver.received[0]
    raw = json.dumps(body).encode()
    parsed = parse_notice(raw, topview_uid=headers["Topview-Uid"])
    assert parsed.format == NoticeFormat.TOPVIEW
    assert (parsed.task_id, parsed.status, parsed.notice_uuid) == (task_id, "success", body["uuid"])
    assert extract_result_fields(body["result"]).video_url.endswith(f"{task_id}/video.mp4")


# -- callbacks by themselves after a submit ----------------------------------------------


def auto_fake(mode, delay=0.3):
    return FakeTopview(deliveries=mode, delay=delay)


@pytest.mark.parametrize("mode, statuses", [
    ("once", ["success"]), ("twice", ["success", "success"]),
    ("out-of-order", ["success", "running"]), ("never", []),
])
def test_a_submitted_task_is_called_back_after_the_delay_in_each_mode(receiver, mode, statuses):
    with auto_fake(mode) as fake:
        task_id = submitted(fake, receiver)
        client = tv.TopviewClient(base_url=fake.base_url, api_key="fake-key",
                                  topview_uid="fake-uid", timeout=5)
        assert client.query("m2v", task_id)["status"] == "running"
        assert receiver.received == []  # not before the delay
        fake.join(5)
        assert [body["status"] for body in receiver.bodies] == statuses
        assert client.query("m2v", task_id)["status"] == "success"  # "never": polling finds it
    if mode == "twice":
        assert receiver.bodies[0]["uuid"] == receiver.bodies[1]["uuid"]
    if mode == "out-of-order":
        assert receiver.bodies[0]["uuid"] != receiver.bodies[1]["uuid"]


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="deliveries must be one of"):
        FakeTopview(deliveries="sometimes")


def test_a_submit_without_notice_url_is_a_missing_parameter(fake):
    client = tv.TopviewClient(base_url=fake.base_url, api_key="fake-key", topview_uid="fake-uid",
                              timeout=5)
    with pytest.raises(tv.TopviewMissingParameter):
        client._call("POST", tv.KINDS["m2v"].submit_path, body={})
    assert fake.tasks == {}


# -- the result media it serves ----------------------------------------------------------


def fetch(url, method="GET"):
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=5) as answer:
        return answer.status, dict(answer.headers), answer.read()


@pytest.mark.parametrize("kind", list(tv.KINDS))
def test_the_result_media_are_served_with_type_and_length(fake, receiver, kind):
    task_id = submitted(fake, receiver, kind)
    fake.finish(task_id).join(5)
    fields = extract_result_fields(receiver.bodies[0]["result"])
    urls = [(fields.video_url, "video/mp4", fake_media.VIDEO_NAME)]
    if fields.cover_url:
        urls.append((fields.cover_url, "image/png", fake_media.COVER_NAME))
    for url, content_type, name in urls:
        status, headers, data = fetch(url)
        assert (status, headers["Content-Type"]) == (200, content_type)
        assert int(headers["Content-Length"]) == len(data) == len(fake.media(task_id, name)) > 0
        assert data == fake.media(task_id, name)
        head_status, head_headers, head_body = fetch(url, "HEAD")
        assert (head_status, head_body) == (200, b"")
        assert head_headers["Content-Length"] == headers["Content-Length"]


def test_media_bytes_are_real_formats_and_differ_per_task():
    video = fake_media.fake_mp4("t-1", size=5000)
    assert len(video) == 5000 and video[4:8] == b"ftyp" and b"mdat" in video[:64]
    cover = fake_media.fake_png("t-1")
    assert cover.startswith(b"\x89PNG\r\n\x1a\n") and cover.endswith(b"IEND\xaeB`\x82")
    assert fake_media.fake_png("t-2") != cover and fake_media.fake_mp4("t-2", size=5000) != video


def test_media_of_an_unfinished_or_unknown_task_is_404_and_faults_apply(fake, receiver):
    task_id = submitted(fake, receiver)
    for url in (f"{fake.media_base}{task_id}/video.mp4", f"{fake.media_base}nope/video.mp4",
                f"{fake.media_base}{task_id}/other.bin"):
        with pytest.raises(urllib.error.HTTPError) as caught:
            fetch(url)
        assert caught.value.code == 404
    fake.finish(task_id).join(5)
    fake.fail_next_http(500)
    with pytest.raises(urllib.error.HTTPError) as caught:
        fetch(f"{fake.media_base}{task_id}/video.mp4")
    assert caught.value.code == 500
    assert fetch(f"{fake.media_base}{task_id}/video.mp4")[0] == 200


def test_video_size_is_configurable(receiver):
    with FakeTopview(video_bytes=300_000) as fake:
        task_id = submitted(fake, receiver)
        fake.finish(task_id).join(5)
        status, headers, data = fetch(f"{fake.media_base}{task_id}/video.mp4")
    assert headers["Content-Length"] == "300000" and len(data) == 300_000


# -- as a process ------------------------------------------------------------------------


def test_runs_as_a_process_printing_its_url_and_each_step(receiver):
    process = subprocess.Popen(
        [sys.executable, "-m", "tasks.fake_topview", "--port", "0", "--delay", "0.2",
         "--deliveries", "twice", "--uid", "proc-uid", "--api-key", "proc-key"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        client = tv.TopviewClient(base_url=base_url, api_key="proc-key", topview_uid="proc-uid",
                                  timeout=5)
        task_id = client.submit("text2video", {}, notice_url=receiver.url)["taskId"]
        lines = [process.stdout.readline() for _ in range(3)]
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
    assert lines[0].startswith(f"submitted task {task_id} (text2video)")
    assert all(line.startswith(f"callback success for task {task_id}") for line in lines[1:])
    assert [headers["Topview-Uid"] for headers, _, _ in receiver.received] == ["proc-uid"] * 2
