"""A request id on every request: the caller's X-Request-ID when it is sane, else a new one.

It is answered in the X-Request-ID header and carried by every line logged for the request,
so a caller (or the proxy in front) and our logs can name the same request.
"""

import re
import uuid

from django.core.signals import request_finished

from .logcontext import set_request_id

HEADER = "X-Request-ID"
# Anything else (too long, spaces, quotes, control characters) is not copied into our logs.
_SANE = re.compile(r"[A-Za-z0-9._-]{1,64}")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get(HEADER, "")
        request_id = given if _SANE.fullmatch(given) else uuid.uuid4().hex
        set_request_id(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        return response


def _forget_request_id(**kwargs) -> None:
    set_request_id(None)


request_finished.connect(_forget_request_id)
