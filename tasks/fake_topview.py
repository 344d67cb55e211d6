"""A fake Topview API on 127.0.0.1, for tests and demos: the client's calls and Topview's callbacks.

    with FakeTopview() as fake:
        client = TopviewClient(base_url=fake.base_url, api_key=fake.api_key,
                               topview_uid=fake.uid, timeout=5)
        task = client.submit("m2v", {...}, notice_url=...)
        fake.finish(task["taskId"], deliveries=2, also_running=True).join()

It answers every submit and query path of `topview_client.KINDS` and `/notice/notice_url/check`
with Topview's envelope. Wrong credentials get HTTP 401 with envelope code "401": the real answer
is not documented, and so the client meets an envelope in an HTTP error too (`fail_next` errors
come with HTTP 200 unless told otherwise). Tasks live in memory; nothing calls back until a test
calls `finish` (not calling it is the "Topview never called back" case).
"""

import json
import random
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tasks.topview_client import KINDS, TaskKind

_SUBMIT = {kind.submit_path: kind for kind in KINDS.values()}
_QUERY = {kind.query_path: kind for kind in KINDS.values()}
CHECK_PATH = "/notice/notice_url/check"


def sample_result(kind: TaskKind, task_id: str) -> dict:
    """A plausible successful result of this kind (contract §4's fields), URLs made up."""
    video, cover = (f"https://cdn.fake-topview.test/{task_id}.{ext}" for ext in ("mp4", "jpg"))
    if kind.name == "m2v":
        return {"exportVideos": [{"videoUrl": video, "coverUrl": cover, "videoDuration": 15000,
                                  "title": "Fake export"}], "previewVideos": []}
    if kind.name in {"photo_avatar", "product_avatar_image2video"}:
        return {"finishedVideoUrl": video, "aiAvatar": {"coverUrl": cover}}
    if kind.name == "video_avatar":
        return {"outputVideoUrl": video}
    return {"videos": [{"filePath": video, "width": 1080, "height": 1920, "status": "SUCCESS"}],
            "costCredit": 1.5}


@dataclass
class FakeTask:
    task_id: str
    kind: TaskKind
    status: str = "init"
    error_msg: str = ""
    result: dict | None = None
    notice_url: str = ""
    biz_type: str = ""
    payload: dict = field(default_factory=dict)

    def as_query_result(self) -> dict:
        """What the query endpoint answers, and what a notice carries as its `result`."""
        extra = self.result if self.result is not None else (
            sample_result(self.kind, self.task_id) if self.status == "success" else {})
        return {"taskId": self.task_id, "status": self.status, "errorMsg": self.error_msg, **extra}


@dataclass
class Delivery:
    """One notice posted to a noticeUrl: its HTTP status, or the error when none came back."""

    task_id: str
    uuid: str
    status: str
    http_status: int | None
    error: str = ""


class FakeTopview:
    def __init__(self, uid: str = "fake-uid", api_key: str = "fake-key", *,
                 seed: int | None = None):
        self.uid, self.api_key = uid, api_key
        self.tasks: dict[str, FakeTask] = {}
        self.queries: list[tuple[str, str]] = []  # (query path, taskId) of every query received
        self.requests: list[dict] = []  # every request: method, path, query, headers, body
        self.deliveries: list[Delivery] = []
        self.checked_urls: list[str] = []
        self._failures: list[tuple[int, str | None, str]] = []  # HTTP status, code, message
        self._stalls: list[float] = []
        self._threads: list[threading.Thread] = []
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> "FakeTopview":
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.join(timeout=10)
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- test controls -----------------------------------------------------------------------
    def add_task(self, task_id: str, status: str = "init", *, kind: TaskKind | str = "m2v",
                 notice_url: str = "", result: dict | None = None, error_msg: str = "",
                 biz_type: str | None = None) -> FakeTask:
        kind = KINDS[kind] if isinstance(kind, str) else kind
        task = FakeTask(task_id, kind, status, error_msg, result, notice_url,
                        biz_type if biz_type is not None else next(iter(kind.biz_types), ""))
        with self._lock:
            self.tasks[task_id] = task
        return task

    def set_status(self, task_id: str, status: str, result: dict | None = None,
                   error_msg: str = "") -> None:
        """Move a task on; a success without `result` gets its kind's sample result."""
        with self._lock:
            task = self.tasks[task_id]
            task.status, task.result, task.error_msg = status, result, error_msg

    def fail_next(self, code: str, times: int = 1, *, http_status: int = 200,
                  message: str = "") -> None:
        """The next `times` requests answer an error envelope with this code (e.g. "5003")."""
        with self._lock:
            self._failures += [(http_status, str(code), message or f"fake error {code}")] * times

    def fail_next_http(self, status: int, times: int = 1) -> None:
        """The next `times` requests answer this HTTP status with a body that is no envelope."""
        with self._lock:
            self._failures += [(status, None, "")] * times

    def stall_next(self, seconds: float, times: int = 1) -> None:
        """The next `times` requests wait this long before answering (for client timeouts)."""
        with self._lock:
            self._stalls += [seconds] * times

    def finish(self, task_id: str, status: str = "success", *, deliveries: int = 1,
               delay: float = 0.0, shuffle: bool = False, also_running: bool = False,
               result: dict | None = None, error_msg: str = "",
               result_as_string: bool = True) -> threading.Thread:
        """Finish a task and post its notice to the task's noticeUrl, as Topview would.

        `deliveries` copies of the final notice (one uuid: Topview's retries), after `delay`
        seconds, in a background thread (returned: `.join()` it). `also_running` sends a
        "running" notice (its own uuid) first; `shuffle` sends them all in a random order.
        `result` goes as a string holding JSON (as the docs print it) unless `result_as_string`
        is False. Each delivery's answer is recorded in `deliveries`.
        """
        if status == "fail" and not error_msg:
            error_msg = "fake failure"
        self.set_status(task_id, status, result, error_msg)
        task = self.tasks[task_id]
        final = self._notice(task, task.as_query_result(), result_as_string)
        notices = [final] * deliveries
        if also_running:
            running = FakeTask(task.task_id, task.kind, "running", biz_type=task.biz_type)
            notices.insert(0, self._notice(task, running.as_query_result(), result_as_string))
        if shuffle:
            self._random.shuffle(notices)
        thread = threading.Thread(target=self._post_all, args=(task, notices, delay), daemon=True)
        self._threads.append(thread)
        thread.start()
        return thread

    def join(self, timeout: float = 10) -> None:
        """Wait for every callback thread started by `finish`."""
        for thread in list(self._threads):
            thread.join(timeout)

    # -- internals ---------------------------------------------------------------------------
    def _notice(self, task: FakeTask, result: dict, as_string: bool) -> dict:
        return {"uuid": str(uuid.uuid4()), "bizType": task.biz_type, "taskId": task.task_id,
                "status": result["status"], "errorMsg": result["errorMsg"],
                "result": json.dumps(result) if as_string else result}

    def _post_all(self, task: FakeTask, notices: list[dict], delay: float) -> None:
        if delay and self._closing.wait(delay):
            return
        for notice in notices:
            request = urllib.request.Request(
                task.notice_url, data=json.dumps(notice).encode(), method="POST",
                headers={"Content-Type": "application/json", "Topview-Uid": self.uid})
            http_status, error = None, ""
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    http_status = response.status
            except urllib.error.HTTPError as exc:
                http_status = exc.code
            except (urllib.error.URLError, OSError, ValueError) as exc:
                error = str(exc)
            with self._lock:
                self.deliveries.append(
                    Delivery(task.task_id, notice["uuid"], notice["status"], http_status, error))

    def _answer(self, method: str, path: str, query: dict, body: Any,
                headers: dict) -> tuple[int, dict | None]:
        """(HTTP status, envelope) for one request; envelope None means a non-JSON body."""
        with self._lock:
            self.requests.append({"method": method, "path": path, "query": query,
                                  "headers": headers, "body": body})
            if method == "GET" and path in _QUERY:
                self.queries.append((path, query.get("taskId", "")))
            stall = self._stalls.pop(0) if self._stalls else 0.0
            failure = self._failures.pop(0) if self._failures else None
        if stall and self._closing.wait(stall):
            return 503, None
        if failure:
            http_status, code, message = failure
            return http_status, code and _envelope(code, message)
        if (headers.get("authorization") != f"Bearer {self.api_key}"
                or headers.get("topview-uid") != self.uid):
            return 401, _envelope("401", "Unauthorized: wrong API key or Topview-Uid")
        if method == "POST" and path in _SUBMIT:
            if not isinstance(body, dict):
                return 200, _envelope("4001", "body is not a JSON object")
            task = self.add_task(uuid.uuid4().hex, "init", kind=_SUBMIT[path],
                                 notice_url=str(body.get("noticeUrl") or ""))
            task.payload = body
            created = {"taskId": task.task_id, "status": "init", "errorMsg": ""}
            return 200, _envelope("200", "Success", created)
        if method == "GET" and path in _QUERY:
            task = self.tasks.get(query.get("taskId", ""))
            if task is None or task.kind.query_path != path:
                return 200, _envelope("4004", "task not found")
            with self._lock:
                return 200, _envelope("200", "Success", task.as_query_result())
        if method == "POST" and path == CHECK_PATH:
            # One version of the docs has noticeUrl in the query string, the contract in the body.
            url = query.get("noticeUrl") or (isinstance(body, dict) and body.get("noticeUrl"))
            if not url:
                return 200, _envelope("4003", "noticeUrl is required")
            self.checked_urls.append(url)
            return 200, _envelope("200", "Success", {"noticeUrl": url, "result": "success"})
        return 404, _envelope("404", f"no such endpoint: {method} {path}")


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is expected here, not worth a traceback


def _envelope(code: str, message: str, result: Any = None) -> dict:
    return {"code": code, "message": message, "result": result}


def _handler_for(fake: FakeTopview) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, envelope = fake._answer(self.command, url.path, query, body, headers)
            data = json.dumps(envelope).encode() if envelope else b"<html>fake gateway error</html>"
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if envelope else "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_POST = do_GET

        def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
            pass

    return Handler
