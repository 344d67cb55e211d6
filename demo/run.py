"""`make demo`: the whole loop on this machine, each step printed as it happens.

It starts, on free ports on 127.0.0.1, the fake Topview (`python -m tasks.fake_topview`) and the
web server (`manage.py runserver`) pointed at it, creates a demo user with an API token, submits
a task through the Task API, and follows it: the fake's callback to our notice URL (with its
token), the notice processed (and confirmed by querying the fake), the staff page of incoming
notices (open in headless Chromium before the task was submitted) showing it without a reload,
the task's success with its video URL, and our archived copies of the video and cover.
Everything it started is stopped at the end, by process id.

With nothing configured it runs on a SQLite file in a temporary folder, tasks in-process. With
CELERY_BROKER_URL set (and DATABASE_URL, as for `make run`), it starts a Celery worker on a queue
of its own as well, and the notice is processed there.

Each step is a small function of `STEPS`, run in order with the shared `Demo`; a step raises
`DemoFailed` to stop the demo with a message. Add a step by writing a function and listing it.
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from faults.procs import Managed, free_port  # noqa: E402 (after the path is set)


CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright's own browsers are never downloaded.


class DemoFailed(Exception):
    """A step did not happen in time, or a process it needs stopped."""


@dataclass
class Demo:
    folder: Path
    delay: float
    deliveries: str
    timeout: float
    env: dict[str, str] = field(default_factory=dict)
    processes: list[Managed] = field(default_factory=list)
    fake: Managed | None = None
    fake_url: str = ""
    web_url: str = ""
    token: str = ""
    task: dict = field(default_factory=dict)
    page: "LivePage | None" = None
    started: float = field(default_factory=time.monotonic)

    def say(self, step: str, text: str) -> None:
        print(f"[{time.monotonic() - self.started:5.1f}s] {step}: {text}", flush=True)

    def start(self, name: str, command: list[str]) -> Managed:
        """Start a process of the demo, its output in <folder>/<name>.log."""
        process = Managed(name, command, self.folder / f"{name}.log", self.env, ROOT).start()
        self.processes.append(process)
        return process

    def wait_for(self, what: str, predicate: Callable[[], object]):
        """Poll `predicate` until it returns something true; DemoFailed after `timeout`."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for process in self.processes:
                if not process.alive():
                    raise DemoFailed(f"{process.name} exited while waiting for {what}")
            result = predicate()
            if result:
                return result
            time.sleep(0.2)
        raise DemoFailed(f"no {what} within {self.timeout:.0f} s (logs in {self.folder})")

    def api(self, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(
            self.web_url + path, method="GET" if body is None else "POST",
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    def fake_says(self, start: str) -> str | None:
        """The first line of the fake Topview's output that starts so, if any yet."""
        lines = self.fake.log.read_text(errors="replace").splitlines()
        return next((line for line in lines if line.startswith(start)), None)

    def stop_all(self) -> None:
        """Stop every process the demo started, newest first, by its pid (and its children)."""
        if self.page is not None:
            self.page.close()
        for process in reversed(self.processes):
            process.stop()


class LivePage:
    """A browser on the live page, in a thread of its own: Playwright's sync API runs an event
    loop in its thread, where Django's database calls (the demo's other steps) refuse to run."""

    def __init__(self, base: str, username: str, password: str, timeout: float) -> None:
        self.thread = ThreadPoolExecutor(1)
        self.timeout_ms = timeout * 1000
        self.call(self._open, base, username, password)

    def call(self, function, *args):
        return self.thread.submit(function, *args).result()

    def _open(self, base: str, username: str, password: str) -> None:
        from playwright.sync_api import sync_playwright

        self.playwright = sync_playwright().start()
        self.browser = self.playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        self.page = self.browser.new_page()
        self.page.set_default_timeout(self.timeout_ms)
        self.page.goto(f"{base}/admin/login/?next=/live/notices/")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.page.click("input[type=submit]")
        self.page.wait_for_selector('#live-state[data-state="open"]')

    def state(self) -> str:
        return self.call(lambda: self.page.text_content("#live-state"))

    def row_of(self, task_id: str, status: str) -> str:
        """The text of the page's row of the task's notice of that status, once it is there."""
        def wait() -> str:
            row = self.page.locator("tr", has_text=task_id).filter(has_text=status).first
            row.wait_for()
            return " | ".join(row.locator("td").all_text_contents())

        return self.call(wait)

    def close(self) -> None:
        def close() -> None:
            self.browser.close()
            self.playwright.stop()

        self.call(close)
        self.thread.shutdown()


# -- the steps -------------------------------------------------------------------------------


def start_fake_topview(demo: Demo) -> None:
    # It prints its URL, then a line per submit and per callback it sends.
    demo.fake = demo.start("fake-topview", [
        sys.executable, "-m", "tasks.fake_topview", "--port", str(free_port()),
        "--delay", str(demo.delay), "--deliveries", demo.deliveries,
    ])
    demo.fake_url = demo.wait_for("fake Topview", lambda: demo.fake_says("http://"))
    demo.say("fake Topview", f"listening at {demo.fake_url}; callbacks {demo.deliveries}, "
             f"{demo.delay:g} s after a submit")


def prepare_database(demo: Demo) -> None:
    port = free_port()
    demo.web_url = f"http://127.0.0.1:{port}"
    demo.env.update({
        "PUBLIC_BASE_URL": demo.web_url,
        "TOPVIEW_API_BASE_URL": demo.fake_url, "TOPVIEW_API_KEY": "fake-key",
        "TOPVIEW_UID": "fake-uid", "NOTICE_TOKENS": secrets.token_urlsafe(24),
        "DJANGO_DEBUG": "1", "DJANGO_SETTINGS_MODULE": "topview_project.settings",
    })
    demo.env["MEDIA_ROOT"] = str(demo.folder / "media")  # The archived copies.
    if not demo.env.get("DATABASE_URL"):
        demo.env["SQLITE_PATH"] = str(demo.folder / "demo.sqlite3")
    if demo.env.get("CELERY_BROKER_URL"):
        demo.env["CELERY_QUEUE"] = f"topview-demo-{os.getpid()}"
    migrate = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT,
                             env=demo.env, capture_output=True, text=True)
    if migrate.returncode:
        raise DemoFailed(f"migrate failed:\n{migrate.stderr}")
    # This process reads the same database, to watch the notice as the server stores it.
    os.environ.update(demo.env)
    import django

    django.setup()
    from django.conf import settings

    database = settings.DATABASES["default"]
    demo.say("database", f"{database['ENGINE'].rsplit('.', 1)[-1]} {database['NAME']}, migrated")


def start_worker(demo: Demo) -> None:
    if not demo.env.get("CELERY_BROKER_URL"):
        demo.say("worker", "none: no CELERY_BROKER_URL, so notices are processed in-process")
        return
    log = demo.folder / "worker.log"
    demo.start("worker", [sys.executable, "-m", "celery", "-A", "topview_project", "worker",
                          "--beat", "--schedule", str(demo.folder / "beat-schedule"),
                          "--concurrency=1"])  # Its queues: this demo's (CELERY_QUEUE).
    demo.wait_for("Celery worker", lambda: b"ready." in log.read_bytes())
    demo.say("worker", f"Celery worker ready on queue {demo.env['CELERY_QUEUE']}")


def start_web(demo: Demo) -> None:
    demo.start("web", [sys.executable, "manage.py", "runserver", "--noreload",
                       demo.web_url.removeprefix("http://")])
    demo.wait_for("web server", lambda: _answers(demo.web_url + "/healthz"))
    demo.say("web server", f"serving at {demo.web_url} (notice URL "
             f"{demo.web_url}/notice/topview/<token>)")


def create_user(demo: Demo) -> None:
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    user = get_user_model().objects.create_user(f"demo-{secrets.token_hex(3)}",
                                                email="demo@example.com")
    demo.token = Token.objects.create(user=user).key
    demo.say("user", f"{user.username} with an API token")


def submit_task(demo: Demo) -> None:
    demo.task = demo.api("/api/tasks/", {"kind": "m2v", "params": {
        "productLink": "https://shop.example/product/1", "aspectRatio": "9:16"}})
    demo.say("submitted", f"POST /api/tasks/ -> task {demo.task['id']}, Topview taskId "
             f"{demo.task['topview_task_id']}, status {demo.task['status']}")


def callback_received(demo: Demo) -> None:
    wanted = f"callback success for task {demo.task['topview_task_id']}"
    line = demo.wait_for("callback from the fake Topview", lambda: demo.fake_says(wanted))
    demo.say("callback received", f"the fake Topview posted to our notice URL: "
             f"HTTP {line.rsplit('-> ', 1)[-1]}")


def notice_processed(demo: Demo) -> None:
    from notices.models import Notice, NoticeState

    # The first delivery of the success notice (a second one is stored as its duplicate).
    notice = demo.wait_for("processed notice", lambda: Notice.objects.filter(
        topview_task_id=demo.task["topview_task_id"], status="success", is_duplicate=False,
        state=NoticeState.DONE).first())
    verification = notice.verification or "not needed"
    demo.say("notice processed", f"notice {notice.pk} done (verification: {verification})")


def task_succeeded(demo: Demo) -> None:
    path = f"/api/tasks/{demo.task['id']}/"

    def succeeded():
        task = demo.api(path)
        return task if task["status"] == "success" else None

    task = demo.wait_for("task success", succeeded)
    demo.say("task success", f"GET {path} -> {task['status']}, video {task['video_url']}")


def media_archived(demo: Demo) -> None:
    def archived():
        copies = demo.api(f"/api/tasks/{demo.task['id']}/")["media_copies"]
        done = copies and all(copy["state"] == "done" for copy in copies)
        return copies if done else None

    for copy in demo.wait_for("media archived", archived):
        demo.say("media archived", f"{copy['role']}: {copy['size']} bytes, sha256 "
                 f"{copy['sha256'][:12]}..., our copy {demo.web_url}{copy['url']}")


def open_live_page(demo: Demo) -> None:
    """The staff page of incoming notices, open in headless Chromium before the task starts."""
    if not Path(CHROMIUM).exists():
        demo.say("live page", f"not opened: no {CHROMIUM} (apt-get install chromium)")
        return
    from django.contrib.auth import get_user_model

    password = secrets.token_urlsafe(16)
    staff = get_user_model().objects.create_user(
        f"demo-staff-{secrets.token_hex(3)}", password=password, is_staff=True)
    demo.page = LivePage(demo.web_url, staff.username, password, demo.timeout)
    demo.say("live page", f"{demo.web_url}/live/notices/ open in headless Chromium, its "
             f"WebSocket {demo.page.state()}")


def page_updated(demo: Demo) -> None:
    if demo.page is None:
        return
    row = demo.page.row_of(demo.task["topview_task_id"], "success")
    demo.say("page updated", f"without a reload, the page shows the notice: {row}")


# Run in this order.
STEPS: list[Callable[[Demo], None]] = [
    start_fake_topview, prepare_database, start_worker, start_web, create_user, open_live_page,
    submit_task, callback_received, notice_processed, page_updated, task_succeeded,
    media_archived,
]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay", type=float, default=2.0,
                        help="seconds from the submit to Topview's callback (default 2)")
    parser.add_argument("--deliveries", choices=["once", "twice", "out-of-order"],
                        default="once", help="how the fake calls back (default once)")
    parser.add_argument("--timeout", type=float, default=60,
                        help="seconds each step may take (default 60)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="topview-demo-") as folder:
        demo = Demo(Path(folder), args.delay, args.deliveries, args.timeout, env=dict(os.environ))
        try:
            for step in STEPS:
                step(demo)
        except (DemoFailed, OSError) as error:
            print(f"demo failed: {error}", file=sys.stderr)
            for log in sorted(demo.folder.glob("*.log")):
                print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
            return 1
        finally:
            demo.stop_all()
    demo.say("done", "every process the demo started is stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
