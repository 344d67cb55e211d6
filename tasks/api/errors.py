"""Topview's errors as the Task API answers them: a status a client can act on, a clear message.

Topview's own message is shown where it is about what the user sent (parameters, credit,
conflicts); errors about our account or Topview's health get a message of ours (the details are
in the log, see `tasks.submission`).
"""

from rest_framework import status
from rest_framework.exceptions import APIException

from tasks import topview_client as tv

# How long a client should wait before submitting again when Topview is busy or unreachable.
RETRY_AFTER_SECONDS = 30

_UNAVAILABLE, _BAD_GATEWAY = status.HTTP_503_SERVICE_UNAVAILABLE, status.HTTP_502_BAD_GATEWAY

# (errors, HTTP status, code, message, Retry-After?); the first rule that matches wins (the last
# matches every error). `{message}` is Topview's message, `{code}` its code.
_RULES: list[tuple[tuple[type[tv.TopviewError], ...], int, str, str, bool]] = [
    ((tv.TopviewNotConfigured,), _UNAVAILABLE, "topview_not_configured",
     "Submitting to Topview is not configured on this server.", False),
    ((tv.TopviewBusy,), _UNAVAILABLE, "topview_busy",
     "Topview is busy; nothing was submitted. Try again later.", True),
    ((tv.TopviewNotReached,), _UNAVAILABLE, "topview_unreachable",
     "Topview could not be reached; nothing was submitted. Try again later.", True),
    ((tv.TopviewSubmitUncertain,), _BAD_GATEWAY, "topview_no_answer",
     "Topview did not answer: the task may have been created. It was not submitted again. "
     "If it was, it reaches us without an owner and staff can give it to you (the log has "
     "this submit); submitting again may create it twice.", False),
    ((tv.TopviewInsufficientCredit,), status.HTTP_402_PAYMENT_REQUIRED, "insufficient_credit",
     "Not enough Topview credit for this task: {message}", False),
    ((tv.TopviewParameterError, tv.TopviewDataFormatMismatch, tv.TopviewMissingParameter),
     status.HTTP_400_BAD_REQUEST, "invalid_params", "Topview refused the params: {message}",
     False),
    ((tv.TopviewRefused,), status.HTTP_400_BAD_REQUEST, "refused",
     "Topview refused the task: {message}", False),
    ((tv.TopviewNameDuplicated, tv.TopviewUnfinishedTaskExists), status.HTTP_409_CONFLICT,
     "conflict", "Topview refused the task: {message}", False),
    ((tv.TopviewError,), _BAD_GATEWAY, "topview_error",
     "Topview refused the request (code {code}); the server's log has the details.", False),
]


class TopviewAPIError(APIException):
    """DRF's exception handler answers `status_code` with `detail` (and Retry-After: `wait`)."""

    def __init__(self, *, status_code: int, code: str, message: str, wait: int | None = None):
        self.status_code, self.wait = status_code, wait
        super().__init__(detail={"detail": message, "code": code}, code=code)


def api_error_for(error: tv.TopviewError) -> TopviewAPIError:
    _, http_status, code, message, retry = next(
        rule for rule in _RULES if isinstance(error, rule[0]))
    text = message.format(message=error.message or "no message", code=error.code or "?")
    return TopviewAPIError(status_code=http_status, code=code, message=text,
                           wait=RETRY_AFTER_SECONDS if retry else None)
