"""A small client for Topview's API (contract §4): submit a task, query it, check a notice URL.

Stdlib only (urllib + json): three calls do not justify a dependency. Every answer is an envelope
`{"code", "message", "result"}`; a code other than "200" becomes an exception from `ERRORS`, so a
caller catches exactly what it can act on (`TopviewInsufficientCredit`, `TopviewNotFound`, ...).
Only what may pass by itself is retried (busy, server errors, the network); a 4xxx never is.
A submit is retried only when Topview cannot have acted on it (see `TopviewClient.submit`).
"""

import http.client
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings


class TopviewError(Exception):
    """Topview answered with an error envelope, or could not be asked. `code` is always a string."""

    def __init__(self, message: str = "", *, code: str = "", http_status: int | None = None):
        super().__init__(f"Topview {code or 'error'}: {message}" if message else f"Topview {code}")
        self.code, self.message, self.http_status = code, message, http_status


class TopviewNotConfigured(TopviewError):
    """TOPVIEW_API_KEY / TOPVIEW_UID (or PUBLIC_BASE_URL, for a notice URL) is not set."""


class TopviewProtocolError(TopviewError):
    """The answer is not a JSON envelope: a proxy's HTML page, a truncated body, a changed API."""


class TopviewConnectionError(TopviewError):
    """Topview could not be reached, or did not answer within the timeout."""


class TopviewNotReached(TopviewConnectionError):
    """The connection was refused (or the host name did not resolve): nothing was sent."""


class TopviewSubmitUncertain(TopviewError):
    """A submit may have reached Topview and created its task, but no answer says so.

    A timeout, a connection reset after the request was sent, a server error other than 5003:
    submitting again could create the task twice (Topview has no idempotency key), so the
    submit is not retried. The original error is `__cause__`; `code` and `http_status` are its.
    """


class TopviewParameterError(TopviewError): ...            # 4000
class TopviewDataFormatMismatch(TopviewError): ...        # 4001
class TopviewSignatureMismatch(TopviewError): ...         # 4002
class TopviewMissingParameter(TopviewError): ...          # 4003
class TopviewNotFound(TopviewError): ...                  # 4004
class TopviewNameDuplicated(TopviewError): ...            # 4005
class TopviewRefused(TopviewError): ...                   # 4006
class TopviewUnfinishedTaskExists(TopviewError): ...      # 4007
class TopviewInsufficientCredit(TopviewError): ...        # 4100
class TopviewServerError(TopviewError): ...               # 5000, 5001, 5004, 5005: retried
class TopviewBusy(TopviewServerError): ...                # 5003 "server busy, retry later"
class TopviewSecurityError(TopviewError): ...             # 6001
class TopviewUnauthorized(TopviewError): ...              # 401: wrong key or UID


ERRORS: dict[str, type[TopviewError]] = {
    "4000": TopviewParameterError, "4001": TopviewDataFormatMismatch,
    "4002": TopviewSignatureMismatch, "4003": TopviewMissingParameter, "4004": TopviewNotFound,
    "4005": TopviewNameDuplicated, "4006": TopviewRefused, "4007": TopviewUnfinishedTaskExists,
    "4100": TopviewInsufficientCredit,
    "5000": TopviewServerError, "5001": TopviewServerError, "5003": TopviewBusy,
    "5004": TopviewServerError, "5005": TopviewServerError,
    "6001": TopviewSecurityError, "401": TopviewUnauthorized,
}


def error_for(code: str, message: str = "", http_status: int | None = None) -> TopviewError:
    # An undocumented 5xxx is still a server error by Topview's numbering, so it is retried too.
    cls = ERRORS.get(code) or (TopviewServerError if code.startswith("5") else TopviewError)
    return cls(message, code=code, http_status=http_status)


@dataclass(frozen=True)
class TaskKind:
    """A kind of Topview task: where it is submitted and queried, the bizTypes its notices carry."""

    name: str
    submit_path: str
    query_path: str
    biz_types: tuple[str, ...] = ()


# The docs name each notice's bizType but never say which endpoint a bizType comes from: this
# mapping (video avatar above all, and photo avatar, which has none) is our best reading of them.
KINDS: dict[str, TaskKind] = {kind.name: kind for kind in [
    TaskKind("m2v", "/v1/m2v/task/submit", "/v1/m2v/task/query",
             ("M2V_EXPORT", "M2V_PREVIEW", "M2V_SCRIPT")),
    TaskKind("video_avatar", "/v1/video_avatar/task/submit", "/v1/video_avatar/task/query",
             ("COMMON_TASK_VIDEO2AIAVATAR", "ZERO_SHOT_AVATAR")),
    TaskKind("photo_avatar", "/v1/photo_avatar/task/submit", "/v1/photo_avatar/task/query"),
    TaskKind("product_avatar_image2video", "/v2/product_avatar/task/image2Video/submit",
             "/v2/product_avatar/task/image2Video/query",
             ("PRODUCT_AVATAR_IMAGE2VIDEO", "PRODUCT_AVATAR_REPLACE_PRODUCT_IMAGE")),
    TaskKind("text2video", "/v1/common_task/text2video/task/submit",
             "/v1/common_task/text2video/task/query", ("COMMON_TASK_TEXT2VIDEO",)),
    TaskKind("image2video", "/v2/common_task/image2video/task/submit",
             "/v2/common_task/image2video/task/query", ("COMMON_TASK_IMAGE2VIDEO",)),
]}
_BY_BIZ_TYPE = {biz: kind for kind in KINDS.values() for biz in kind.biz_types}


def kind_for_biz_type(biz_type: object) -> TaskKind | None:
    """The kind whose query endpoint follows a notice of this bizType; None if we know none."""
    return _BY_BIZ_TYPE.get(biz_type.strip().upper()) if isinstance(biz_type, str) else None


def is_configured() -> bool:
    return bool(getattr(settings, "TOPVIEW_API_KEY", "") and getattr(settings, "TOPVIEW_UID", ""))


def notice_url(token: str | None = None) -> str:
    """The callback URL to give Topview: PUBLIC_BASE_URL/notice/topview[/<token>].

    Without a token, the first of NOTICE_TOKENS (the current one while rotating): the view refuses
    untokened posts as soon as tokens are configured.
    """
    base = (getattr(settings, "PUBLIC_BASE_URL", "") or "").rstrip("/")
    if not base:
        raise TopviewNotConfigured("PUBLIC_BASE_URL is empty: Topview could not call us back")
    if token is None:
        token = next(iter(getattr(settings, "NOTICE_TOKENS", None) or []), None)
    return f"{base}/notice/topview" + (f"/{urllib.parse.quote(token, safe='')}" if token else "")


class TopviewClient:
    def __init__(self, *, base_url: str, api_key: str, topview_uid: str, timeout: float,
                 retries: int = 3, backoff_seconds: float = 1.0,
                 sleep: Callable[[float], None] = time.sleep):
        """`retries` is the number of tries after the first; waits are backoff, 2x backoff, 4x..."""
        self.base_url = base_url.rstrip("/")
        self.api_key, self.topview_uid, self.timeout = api_key, topview_uid, timeout
        self.retries, self.backoff_seconds, self.sleep = retries, backoff_seconds, sleep

    @classmethod
    def from_settings(cls, **overrides: Any) -> "TopviewClient":
        if not is_configured():
            raise TopviewNotConfigured("set TOPVIEW_API_KEY and TOPVIEW_UID to call Topview's API")
        options = {"base_url": settings.TOPVIEW_API_BASE_URL, "api_key": settings.TOPVIEW_API_KEY,
                   "topview_uid": settings.TOPVIEW_UID,
                   "timeout": settings.TOPVIEW_API_TIMEOUT_SECONDS}
        return cls(**{**options, **overrides})

    def submit(self, kind: TaskKind | str, payload: dict, *, notice_url: str) -> dict:
        """Start a task; Topview answers {taskId, status, errorMsg} and later posts to notice_url.

        Retried only when Topview cannot have acted on it: a refused connection (nothing was
        sent) and 5003 "server busy, retry later". Anything else that leaves the outcome open
        raises TopviewSubmitUncertain rather than risk creating the task twice.
        """
        body = {**payload, "noticeUrl": notice_url}
        try:
            answer = self._call("POST", _kind(kind).submit_path, body=body,
                                retry_on=(TopviewBusy, TopviewNotReached))
        except (TopviewBusy, TopviewNotReached):
            raise
        except (TopviewServerError, TopviewConnectionError) as error:
            raise TopviewSubmitUncertain(
                f"the task may have been created ({error}); not retried, to create it only once",
                code=error.code, http_status=error.http_status) from error
        return _as_dict(answer)

    def query(self, kind: TaskKind | str, task_id: str, *, cloudfront: bool = False) -> dict:
        """The task as Topview sees it now: `status`, maybe `errorMsg` and its result fields."""
        params = {"taskId": task_id, **({"needCloudFrontUrl": "true"} if cloudfront else {})}
        return _as_dict(self._call("GET", _kind(kind).query_path, params=params))

    def check_notice_url(self, notice_url: str) -> dict:
        """Ask Topview to check a callback URL before tasks name it.

        Sent in the query string too: one version of the docs lists noticeUrl as a query parameter.
        """
        result = self._call("POST", "/notice/notice_url/check", params={"noticeUrl": notice_url},
                            body={"noticeUrl": notice_url})
        return result if isinstance(result, dict) else {"result": result}

    def _call(self, method: str, path: str, *, params: dict | None = None,
              body: dict | None = None,
              retry_on: tuple[type[TopviewError], ...] = (TopviewServerError,
                                                          TopviewConnectionError)) -> Any:
        """One call, retried with exponential backoff while the fault may pass by itself."""
        for attempt in range(self.retries + 1):
            try:
                return self._once(method, path, params, body)
            except retry_on:
                if attempt == self.retries:
                    raise
            self.sleep(self.backoff_seconds * 2**attempt)

    def _once(self, method: str, path: str, params: dict | None, body: dict | None) -> Any:
        url = self.base_url + path + (f"?{urllib.parse.urlencode(params)}" if params else "")
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self.api_key}", "Topview-Uid": self.topview_uid,
                   "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with _NO_REDIRECTS.open(request, timeout=self.timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:  # a non-2xx answer: its body may be an envelope
            status, raw = error.code, _read(error)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            reason = getattr(error, "reason", error)
            # A refused connection or an unknown host fails before a byte is sent (urllib wraps
            # what fails while connecting and sending in URLError): Topview never saw it.
            not_sent = isinstance(error, urllib.error.URLError) and isinstance(
                reason, (ConnectionRefusedError, socket.gaierror))
            error_class = TopviewNotReached if not_sent else TopviewConnectionError
            raise error_class(f"{method} {path}: {reason}") from error
        return _unwrap(raw, status)


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would follow a redirect with the API key to any host: a 3xx stays an answer."""

    def redirect_request(self, *args, **kwargs):
        return None


_NO_REDIRECTS = urllib.request.build_opener(_RefuseRedirects)


def _kind(kind: TaskKind | str) -> TaskKind:
    if isinstance(kind, TaskKind):
        return kind
    if kind not in KINDS:
        raise ValueError(f"unknown Topview task kind {kind!r}; known: {', '.join(KINDS)}")
    return KINDS[kind]


def _as_dict(result: Any) -> dict:
    if not isinstance(result, dict):
        raise TopviewProtocolError(f"result is {type(result).__name__}, not an object")
    return result


def _read(error: urllib.error.HTTPError) -> bytes:
    try:
        return error.read()
    except (OSError, http.client.HTTPException):
        return b""


def _unwrap(raw: bytes, status: int) -> Any:
    """The envelope's result on code "200"; else the error its code (or the HTTP status) names."""
    try:
        envelope = json.loads(raw)
    except (ValueError, RecursionError):
        envelope = None
    if not isinstance(envelope, dict) or not isinstance(envelope.get("code"), (str, int)):
        if status >= 500 or status == 401:
            raise error_for(str(status), f"HTTP {status} without an envelope", status)
        raise TopviewProtocolError(f"HTTP {status}, not a Topview envelope: {raw[:200]!r}",
                                   http_status=status)
    code, message = str(envelope["code"]).strip(), str(envelope.get("message") or "")
    if code == "200" and status < 300:
        return envelope.get("result")
    if code == "200":  # an HTTP error whose body claims success: trust the HTTP status
        raise error_for(str(status), message, status)
    raise error_for(code, message, status)
