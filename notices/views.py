"""The notice endpoint: store the untrusted request first, then judge it, then answer.

No view here runs inside a request-wide transaction: the notice's INSERT commits on its own,
before the answer, so the audit row survives whatever happens after it.
"""

import json
import logging
import secrets

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils.decorators import method_decorator
from rest_framework.response import Response
from rest_framework.views import APIView

from .acknowledgements import ENDPOINT_DESCRIPTION, acknowledgement, utc_now_iso
from .models import NoticeState
from .http import read_body, redacted_headers, remote_addr
from .services import notice_process, notice_receive

logger = logging.getLogger(__name__)


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class NoticeEndpoint(APIView):
    """No authentication, parsing or throttling by DRF: the views read the raw body themselves."""

    authentication_classes = ()
    permission_classes = ()
    parser_classes = ()

    def handle_exception(self, exc: Exception) -> Response:
        if not isinstance(exc, DatabaseError):
            return super().handle_exception(exc)
        return service_unavailable(f"database failure: {type(exc).__name__}: {exc}", exc=exc)


def service_unavailable(detail: str, exc: Exception | None = None) -> Response:
    """503 with a short id that the log carries too; the detail only in DEBUG."""
    error_id = secrets.token_hex(4)
    logger.error("Notice request failed (error id %s): %s", error_id, detail, exc_info=exc)
    body = {"success": False, "error": "service unavailable, retry later", "error_id": error_id}
    if settings.DEBUG:
        body["detail"] = detail
    return Response(body, status=503, headers={"Retry-After": "30"})


class TopviewNoticeView(NoticeEndpoint):
    def get(self, request):
        return Response(ENDPOINT_DESCRIPTION)

    def post(self, request):
        body = read_body(request, limit=settings.NOTICE_MAX_BODY_BYTES)
        notice = notice_receive(
            raw=body.raw,
            body_size=body.size,
            headers=redacted_headers(request),
            remote_addr=remote_addr(request),
        )
        status, answer = acknowledgement(notice)
        return Response(answer, status=status)


class TopviewTestNoticeView(NoticeEndpoint):
    """A simulated notice in the simple format, stored as a test and processed before answering."""

    def post(self, request):
        test_data = {
            "taskId": "test_task_123",
            "status": "success",
            "message": "Test notification received",
            "timestamp": utc_now_iso(),
        }
        raw = json.dumps(test_data).encode()
        notice = notice_receive(
            raw=raw,
            body_size=len(raw),
            headers=redacted_headers(request),
            remote_addr=remote_addr(request),
            is_test=True,
        )
        notice = notice_process(notice_id=notice.pk)
        if notice.state != NoticeState.DONE:
            # Stored and retried by the sweep; the caller learns it did not go through (yet).
            return service_unavailable(f"test notice {notice.pk} is {notice.state}: {notice.last_error}")
        return Response(
            {"success": True, "message": "Test notification processed", "test_data": test_data}
        )
