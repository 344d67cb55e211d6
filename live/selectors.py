"""Reads of the live pages."""

from notices.models import Notice

from .messages import NOTICE_FIELDS


def notice_list_recent(*, limit: int) -> list[Notice]:
    """The newest notices, newest first, without their bodies.

    Walks notice_received_idx (received_at descending); ties on the time are ordered by id.
    """
    return list(Notice.objects.only(*NOTICE_FIELDS).order_by("-received_at", "-id")[:limit])
