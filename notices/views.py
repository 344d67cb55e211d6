"""The notice endpoint: store the untrusted request first, then judge it, then answer.

No view here runs inside a request-wide transaction: the notice's INSERT commits on its own,
before the answer, so the audit row survives whatever happens after it.
"""

import json
import logging
import secrets
import time

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils.decorators import method_decorator
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from topview_project import metrics

from . import schema
from .access import client_address, signature_refusal, token_refusal
from .acknowledgements import ENDPOINT_DESCRIPTION, acknowledgement, utc_now_iso
from .http import read_body, redacted_headers
from .models import NoticeState, RefusalReason
from .parsing import NoticeFormat
from .ratelimit import seconds_until_allowed
from .services import NoticeRefused, notice_process, notice_receive, refusal_record

logger = logging.getLogger(__name__)


class AnswerInJSON(DefaultContentNegotiation):
    """JSON whatever the Accept header says. DRF's negotiation answers 406 before the view runs,
    so a sender asking for text/html would never have its notice stored; and it cost 3 % of a
    notice's CPU to choose the one renderer there is."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class NoticeEndpoint(APIView):
    """No authentication, parsing or throttling by DRF: the views read the raw body themselves
    and apply the notice URL's own rules (`access`, `ratelimit`), recording what they refuse."""

    authentication_classes = ()
    permission_classes = ()
    parser_classes = ()
    content_negotiation_class = AnswerInJSON

    def handle_exception(self, exc: Exception) -> Response:
        if not isinstance(exc, DatabaseError):
            return super().handle_exception(exc)
        return service_unavailable(f"database failure: {type(exc).__name__}: {exc}")

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.client = client_address(
            remote_addr=request.META.get("REMOTE_ADDR"),
            forwarded_for=request.META.get("HTTP_X_FORWARDED_FOR", ""),
            trusted=settings.NOTICE_TRUSTED_PROXIES,
        )

    def guard(self, request, token: str) -> Response | None:
        """The refusal of a request without a valid token, or over the rate limit, else None.

        The token comes first: a stranger's requests never count against the limits that
        Topview's own notices must stay under.
        """
        reason = token_refusal(token or request.GET.get("token", ""), settings.NOTICE_TOKENS)
        if reason:
            return self.refuse(request, RefusalReason.TOKEN, reason, 401,
                               headers={"WWW-Authenticate": 'Token realm="topview-notices"'})
        wait = seconds_until_allowed(client=self.client)
        if wait:
            return self.refuse(request, RefusalReason.RATE, "over the rate limit", 429,
                               headers={"Retry-After": str(wait)})
        return None

    def refuse(self, request, reason, detail: str, status: int, *, body=None, headers=None):
        self.refusal_reason = reason.value
        refusal_record(
            reason=reason,
            detail=detail,
            remote_addr=self.client,
            headers=redacted_headers(request),
            body=body.raw if body else b"",
            body_size=body.size if body else 0,
        )
        return Response({"success": False, "error": detail}, status=status, headers=headers)


def service_unavailable(detail: str) -> Response:
    """503 with a short id that the log carries too; the detail only in DEBUG."""
    error_id = secrets.token_hex(4)
    # One line, no traceback: while the database is down, every request comes here.
    logger.error("Notice request failed (error id %s): %s", error_id, detail)
    body = {"success": False, "error": "service unavailable, retry later", "error_id": error_id}
    if settings.DEBUG:
        body["detail"] = detail
    return Response(body, status=503, headers={"Retry-After": "30"})


class TopviewNoticeView(NoticeEndpoint):
    def dispatch(self, request, *args, **kwargs):
        """Count and time each POST, whatever its answer: increments only, no query."""
        if request.method != "POST":
            return super().dispatch(request, *args, **kwargs)
        started = time.perf_counter()
        self.notice_format, self.refusal_reason, response = "unknown", None, None
        try:
            response = super().dispatch(request, *args, **kwargs)
            return response
        finally:  # An exception that escapes DRF becomes Django's 500.
            status_class = f"{response.status_code // 100}xx" if response else "5xx"
            outcome = self.refusal_reason or status_class
            metrics.NOTICES_RECEIVED.labels(self.notice_format, outcome).inc()
            metrics.INGEST_SECONDS.observe(time.perf_counter() - started)

    @schema.get_notice
    def get(self, request, token=""):
        return Response(ENDPOINT_DESCRIPTION)

    @schema.post_notice
    def post(self, request, token=""):
        if refused := self.guard(request, token):
            return refused
        body = read_body(
            request,
            limit=settings.NOTICE_MAX_BODY_BYTES,
            within_seconds=settings.NOTICE_BODY_READ_SECONDS,
        )
        whole = not body.incomplete and body.size <= settings.NOTICE_MAX_BODY_BYTES
        reason = signature_refusal(body.raw, request.headers, settings.NOTICE_SIGNING_SECRETS)
        if reason and whole:  # A body cut short is stored and answered 408/413 as it is.
            return self.refuse(request, RefusalReason.SIGNATURE, reason, 401, body=body)
        try:
            notice = notice_receive(
                raw=body.raw,
                body_size=body.size,
                headers=redacted_headers(request),
                remote_addr=self.client,
                incomplete=body.incomplete,
            )
        except NoticeRefused as refused:
            self.notice_format = NoticeFormat.TOPVIEW.value  # Only its callbacks name an account.
            return self.refuse(request, RefusalReason.TOPVIEW_UID, str(refused), 403, body=body)
        self.notice_format = notice.format
        status, answer = acknowledgement(notice)
        return Response(answer, status=408 if body.incomplete else status)


class TopviewTestNoticeView(NoticeEndpoint):
    """A simulated notice in the simple format, stored as a test and processed before answering."""

    @schema.post_test_notice
    def post(self, request, token=""):
        if not settings.NOTICE_TEST_ENDPOINT:
            return Response({"success": False, "error": "the test endpoint is off"}, status=404)
        if refused := self.guard(request, token):
            return refused
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
            remote_addr=self.client,
            is_test=True,
        )
        notice = notice_process(notice_id=notice.pk)
        if notice.state != NoticeState.DONE:
            # Stored and retried by the sweep; the caller learns it did not go through (yet).
            return service_unavailable(f"test notice {notice.pk} is {notice.state}: {notice.last_error}")
        return Response(
            {"success": True, "message": "Test notification processed", "test_data": test_data}
        )
