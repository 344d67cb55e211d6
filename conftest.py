"""Fixtures shared by every app's tests: in-process Celery, and a real worker for integration."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from topview_project.celery import app as celery_app
from topview_project.tests.servers import free_port

ROOT = Path(__file__).resolve().parent

# Machines are shared and noisy: property tests judge behaviour, never speed.
hypothesis_settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("default")


@pytest.fixture
def eager_celery():
    """Run `.delay()` in-process, as the embedded default does."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


def database_url() -> str:
    """The URL of the database the tests run on (pytest-django's test database)."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


FAST_OUTBOX = {
    "NOTICE_SWEEP_GRACE_SECONDS": 2,
    "NOTICE_RETRY_BASE_SECONDS": 1,
    "NOTICE_MAX_ATTEMPTS": 3,
}


@pytest.fixture
def fast_outbox(settings):
    """The worker's outbox timings, in this process too (the live server stores the notices)."""
    for name, value in FAST_OUTBOX.items():
        setattr(settings, name, value)


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real `celery worker` process on Redis, with beat inside it, working on the test database.

    Yields the folder its emails are written to (the file-based email backend), so tests can
    count what was really sent.
    """
    if connection.vendor != "postgresql" or celery_app.conf.task_always_eager:
        pytest.fail("integration tests need DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL: run make test")
    queue = celery_app.conf.task_default_queue
    mail_dir = tmp_path_factory.mktemp("sent-emails")
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    with django_db_blocker.unblock():
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "DJANGO_EMAIL_FILE_PATH": str(mail_dir),
            "CELERY_QUEUE": queue,
            # Outbox timings short enough for a test to watch them (see `fast_outbox`).
            **{name: str(value) for name, value in FAST_OUTBOX.items()},
            "NOTICE_SWEEP_INTERVAL_SECONDS": "1",
            "DJANGO_ADMINS": "Ops <ops@example.com>",
        }
    celery_app.control.purge()
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "topview_project", "worker", "--beat",
             "--schedule", str(log.parent / "beat-schedule"),
             "--concurrency=2", "--loglevel=INFO", "-Q", f"{queue},{settings.CELERY_MEDIA_QUEUE}",
             "-n", f"test-{os.getpid()}@%h"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_worker(worker, log)
        yield mail_dir
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def _wait_for_worker(worker: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise RuntimeError(f"celery worker exited:\n{log.read_text()}")
        if b"ready." in log.read_bytes():
            return
        time.sleep(0.2)
    raise RuntimeError(f"celery worker not ready after 60 s:\n{log.read_text()}")


@pytest.fixture
def wait_until():
    """Poll a predicate until it returns something true; fail the test after `timeout` seconds."""
    return _wait_until


def _wait_until(predicate, *, timeout: float = 30, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


@pytest.fixture(scope="session")
def gunicorn_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """The production web server (gunicorn, 2 workers) on the test database; yields host, port."""
    folder = tmp_path_factory.mktemp("gunicorn")
    unprocessed = f"{celery_app.conf.task_default_queue}-unprocessed"
    with django_db_blocker.unblock():
        # No rate limits: the tests that use it send thousands of requests from one address.
        # A queue no worker takes: these tests judge what is stored and answered, and the
        # session's worker processing thousands of their notices would still hold locks when
        # a later test empties the tables (a deadlock with its TRUNCATE, seen once in CI).
        env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_DEBUG": "0",
               "NOTICE_RATE_PER_ADDRESS": "0", "NOTICE_RATE_OVERALL": "0",
               "CELERY_QUEUE": unprocessed}
    port = free_port()
    log = folder / "gunicorn.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "topview_project.wsgi", "--workers", "2",
             "--bind", f"127.0.0.1:{port}", "--timeout", "60"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        _wait_until(lambda: _answers(port) or server.poll() is not None, timeout=30)
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{log.read_text()}")
        yield "127.0.0.1", port
    finally:
        server.terminate()
        server.wait(timeout=20)
        with celery_app.connection_for_write() as broker:  # Its messages go with it.
            broker.default_channel.queue_delete(unprocessed)


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False
