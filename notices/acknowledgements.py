"""The answers a sender gets: Topview's documented acknowledgement, or the original design's."""

from django.conf import settings
from django.utils import timezone

from .models import Notice
from .parsing import NoticeFormat

ENDPOINT_DESCRIPTION = {
    "message": "Topview notice endpoint is active",
    "endpoint": "/notice/topview",
    "methods": ["POST", "GET"],
    "description": "Webhook endpoint for Topview AI notifications",
}


def utc_now_iso() -> str:
    return timezone.now().isoformat().replace("+00:00", "Z")


def acknowledgement(notice: Notice) -> tuple[int, dict]:
    """The HTTP status and body that answer a stored notice."""
    if notice.format == NoticeFormat.INVALID:
        status = 413 if notice.body_size > settings.NOTICE_MAX_BODY_BYTES else 400
        return status, {"success": False, "error": notice.error}
    if notice.format == NoticeFormat.TOPVIEW:
        topview_uid = settings.TOPVIEW_UID or notice.headers.get("Topview-Uid", "")
        return 200, {
            "code": "200",
            "message": "Success",
            "result": {"uuid": notice.notice_uuid, "topviewUid": topview_uid, "result": "success"},
        }
    return 200, {"success": True, "message": "Notice received successfully", "timestamp": utc_now_iso()}
