"""Delete old notices, keeping each task's latest one (beat runs the same prune daily)."""

import re
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from notices.services import notice_prune

UNITS = {"d": "days", "h": "hours", "m": "minutes"}


class Command(BaseCommand):
    help = "Delete finished notices older than --older-than (e.g. 90d, 12h), in batches."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", required=True, help="an age: 90d, 36h or 45m")
        parser.add_argument("--batch", type=int, default=1000, help="rows per transaction")

    def handle(self, *, older_than, batch, **options):
        match = re.fullmatch(r"(\d+)([dhm])", older_than.strip())
        if not match or batch < 1:
            raise CommandError(f"--older-than takes an age like 90d, 36h or 45m, not {older_than!r}")
        age = timedelta(**{UNITS[match[2]]: int(match[1])})
        deleted = notice_prune(older_than=age, batch=batch)
        self.stdout.write(f"Deleted {deleted} notices older than {older_than}.")
