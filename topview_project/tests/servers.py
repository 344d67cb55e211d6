"""Running the service as a user does, in processes of its own, for the tests that need that."""

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
