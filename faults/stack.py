"""The suite's own stack on 127.0.0.1: PostgreSQL, Redis, gunicorn, a Celery worker and beat.

Everything lives in one temporary folder and on free ports, so the suite may stop and kill its
parts freely without ever touching the machine's own PostgreSQL (5432) or Redis (6379).
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from faults.procs import Managed, children, free_port, signal_pid, wait_for

ROOT = Path(__file__).resolve().parent.parent
PG_USER = "postgres"  # initdb and postgres refuse to run as root.
# The stack's queue; its worker takes it alone, as docker-compose's worker does (media downloads
# have a worker of their own there, and none here: the load's result URLs lead nowhere).
NOTICE_QUEUE = "topview-notices"


def postgres_bin() -> Path:
    """The newest PostgreSQL installed by Debian's packages."""
    versions = sorted(Path("/usr/lib/postgresql").iterdir(), key=lambda p: int(p.name))
    return versions[-1] / "bin"


class Stack:
    """Starts each part, knows each pid, and stops them all (in `close`, whatever happened)."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="topview-faults-"))
        pg_ids = pwd.getpwnam(PG_USER)
        os.chown(self.tmp, pg_ids.pw_uid, pg_ids.pw_gid)
        self.mail_dir = self.tmp / "mail"
        self.mail_dir.mkdir()
        self.pg_port, self.redis_port, self.web_port = free_port(), free_port(), free_port()
        self.base_url = f"http://127.0.0.1:{self.web_port}"
        self.env = self._app_env()
        self.started: list[Managed] = []
        self.postgres = self.redis = self.web = self.worker = self.beat = None
        self._worker_generation = 0

    def _app_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{self.pg_port}/postgres",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "CELERY_QUEUE": NOTICE_QUEUE,
            "DJANGO_DEBUG": "0",
            "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "DJANGO_EMAIL_FILE_PATH": str(self.mail_dir),
            "NOTICE_SWEEP_INTERVAL_SECONDS": "2",
            "NOTICE_SWEEP_GRACE_SECONDS": "5",
            "NOTICE_PROCESSING_LEASE_SECONDS": "15",
            "NOTICE_RETRY_BASE_SECONDS": "2",
            "NOTICE_MAX_ATTEMPTS": "8",
            "DB_CONNECT_TIMEOUT": "2",
            # Rate limits in the same Redis (they fail open while it is down); the load comes
            # from one address, so the limits are set above it.
            "CACHE_URL": f"redis://127.0.0.1:{self.redis_port}/1",
            "NOTICE_RATE_PER_ADDRESS": "1000000",
            "NOTICE_RATE_OVERALL": "1000000",
            "LOG_LEVEL": "INFO",
        }

    def _managed(self, name: str, argv: list[str], **kwargs) -> Managed:
        process = Managed(
            name=name, argv=argv, log=self.tmp / f"{name}.log",
            env=kwargs.pop("env", self.env), cwd=kwargs.pop("cwd", ROOT), **kwargs,
        )
        self.started.append(process)
        return process

    # --- the whole stack ---------------------------------------------------------------------

    def start(self) -> None:
        self._init_postgres()
        self.start_postgres()
        self.start_redis()
        self._run_app("migrate", [sys.executable, "manage.py", "migrate", "--noinput"])
        self.web = self._managed("web", [
            sys.executable, "-m", "gunicorn", "topview_project.wsgi:application",
            "--bind", f"127.0.0.1:{self.web_port}", "--workers", "3", "--timeout", "30",
            # Its own control socket: the default one in ~/.gunicorn is shared with any other.
            "--control-socket", str(self.tmp / "gunicorn.ctl"),
        ]).start()
        wait_for("gunicorn", self._web_answers, timeout=60, process=self.web)
        self.start_worker()
        self.beat = self._managed("beat", [
            sys.executable, "-m", "celery", "-A", "topview_project", "beat", "--loglevel=INFO",
            "--schedule", str(self.tmp / "beat-schedule"),
        ]).start()

    def close(self) -> None:
        """Stop every process started, the app first and its services last; remove the folder."""
        for process in sorted(self.started, key=lambda p: p.name in ("redis", "postgres")):
            process.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def health(self) -> str:
        """What is running now, to tell a slow recovery from a part that is gone."""
        def pool(process: Managed) -> str:
            if not process.alive():
                return "exited"
            return f"pid {process.pid} with {len(children(process.pid))} children"

        return (
            f"Celery worker {pool(self.worker)}; gunicorn {pool(self.web)}; "
            f"beat {pool(self.beat)}; PostgreSQL {'ready' if self._pg_ready() else 'DOWN'}; "
            f"Redis {'answers' if self._redis_pongs() else 'DOWN'}"
        )

    def logs(self) -> list[Path]:
        return sorted(self.tmp.glob("*.log"))

    def _run_app(self, name: str, argv: list[str]) -> None:
        log = self.tmp / f"{name}.log"
        with open(log, "wb") as out:
            done = subprocess.run(
                argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        if done.returncode:
            raise RuntimeError(f"{' '.join(argv)} failed; log {log}:\n{log.read_text()}")

    # --- PostgreSQL ----------------------------------------------------------------------------

    def _init_postgres(self) -> None:
        log = self.tmp / "initdb.log"
        with open(log, "wb") as out:
            done = subprocess.run(
                [str(postgres_bin() / "initdb"), "-D", str(self.tmp / "pg"), "-U", "postgres",
                 "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
                cwd=self.tmp, user=PG_USER, env=self._pg_env(),
                stdout=out, stderr=subprocess.STDOUT,
            )
        if done.returncode:
            raise RuntimeError(f"initdb failed; log {log}:\n{log.read_text()}")

    def _pg_env(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}

    def start_postgres(self) -> None:
        """Start (or start again, after a crash) the postmaster; SIGINT is its fast shutdown."""
        if self.postgres is None:
            self.postgres = self._managed("postgres", [
                str(postgres_bin() / "postgres"), "-D", str(self.tmp / "pg"),
                "-p", str(self.pg_port), "-k", str(self.tmp),
                "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
            ], env=self._pg_env(), cwd=self.tmp, user=PG_USER, stop_signal=signal.SIGINT)
        self.postgres.start()
        wait_for("PostgreSQL", self._pg_ready, timeout=60, process=self.postgres)

    def stop_postgres_immediately(self) -> None:
        """What `pg_ctl -m immediate` does: SIGQUIT to the postmaster, no checkpoint."""
        signal_pid(self.postgres.pid, signal.SIGQUIT)
        self.postgres.popen.wait(timeout=30)

    def _pg_ready(self) -> bool:
        return subprocess.run(
            ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.pg_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ).returncode == 0

    # --- Redis ---------------------------------------------------------------------------------

    def start_redis(self) -> None:
        """Start (or start again, empty: nothing is saved) the broker."""
        if self.redis is None:
            self.redis = self._managed("redis", [
                "redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no",
            ], cwd=self.tmp)
        self.redis.start()
        wait_for("Redis", self._redis_pongs, timeout=30, process=self.redis)

    def stop_redis(self) -> None:
        self.redis.stop()

    def _redis_pongs(self) -> bool:
        try:
            return self.redis_command(b"PING") == b"+PONG"
        except OSError:
            return False

    def redis_command(self, command: bytes) -> bytes:
        """One inline command to the stack's Redis; its one-line reply (no redis-py needed)."""
        with socket.create_connection(("127.0.0.1", self.redis_port), timeout=1) as sock:
            sock.sendall(command + b"\r\n")
            return sock.recv(64).split(b"\r\n", 1)[0]

    def unacked_messages(self) -> int:
        """Messages workers have taken and not yet acknowledged (kombu keeps them in `unacked`)."""
        return int(self.redis_command(b"HLEN unacked")[1:])

    # --- the app -------------------------------------------------------------------------------

    def _web_answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/notice/topview", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    def start_worker(self) -> None:
        """A new worker, with a log of its own so that its "ready." is not an older worker's."""
        self._worker_generation += 1
        self.worker = self._managed(f"worker-{self._worker_generation}", [
            sys.executable, "-m", "celery", "-A", "topview_project", "worker",
            "--concurrency=2", "--loglevel=INFO", "-Q", NOTICE_QUEUE,
        ]).start()
        log = self.worker.log
        wait_for("Celery worker", lambda: b"ready." in log.read_bytes(), timeout=60,
                 process=self.worker)
