"""docker-compose.yml's services, run as the file gives them, on this machine (no Docker here):
web, worker, media-worker and beat against the test database and Redis; a notice goes through, and each
service's health check passes."""

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.request import Request, urlopen

import pytest
import yaml

from conftest import ROOT, database_url
from notices.models import Notice, NoticeState

from .servers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
SERVICES = ("web", "worker", "media-worker", "beat")


def argv(command, port: int, schedule: Path) -> list[str]:
    """The service's command; only its port and beat's schedule file are moved."""
    text = command if isinstance(command, str) else shlex.join(command)
    text = text.replace("0.0.0.0:8000", f"127.0.0.1:{port}").replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    text = text.replace("/tmp/celerybeat-schedule", str(schedule))
    return ["sh", "-c", text.replace("$$", "$")]  # compose's escape for a literal $


@pytest.fixture
def compose_stack(tmp_path, wait_until):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "DATABASE_URL": database_url(),
        "CELERY_QUEUE": f"compose-{uuid.uuid4().hex[:8]}",
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "NOTICE_SWEEP_INTERVAL_SECONDS": "1",
        "HOSTNAME": socket.gethostname(),
    }
    started = {}
    for name in SERVICES:
        service = compose["services"][name]
        with open(tmp_path / f"{name}.log", "wb") as log:
            started[name] = subprocess.Popen(
                argv(service["command"], port, tmp_path / "beat-schedule"), cwd=ROOT, env=env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield compose, port, env, started
    finally:
        for process in started.values():
            os.killpg(process.pid, signal.SIGTERM)  # sh and what it started: ours alone
        for process in started.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def test_the_compose_services_run_as_given_and_a_notice_goes_through(compose_stack, wait_until):
    compose, port, env, started = compose_stack
    url = f"http://127.0.0.1:{port}/notice/topview"
    wait_until(lambda: _answers(url), timeout=60)
    task_id = f"compose-{uuid.uuid4().hex[:8]}"
    body = json.dumps({"uuid": uuid.uuid4().hex, "taskId": task_id, "status": "success"}).encode()
    with urlopen(Request(url, data=body, headers={"Content-Type": "application/json"}), timeout=10) as answer:
        assert json.loads(answer.read())["code"] == "200"
    wait_until(lambda: Notice.objects.filter(topview_task_id=task_id, state=NoticeState.DONE).exists(),
               timeout=60)
    for name in SERVICES:
        test = compose["services"][name]["healthcheck"]["test"]
        command = test[1] if test[0] == "CMD-SHELL" else shlex.join(test[1:])
        check = lambda: subprocess.run(  # noqa: E731
            argv(command, port, Path("/nonexistent")), cwd=ROOT, env=env, capture_output=True,
            timeout=60).returncode == 0
        assert wait_until(check, timeout=90, interval=2), name
    assert all(process.poll() is None for process in started.values())


def _answers(url: str) -> bool:
    try:
        urlopen(url, timeout=2).read()
        return True
    except OSError:
        return False
