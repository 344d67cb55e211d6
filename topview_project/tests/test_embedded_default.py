"""The embedded default: with no DATABASE_URL and no broker, the service runs on SQLite and
processes notices in-process. Run as a user would: migrate, serve, post."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import Request, urlopen

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(*args, env, **kwargs):
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, **kwargs)


def test_sqlite_and_in_process_tasks_work_with_nothing_configured(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    env["SQLITE_PATH"] = str(tmp_path / "db.sqlite3")
    assert manage("migrate", "--noinput", env=env).returncode == 0
    port = free_port()
    server = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/notice/topview"
        deadline = time.monotonic() + 30
        while True:
            try:
                urlopen(url, timeout=2).read()
                break
            except OSError:
                assert time.monotonic() < deadline, "runserver did not answer"
                time.sleep(0.2)
        body = json.dumps({"uuid": "smoke-1", "taskId": "smoke-task", "status": "success"}).encode()
        with urlopen(Request(url, data=body, headers={"Content-Type": "application/json"}), timeout=10) as answer:
            assert json.loads(answer.read())["code"] == "200"
    finally:
        server.terminate()
        server.wait(timeout=10)
    check = manage("shell", "--no-imports", "-c", "from tasks.models import Task; from notices.models import Notice; "
                   "print(Task.objects.get(topview_task_id='smoke-task').status, Notice.objects.get().state)",
                   env=env)
    assert check.stdout.split() == ["success", "done"], check.stderr
