"""Bodies as gunicorn hands them over: chunked, oversized without Content-Length, trickled."""

import http.client
import socket
import sqlite3
import time

import pytest

from .servers import GUNICORN, bare_env, manage, served

LIMIT = 1000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gunicorn")
    env = bare_env(folder, NOTICE_MAX_BODY_BYTES=str(LIMIT), NOTICE_BODY_READ_SECONDS="2")
    assert manage("migrate", "--noinput", env=env).returncode == 0
    with served([*GUNICORN[:-1], "--workers", "1", "--bind"], env, folder / "server.log") as url:
        host, port = url.split("/")[2].split(":")
        yield host, int(port), folder / "db.sqlite3"


def stored(db) -> tuple:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT format, error, body_size, length(raw_body) FROM notices_notice "
                            "ORDER BY id DESC LIMIT 1").fetchone()


def chunked(host, port, parts) -> int:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request("POST", "/notice/topview", body=iter(parts), encode_chunked=True,
                 headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    return conn.getresponse().status


def test_a_chunked_notice_is_read_whole(server):
    host, port, db = server
    assert chunked(host, port, [b'{"taskId": "chunked", ', b'"status": "running"}']) == 200
    assert stored(db)[:2] == ("simple", "")


def test_a_chunked_body_over_the_limit_is_413(server):
    host, port, db = server
    assert chunked(host, port, [b"x" * 600] * 5) == 413
    assert stored(db) == ("invalid", f"body of {LIMIT + 1} bytes is over the limit of {LIMIT}", LIMIT + 1, LIMIT)


def test_a_trickling_sender_is_cut_off_and_the_worker_freed(server):
    host, port, db = server
    with socket.create_connection((host, port), timeout=30) as slow:
        slow.sendall(b"POST /notice/topview HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"taskId\"")
        started = time.monotonic()
        answer = slow.recv(200)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408")
    assert waited < 10  # cut off near NOTICE_BODY_READ_SECONDS (2 s), not left hanging
    format_, error, *_ = stored(db)
    # What gunicorn had buffered of a read that timed out is not handed over: 0 bytes came.
    assert format_ == "invalid" and error.startswith("body not received whole within 2 s")
    # The only worker is free again.
    assert chunked(host, port, [b'{"taskId": "after", "status": "running"}']) == 200
