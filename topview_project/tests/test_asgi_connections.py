"""The ASGI process keeps no database connection per request.

Under ASGI each request runs in a thread of its own, so a connection kept for the next request
(CONN_MAX_AGE) is never used again and stays open: under load PostgreSQL runs out of
connections. Django's docs: "When using ASGI, persistent connections should be disabled."
"""

import os
import subprocess
import sys
import time
import uuid
from urllib.error import HTTPError
from urllib.request import urlopen

import pytest
from django.db import connection

from conftest import ROOT, _wait_until, database_url

from .servers import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def test_requests_served_by_daphne_leave_no_connection_open(tmp_path):
    name = f"asgi-test-{uuid.uuid4().hex[:8]}"  # libpq's application_name for daphne's connections.
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_DEBUG": "0", "PGAPPNAME": name,
           "DB_CONN_MAX_AGE": "600"}
    port = free_port()
    with open(tmp_path / "daphne.log", "wb") as log:  # As docker-compose.yml's live service.
        daphne = subprocess.Popen(
            [sys.executable, "-m", "daphne", "--bind", "127.0.0.1", "--port", str(port),
             "topview_project.asgi:application"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        for _ in range(30):  # /readyz asks the database each time.
            _wait_until(lambda: readyz(port), timeout=30)

        def open_connections() -> int:
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                               [name])
                return cursor.fetchone()[0]

        # None once the last answer is closed (given a moment); one per request before the fix.
        deadline = time.monotonic() + 10
        while (left := open_connections()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert left == 0, f"{left} connections left open by 30 requests"
    finally:
        daphne.terminate()
        daphne.wait(timeout=20)


def readyz(port: int) -> bool:
    try:
        urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5).read()
    except HTTPError:
        pass  # 503 (no worker seen, say): the database was asked all the same.
    except OSError:
        return False  # Not listening yet.
    return True
