"""Reads of the inbox that more than one caller needs."""

from datetime import datetime

from django.db.models import Min

from .models import OPEN_STATES, Heartbeat, Notice


def oldest_open_notice_received_at() -> datetime | None:
    """When the oldest notice still pending, processing or failed was received (None: none)."""
    return Notice.objects.filter(state__in=OPEN_STATES).aggregate(oldest=Min("received_at"))["oldest"]


def heartbeat_at(name: str) -> datetime | None:
    return Heartbeat.objects.filter(name=name).values_list("at", flat=True).first()
