"""A fake Topview API on 127.0.0.1, for tests and demos: the client's calls and Topview's callbacks.

    with FakeTopview() as fake:
        client = TopviewClient(base_url=fake.base_url, api_key=fake.api_key,
                               topview_uid=fake.uid, timeout=5)
        task = client.submit("m2v", {...}, notice_url=...)
        fake.finish(task["taskId"], deliveries=2, also_running=True).join()

It answers every submit and query path of `topview_client.KINDS` and `/notice/notice_url/check`
with Topview's envelope. Wrong credentials get HTTP 401 with envelope code "401": the real answer
is not documented, and so the client meets an envelope in an HTTP error too (`fail_next` errors
come with HTTP 200 unless told otherwise). Tasks live in memory. By default nothing calls back
until a test calls `finish`; with `deliveries` set (a mode of `CALLBACK_MODES`), every submitted
task finishes by itself `delay` seconds later and is called back in that mode. A successful
task's result points at a video and a cover the fake serves itself (`fake_media`), so its media
can be downloaded. Faults: `fail_next` (busy, server errors), `stall_next` (an answer later than
the client's timeout, the work done all the same), `reset_next` (the work done, the connection
dropped unanswered) and `refuse_connections` (nothing listening).

As a process, for demos: `python -m tasks.fake_topview --port 8100 --delay 2 --deliveries once`
prints its base URL, then a line per submitted task and per callback sent.
"""

import argparse
import json
import random
import signal
import socket
import struct
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tasks.fake_media import CONTENT_TYPES, COVER_NAME, DEFAULT_VIDEO_BYTES, VIDEO_NAME, media_file
from tasks.topview_client import KINDS, TaskKind

_SUBMIT = {kind.submit_path: kind for kind in KINDS.values()}
_QUERY = {kind.query_path: kind for kind in KINDS.values()}
CHECK_PATH = "/notice/notice_url/check"
MEDIA_PREFIX = "/media/"
# How a submitted task is called back: the final notice once, twice (one uuid: Topview's retry),
# followed by a late "running" notice (out of order), or never (the task still finishes, for
# polling to find).
CALLBACK_MODES = ("once", "twice", "out-of-order", "never")


def sample_result(kind: TaskKind, task_id: str, media_base: str) -> dict:
    """A plausible successful result of this kind (contract §4's fields), media at `media_base`."""
    video, cover = (f"{media_base}{task_id}/{name}" for name in (VIDEO_NAME, COVER_NAME))
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
    media_base: str = "https://cdn.fake-topview.test/media/"

    def as_query_result(self) -> dict:
        """What the query endpoint answers, and what a notice carries as its `result`."""
        extra = self.result if self.result is not None else (
            sample_result(self.kind, self.task_id, self.media_base)
            if self.status == "success" else {})
        return {"taskId": self.task_id, "status": self.status, "errorMsg": self.error_msg, **extra}


@dataclass
class Delivery:
    """One notice posted to a noticeUrl: its HTTP status, or the error when none came back."""

    task_id: str
    uuid: str
    status: str
    http_status: int | None
    error: str = ""


@dataclass(frozen=True)
class Reply:
    """What the handler writes: `reset` drops the connection instead, unanswered."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    reset: bool = False


class FakeTopview:
    def __init__(self, uid: str = "fake-uid", api_key: str = "fake-key", *,
                 seed: int | None = None, port: int = 0, deliveries: str | None = None,
                 delay: float = 0.0, video_bytes: int = DEFAULT_VIDEO_BYTES,
                 log: Callable[[str], None] | None = None):
        """`deliveries` (one of CALLBACK_MODES) finishes every submitted task by itself after
        `delay` seconds; None leaves that to `finish`. `log` is told of submits and callbacks."""
        if deliveries is not None and deliveries not in CALLBACK_MODES:
            raise ValueError(f"deliveries must be one of {CALLBACK_MODES}, not {deliveries!r}")
        self.uid, self.api_key = uid, api_key
        self.callback_mode, self.callback_delay = deliveries, delay
        self.video_bytes, self.log = video_bytes, log or (lambda line: None)
        self.tasks: dict[str, FakeTask] = {}
        self.queries: list[tuple[str, str]] = []  # (query path, taskId) of every query received
        self.requests: list[dict] = []  # every request: method, path, query, headers, body
        self.deliveries: list[Delivery] = []
        self.checked_urls: list[str] = []
        self._failures: list[tuple[int, str | None, str]] = []  # HTTP status, code, message
        self._stalls: list[float] = []
        self._resets = 0
        self._threads: list[threading.Thread] = []
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._port = port
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> "FakeTopview":
        self.start_listening()
        return self

    def __exit__(self, *exc: object) -> None:
        self.join(timeout=10)
        self._closing.set()
        self.refuse_connections()

    def start_listening(self) -> None:
        """Serve (again) on the same port: after `refuse_connections`, connections succeed."""
        self._server = _Server(("127.0.0.1", self._port), _handler_for(self))
        self._port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def refuse_connections(self) -> None:
        """Close the listening socket: every connection is refused until `start_listening`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def media_base(self) -> str:
        return f"{self.base_url}{MEDIA_PREFIX}"

    def media(self, task_id: str, name: str) -> bytes:
        """The bytes served at a task's media URL (VIDEO_NAME or COVER_NAME)."""
        return media_file(task_id, name, video_bytes=self.video_bytes)

    # -- test controls -----------------------------------------------------------------------
    def add_task(self, task_id: str, status: str = "init", *, kind: TaskKind | str = "m2v",
                 notice_url: str = "", result: dict | None = None, error_msg: str = "",
                 biz_type: str | None = None) -> FakeTask:
        kind = KINDS[kind] if isinstance(kind, str) else kind
        task = FakeTask(task_id, kind, status, error_msg, result, notice_url,
                        biz_type if biz_type is not None else next(iter(kind.biz_types), ""),
                        media_base=self.media_base)
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
        """The next `times` requests answer an error envelope with this code (e.g. "5003"),
        doing nothing else: a busy Topview has not created the task."""
        with self._lock:
            self._failures += [(http_status, str(code), message or f"fake error {code}")] * times

    def fail_next_http(self, status: int, times: int = 1) -> None:
        """The next `times` requests (media included) answer this HTTP status, no envelope."""
        with self._lock:
            self._failures += [(status, None, "")] * times

    def stall_next(self, seconds: float, times: int = 1) -> None:
        """The next `times` requests are answered this long after their work is done (a
        submit creates its task): past the client's timeout, the client cannot know that."""
        with self._lock:
            self._stalls += [seconds] * times

    def reset_next(self, times: int = 1) -> None:
        """The next `times` requests do their work, then the connection is reset unanswered."""
        with self._lock:
            self._resets += times

    def finish(self, task_id: str, status: str = "success", *, deliveries: int = 1,
               delay: float = 0.0, shuffle: bool = False, also_running: bool = False,
               running_last: bool = False, result: dict | None = None, error_msg: str = "",
               result_as_string: bool = True) -> threading.Thread:
        """After `delay` seconds, finish a task and post its notice to its noticeUrl, as Topview
        would, in a background thread (returned: `.join()` it).

        `deliveries` copies of the final notice (one uuid: Topview's retries; 0: no callback).
        `also_running` sends a "running" notice (its own uuid) first, or after the final ones
        with `running_last`; `shuffle` sends them all in a random order. `result` goes as a
        string holding JSON (as the docs print it) unless `result_as_string` is False. Each
        delivery's answer is recorded in `deliveries`.
        """
        if status == "fail" and not error_msg:
            error_msg = "fake failure"
        options = dict(status=status, deliveries=deliveries, shuffle=shuffle,
                       also_running=also_running, running_last=running_last, result=result,
                       error_msg=error_msg, result_as_string=result_as_string)
        thread = threading.Thread(target=self._finish_later, args=(task_id, delay, options),
                                  daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()
        return thread

    def join(self, timeout: float = 10) -> None:
        """Wait for every callback thread started by `finish`."""
        for thread in list(self._threads):
            thread.join(timeout)

    # -- internals ---------------------------------------------------------------------------
    def _finish_later(self, task_id: str, delay: float, options: dict) -> None:
        if delay and self._closing.wait(delay):
            return
        self.set_status(task_id, options["status"], options["result"], options["error_msg"])
        task = self.tasks[task_id]
        as_string = options["result_as_string"]
        notices = [self._notice(task, task.as_query_result(), as_string)] * options["deliveries"]
        if options["also_running"]:
            running = FakeTask(task.task_id, task.kind, "running", biz_type=task.biz_type)
            notice = self._notice(task, running.as_query_result(), as_string)
            notices.insert(len(notices) if options["running_last"] else 0, notice)
        if options["shuffle"]:
            self._random.shuffle(notices)
        for notice in notices:
            self._post(task, notice)

    def _auto_finish(self, task: FakeTask) -> None:
        """A submitted task runs, then finishes and is called back in `callback_mode`."""
        self.set_status(task.task_id, "running")
        mode = self.callback_mode
        self.finish(task.task_id, deliveries={"twice": 2, "never": 0}.get(mode, 1),
                    also_running=mode == "out-of-order", running_last=True,
                    delay=self.callback_delay)

    def _notice(self, task: FakeTask, result: dict, as_string: bool) -> dict:
        return {"uuid": str(uuid.uuid4()), "bizType": task.biz_type, "taskId": task.task_id,
                "status": result["status"], "errorMsg": result["errorMsg"],
                "result": json.dumps(result) if as_string else result}

    def _post(self, task: FakeTask, notice: dict) -> None:
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
        delivery = Delivery(task.task_id, notice["uuid"], notice["status"], http_status, error)
        with self._lock:
            self.deliveries.append(delivery)
        self.log(f"callback {notice['status']} for task {task.task_id} (notice {notice['uuid']})"
                 f" -> {http_status or error}")

    def _answer(self, method: str, path: str, query: dict, body: Any, headers: dict) -> Reply:
        """The reply to one request, its faults included."""
        with self._lock:
            self.requests.append({"method": method, "path": path, "query": query,
                                  "headers": headers, "body": body})
            if method == "GET" and path in _QUERY:
                self.queries.append((path, query.get("taskId", "")))
            stall = self._stalls.pop(0) if self._stalls else 0.0
            failure = self._failures.pop(0) if self._failures else None
            reset = self._resets > 0
            self._resets -= reset
        if failure:
            http_status, code, message = failure
            if code is None:
                return Reply(http_status, b"<html>fake gateway error</html>", "text/html")
            return _envelope(code, message, http_status=http_status)
        reply = self._route(method, path, query, body, headers)
        if stall and self._closing.wait(stall):
            return Reply(503, b"", "text/plain")
        return Reply(0, reset=True) if reset else reply

    def _route(self, method: str, path: str, query: dict, body: Any, headers: dict) -> Reply:
        if method in {"GET", "HEAD"} and path.startswith(MEDIA_PREFIX):
            return self._media(path.removeprefix(MEDIA_PREFIX))  # public, as a CDN's URLs are
        if (headers.get("authorization") != f"Bearer {self.api_key}"
                or headers.get("topview-uid") != self.uid):
            return _envelope("401", "Unauthorized: wrong API key or Topview-Uid", http_status=401)
        if method == "POST" and path in _SUBMIT:
            return self._submit(_SUBMIT[path], body)
        if method == "GET" and path in _QUERY:
            task = self.tasks.get(query.get("taskId", ""))
            if task is None or task.kind.query_path != path:
                return _envelope("4004", "task not found")
            with self._lock:
                return _envelope("200", "Success", task.as_query_result())
        if method == "POST" and path == CHECK_PATH:
            # One version of the docs has noticeUrl in the query string, the contract in the body.
            url = query.get("noticeUrl") or (isinstance(body, dict) and body.get("noticeUrl"))
            if not url:
                return _envelope("4003", "noticeUrl is required")
            with self._lock:
                self.checked_urls.append(url)
            return _envelope("200", "Success", {"noticeUrl": url, "result": "success"})
        return _envelope("404", f"no such endpoint: {method} {path}", http_status=404)

    def _submit(self, kind: TaskKind, body: Any) -> Reply:
        if not isinstance(body, dict):
            return _envelope("4001", "body is not a JSON object")
        if not body.get("noticeUrl"):
            return _envelope("4003", "noticeUrl is required")
        task = self.add_task(uuid.uuid4().hex, "init", kind=kind, notice_url=str(body["noticeUrl"]))
        task.payload = body
        reply = _envelope("200", "Success", {"taskId": task.task_id, "status": "init",
                                             "errorMsg": ""})
        self.log(f"submitted task {task.task_id} ({kind.name}), noticeUrl {task.notice_url}")
        if self.callback_mode is not None:
            self._auto_finish(task)
        return reply

    def _media(self, name: str) -> Reply:
        task_id, _, file_name = name.partition("/")
        task = self.tasks.get(task_id)
        if task is None or task.status != "success" or file_name not in CONTENT_TYPES:
            return Reply(404, b"not found", "text/plain")
        return Reply(200, self.media(task_id, file_name), CONTENT_TYPES[file_name])


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is expected here, not worth a traceback


def _envelope(code: str, message: str, result: Any = None, *, http_status: int = 200) -> Reply:
    data = {"code": code, "message": message, "result": result}
    return Reply(http_status, json.dumps(data).encode())


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
            reply = fake._answer(self.command, url.path, query, body, headers)
            if reply.reset:
                # Linger 0: closing sends a RST, as a dropped connection does.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.close_connection = True
                return
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)

        do_POST = do_HEAD = do_GET

        def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
            pass

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake Topview API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--delay", type=float, default=2.0,
                        help="seconds from a submit to its callback (default 2)")
    parser.add_argument("--deliveries", choices=CALLBACK_MODES, default="once",
                        help="how each submitted task is called back (default once)")
    parser.add_argument("--uid", default="fake-uid", help="the Topview-Uid it expects and sends")
    parser.add_argument("--api-key", default="fake-key", help="the API key it expects")
    parser.add_argument("--video-bytes", type=int, default=DEFAULT_VIDEO_BYTES,
                        help="size of each result video")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with FakeTopview(args.uid, args.api_key, port=args.port, deliveries=args.deliveries,
                     delay=args.delay, video_bytes=args.video_bytes,
                     log=lambda line: print(line, flush=True)) as fake:
        print(fake.base_url, flush=True)
        stop.wait()
    sys.exit(0)


if __name__ == "__main__":
    main()
