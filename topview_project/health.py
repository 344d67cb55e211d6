"""Liveness (/healthz: the process answers) and readiness (/readyz: it can do its work).

/readyz checks what a notice needs on its way: the database, the broker, a worker and beat
alive (the sweep's heartbeat is recent), and a backlog that is not growing old. Each check says
what it saw; any failed check makes the answer 503, so a load balancer stops sending.
"""

from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from notices.selectors import heartbeat_at, oldest_open_notice_received_at
from notices.services.outbox import SWEEP_HEARTBEAT

from .celery import app as celery_app


@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request):
    checks = {name: _run(check) for name, check in CHECKS.items()}
    ready = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status=200 if ready else 503
    )


def _run(check: Callable[[], str]) -> dict:
    try:
        return {"ok": True, "detail": check()}
    except Exception as exc:  # Each check's failure is its answer, never the page's.
        return {"ok": False, "detail": f"{type(exc).__name__}: {exc}"[:300]}


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return connection.vendor


def _broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "none: tasks run in-process"
    with celery_app.connection_for_read() as broker:
        broker.ensure_connection(max_retries=1, interval_start=0, timeout=2)
    return "reachable"


def _worker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "none needed: tasks run in-process"
    last = heartbeat_at(SWEEP_HEARTBEAT)
    if last is None:
        raise RuntimeError("no sweep has run yet: are a worker and beat running?")
    silence = (timezone.now() - last).total_seconds()
    if silence > settings.READY_MAX_WORKER_SILENCE_SECONDS:
        raise RuntimeError(f"last sweep {silence:.0f} s ago: a worker or beat is down")
    return f"last sweep {silence:.0f} s ago"


def _backlog() -> str:
    oldest = oldest_open_notice_received_at()
    if oldest is None:
        return "no open notices"
    age = (timezone.now() - oldest).total_seconds()
    if age > settings.READY_MAX_BACKLOG_AGE_SECONDS:
        raise RuntimeError(f"oldest open notice is {age:.0f} s old")
    return f"oldest open notice {age:.0f} s old"


CHECKS = {"database": _database, "broker": _broker, "worker": _worker, "backlog": _backlog}
