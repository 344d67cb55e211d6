"""What the view takes from an HTTP request before storing it: the body, bounded, and headers."""

from dataclasses import dataclass

from django.http import HttpRequest

# Header names whose values are secrets, or may carry one; their values are never stored.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
_SECRET_WORDS = ("token", "secret", "signature", "password", "api-key")
REDACTED = "[redacted]"
MAX_RECORDED_SIZE = 2**63 - 1


@dataclass(frozen=True)
class Body:
    raw: bytes
    size: int

    @property
    def complete(self) -> bool:
        return self.size == len(self.raw)


def read_body(request: HttpRequest, *, limit: int, keep_when_over: int = 4096) -> Body:
    """Read at most `limit` bytes; past the limit, keep only the first `keep_when_over`.

    Reading the stream (not `request.body`) keeps Django's own upload limit out of the way and
    never holds more than limit + 1 bytes. The size of a body over the limit is the one its
    Content-Length announced, or limit + 1 when none did.
    """
    raw = request.read(limit + 1)
    if len(raw) <= limit:
        return Body(raw=raw, size=len(raw))
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
        # PostgreSQL's jsonb refuses NUL characters, in keys as in values.
        headers[name.replace("\x00", "\ufffd")] = REDACTED if secret else value.replace("\x00", "\ufffd")
    return headers
