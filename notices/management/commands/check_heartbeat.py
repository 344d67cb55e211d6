"""Exit 1 when the sweep has not run lately: beat's (and a worker's) health check."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from notices.selectors import heartbeat_at
from notices.services.outbox import SWEEP_HEARTBEAT


class Command(BaseCommand):
    help = "Fail unless the sweep (sent by beat, run by a worker) ran within --max-age seconds."

    def add_arguments(self, parser):
        parser.add_argument("--max-age", type=int, default=60, help="seconds (default 60)")

    def handle(self, *, max_age, **options):
        last = heartbeat_at(SWEEP_HEARTBEAT)
        if last is None:
            raise CommandError("no sweep has run yet")
        age = (timezone.now() - last).total_seconds()
        if age > max_age:
            raise CommandError(f"last sweep {age:.0f} s ago (more than {max_age} s)")
        self.stdout.write(f"last sweep {age:.0f} s ago")
