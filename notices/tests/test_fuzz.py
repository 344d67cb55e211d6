"""Hostile input against the production server: thousands of generated requests, no 5xx.

Every request goes over a raw socket (so that it can be malformed) to gunicorn on the test
database, tagged with its own X-Fuzz-Seq header. Each answer must be below 500, and each one
the view gave (JSON) must have left its notice in the audit trail; gunicorn itself refuses
malformed HTTP with a plain 400 before Django sees it.
"""

import json
import socket

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
answers: dict[int, tuple[int, bool]] = {}  # seq: (status, answered by the view)


def send(server, seq: int, body: bytes, *, content_type=b"application/json", extra=b"") -> int:
    """Send one request; its HTTP status, or 0 when the server closed without a status line."""
    head = (b"POST /notice/topview HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            b"Content-Type: " + content_type + b"\r\nContent-Length: " + str(len(body)).encode()
            + b"\r\nX-Fuzz-Seq: " + str(seq).encode() + b"\r\n" + extra + b"\r\n")
    with socket.create_connection(server, timeout=60) as conn:
        try:
            conn.sendall(head + body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # A 413 may close the connection before a 10 MB body is all sent.
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = conn.recv(4096)
            if not chunk:
                break
            reply += chunk
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.") else 0
    answers[seq] = (status, b"\r\ncontent-type: application/json" in reply.lower())
    return status


def check(status: int) -> None:
    assert 0 < status < 500


def stored_seqs() -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT headers->>'X-Fuzz-Seq' FROM notices_notice WHERE headers ? 'X-Fuzz-Seq'")
        return {int(row[0]) for row in cursor.fetchall()}


HOSTILE = [
    b"", b"null", b"[]", b'"x"', b"1e999", b"{" * 100_000 + b"}" * 100_000,
    b"[" * 100_000 + b"]" * 100_000, b'{"taskId": "t", "taskId": "u", "status": "success"}',
    b'{"taskId": "\\u0000", "status": "\\u0000\\ud800"}', b'{"\\u0000": 1}',
    b'{"taskId": 1' + b"0" * 5000 + b"}", b'{"n": 1e308, "m": -1e400, "k": 123456789012345678901234567890}',
    b"\xff\xfe\xfd", b'{"taskId": "\xc3\x28"}', b'{"uuid": "' + b"u" * 10_000 + b'"}',
    b'{"result": "' + b"[" * 1000 + b'"}', b"x" * (10 * 1024 * 1024),
    json.dumps({"uuid": "fuzz", "taskId": "t", "status": "success", "result": "{\"a\": NaN}"}).encode(),
]
INJECTIONS = [
    b"X-Evil: a\r\n Continued: b\r\n", b"Topview-Uid: \x00\x01\xff\r\n", b"X-Long: " + b"a" * 6000 + b"\r\n",
    b"Transfer-Encoding: chunked\r\n", b"Content-Length: 5\r\n", b"X-A\x00B: c\r\n",
    b"Topview-Uid: uid\r\nTopview-Uid: other\r\n",
]
CONTENT_TYPES = [b"application/json", b"text/plain", b"application/x-www-form-urlencoded",
                 b"multipart/form-data; boundary=x", b"", b"application/json; charset=latin-1"]


def test_hostile_bodies_headers_and_content_types(gunicorn_server):
    seq = 0
    for body in HOSTILE:
        for content_type in CONTENT_TYPES:
            seq += 1
            check(send(gunicorn_server, seq, body, content_type=content_type))
    for extra in INJECTIONS:
        seq += 1
        check(send(gunicorn_server, seq, b'{"taskId": "t", "status": "running"}', extra=extra))
    assert viewed() <= stored_seqs()


def viewed() -> set[int]:
    return {seq for seq, (_, by_view) in answers.items() if by_view}


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
notice_like = st.fixed_dictionaries(
    {}, optional={"uuid": st.text(max_size=40), "taskId": json_value, "status": json_value,
                  "bizType": json_value, "result": json_value | st.text(), "errorMsg": json_value})
bodies = st.one_of(
    st.binary(max_size=2000),
    notice_like.map(lambda d: json.dumps(d).encode()),
    json_value.map(lambda v: json.dumps(v).encode()),
    st.text(max_size=500).map(lambda t: t.encode("utf-8", "surrogatepass")),
)
seqs = iter(range(10_000, 1_000_000))


@settings(max_examples=5000, suppress_health_check=list(HealthCheck), deadline=None, database=None)
@given(body=bodies, content_type=st.sampled_from(CONTENT_TYPES))
def generated(server, body, content_type):
    check(send(server, next(seqs), body, content_type=content_type))


def test_five_thousand_generated_requests(gunicorn_server):
    answers.clear()
    generated(gunicorn_server)
    assert len(answers) >= 5000
    statuses = {status for status, _ in answers.values()}
    assert statuses <= {200, 400, 413} and {200, 400} <= statuses, statuses
    assert viewed() <= stored_seqs()
    assert send(gunicorn_server, 999_999_999, b'{"taskId": "still", "status": "running"}') == 200
