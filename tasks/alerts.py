"""Telling the admins about a record once: marked before the mail is sent, never sent twice."""

import logging
from collections.abc import Callable

from django.core.mail import mail_admins
from django.db import models, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)


def alert_admins_once(
    *,
    queryset: models.QuerySet,
    pk: int,
    wanted: Callable[[models.Model], bool],
    compose: Callable[[models.Model], tuple[str, str]],
) -> models.Model:
    """Mail the admins `compose(row)` (subject, message) unless `wanted(row)` is false or it was sent.

    The row's `alerted_at` is set in its own transaction before the mail leaves: a worker that
    dies meanwhile, or a second hand-off of the same alert, sends nothing more.
    """
    with transaction.atomic():
        row = queryset.select_for_update().get(pk=pk)
        if not wanted(row) or row.alerted_at is not None:
            return row
        row.alerted_at = timezone.now()
        row.save(update_fields=["alerted_at"])
    subject, message = compose(row)
    try:
        mail_admins(subject=subject, message=message)
    except Exception:
        # The log is the alert of last resort; the mark stays, so the sweep does not resend.
        logger.exception("Could not alert the admins about %s", row)
    return row
