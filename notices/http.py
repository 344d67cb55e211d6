"""What the view takes from an HTTP request before storing it: the body, bounded, and headers."""

import time
from dataclasses import dataclass

from django.http import HttpRequest, UnreadablePostError

from topview_project.logfilters import REDACTED, redact_tokens

# Header names whose values are secrets, or may carry one; their values are never stored.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
_SECRET_WORDS = ("token", "secret", "signature", "password", "api-key")
MAX_RECORDED_SIZE = 2**63 - 1
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Body:
    raw: bytes
    size: int
    incomplete: bool = False


def read_body(
    request: HttpRequest, *, limit: int, within_seconds: float, keep_when_over: int = 4096
) -> Body:
    """Read at most `limit` bytes, for at most `within_seconds`; over the limit, keep only the
    first `keep_when_over` bytes.

    The stream is read, not `request.body`, so Django's own upload limit stays out of the way
    and no more than limit + 1 bytes are ever held. A chunked body (no Content-Length) is read
    from the server's stream when the server ends it for us (gunicorn says so). A sender that
    trickles its body is cut off at the deadline: under gunicorn each read also times out.
    """
    stream = request
    if not request.META.get("CONTENT_LENGTH") and request.META.get("wsgi.input_terminated"):
        stream = request.META["wsgi.input"]
    connection = request.META.get("gunicorn.socket")
    if connection is not None:
        connection.settimeout(within_seconds)
    deadline = time.monotonic() + within_seconds
    chunks, received, incomplete = [], 0, False
    try:
        while received <= limit:
            chunk = stream.read(min(_CHUNK, limit + 1 - received))
            if not chunk:
                break
            chunks.append(chunk)
            received += len(chunk)
            if time.monotonic() > deadline:
                incomplete = True
                break
    except (TimeoutError, UnreadablePostError):  # Too slow, or the sender went away.
        incomplete = True
    raw = b"".join(chunks)
    if len(raw) <= limit:
        return Body(raw=raw, size=len(raw), incomplete=incomplete)
    announced = request.META.get("CONTENT_LENGTH") or ""
    size = int(announced) if announced.isdigit() else len(raw)
    # Capped to what the column holds: a lying Content-Length must not fail the INSERT.
    size = min(max(size, len(raw)), MAX_RECORDED_SIZE)
    return Body(raw=raw[: min(keep_when_over, limit)], size=size)


def redacted_headers(request: HttpRequest) -> dict[str, str]:
    headers = {}
    for name, value in request.headers.items():
        lowered = name.lower()
        secret = lowered in _SECRET_HEADERS or any(word in lowered for word in _SECRET_WORDS)
        # PostgreSQL's jsonb refuses NUL characters, in keys as in values. A proxy may pass the
        # original URL on (X-Original-URI, Referer...): its token is blanked too.
        value = REDACTED if secret else redact_tokens(value.replace("\x00", "\ufffd"))
        headers[name.replace("\x00", "\ufffd")] = value
    return headers
