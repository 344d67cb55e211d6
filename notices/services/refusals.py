"""Recording refused requests: every one counted, a bounded sample kept whole."""

import logging
from collections.abc import Mapping

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from topview_project import metrics

from ..models import Refusal, RefusalCount, RefusalReason

logger = logging.getLogger(__name__)

# One statement counts the refusal and says how many came this minute (PostgreSQL and SQLite).
_COUNT = (
    f"INSERT INTO {RefusalCount._meta.db_table} (reason, minute, count) VALUES (%s, %s, 1) "
    f"ON CONFLICT (reason, minute) DO UPDATE SET count = {RefusalCount._meta.db_table}.count + 1 "
    "RETURNING count"
)
BODY_HEAD_BYTES = 1024
HEADER_VALUE_CHARS = 256


def refusal_record(
    *,
    reason: RefusalReason,
    detail: str,
    remote_addr: str | None,
    headers: Mapping[str, str],
    body: bytes = b"",
    body_size: int = 0,
) -> Refusal | None:
    """Count the refusal; keep it whole while its minute has room. Never raises: the refusal's
    answer must not depend on the database, which may be what is failing."""
    metrics.NOTICES_REFUSED.labels(reason.value).inc()
    now = timezone.now()
    try:
        with connection.cursor() as cursor:
            cursor.execute(_COUNT, [reason, now.replace(second=0, microsecond=0)])
            (count,) = cursor.fetchone()
        if count == 1:  # One line per reason and minute: a flood does not fill the log either.
            logger.warning("Refusing notice requests: %s (first: %s from %s); counted in "
                           "RefusalCount", reason.label, detail, remote_addr)
        if count > settings.NOTICE_REFUSAL_SAMPLE:
            return None
        return Refusal.objects.create(
            received_at=now,
            reason=reason,
            detail=detail[:255],
            remote_addr=remote_addr,
            headers=_bounded(headers),
            body_head=body[:BODY_HEAD_BYTES],
            body_size=body_size,
        )
    except DatabaseError as exc:
        logger.error("Could not record a refusal (%s): %s", reason, exc)
        return None


def _bounded(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers, each value cut to HEADER_VALUE_CHARS: a refusal row stays small."""
    return {name[:100]: value[:HEADER_VALUE_CHARS] for name, value in headers.items()}
