"""The service as a user starts it, in a process of its own, reached over HTTP.

With no DATABASE_URL and no broker it runs on SQLite and processes notices in-process; with a
database that does not answer, it says 503 quickly and logs the error id it answers with.
"""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.error import HTTPError
from urllib.request import Request, urlopen

ROOT = Path(__file__).resolve().parents[2]
NOTICE = json.dumps({"uuid": "smoke-1", "taskId": "smoke-task", "status": "success"}).encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bare_env(tmp_path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    return {**env, "SQLITE_PATH": str(tmp_path / "db.sqlite3"), **extra}


def manage(*args, env):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


RUNSERVER = [sys.executable, "manage.py", "runserver", "--noreload"]
GUNICORN = [sys.executable, "-m", "gunicorn", "topview_project.wsgi", "--bind"]


@contextlib.contextmanager
def served(command, env, log: Path):
    """The server `command` on a free port; yields the notice URL once it answers."""
    port = free_port()
    with open(log, "wb") as out:
        server = subprocess.Popen([*command, f"127.0.0.1:{port}"], cwd=ROOT, env=env,
                                  stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/notice/topview"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urlopen(url, timeout=2).read()
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def post(url):
    request = Request(url, data=NOTICE, headers={"Content-Type": "application/json"})
    try:
        with urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except HTTPError as error:
        return error.code, json.loads(error.read())


def test_sqlite_and_in_process_tasks_work_with_nothing_configured(tmp_path):
    env = bare_env(tmp_path)
    assert manage("migrate", "--noinput", env=env).returncode == 0
    with served(RUNSERVER, env, tmp_path / "server.log") as url:
        status, answer = post(url)
    assert (status, answer["code"]) == (200, "200")
    check = manage("shell", "--no-imports", "-c", "from tasks.models import Task; from notices.models "
                   "import Notice; print(Task.objects.get().status, Notice.objects.get().state)", env=env)
    assert check.stdout.split() == ["success", "done"], check.stderr


def test_an_unreachable_database_is_a_quick_503_with_the_logged_error_id(tmp_path):
    nobody = f"postgres://postgres@127.0.0.1:{free_port()}/nothing"
    env = bare_env(tmp_path, DATABASE_URL=nobody, DJANGO_DEBUG="0")
    log = tmp_path / "server.log"
    with served(GUNICORN, env, log) as url:
        started = time.monotonic()
        status, answer = post(url)
        elapsed = time.monotonic() - started
    assert status == 503 and answer["success"] is False
    assert set(answer) == {"success", "error", "error_id"}
    assert f"error id {answer['error_id']}" in log.read_text()
    assert elapsed < 10  # a generous bound on DB_CONNECT_TIMEOUT (3 s): the server did not hang
