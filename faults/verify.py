"""What the suite checks, read from the stack's own database and the emails its worker wrote.

The suite uses Django's ORM in its own process, configured by the same environment as the
app, so the checks read the tables exactly as the service defines them.
"""

import os
import re
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from faults.load import Attempt

ROOT = Path(__file__).resolve().parent.parent
OWNERS = 5
# The status a task reaches with each notice, and how far along that is.
REACHES = {"init": "queued", "running": "running", "success": "success", "fail": "failed"}
RANK = {"unknown": 0, "queued": 1, "running": 2, "success": 3, "failed": 3}
EMAIL_VERBS = {"is ready": "success", "failed": "failed"}
UNFINISHED_STATES = ("pending", "processing", "failed")


def setup_django(env: dict[str, str]) -> None:
    """Configure Django for the stack's database; only then may the models be imported."""
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "topview_project.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def create_owned_tasks(task_ids: list[str]) -> None:
    """Pre-create the tasks, each with an owner who has an email: each finished task mails once."""
    from django.contrib.auth import get_user_model
    from tasks.models import Task

    users = [
        get_user_model().objects.get_or_create(
            username=f"faults-owner-{n}", defaults={"email": f"owner{n}@faults.example"}
        )[0]
        for n in range(OWNERS)
    ]
    Task.objects.bulk_create(
        Task(topview_task_id=task_id, owner=users[n % OWNERS]) for n, task_id in enumerate(task_ids)
    )
    _disconnect()


@dataclass(frozen=True)
class Outcome:
    """What one fault's load left behind; lost, wrong, duplicates and pending must be 0."""

    sent: int
    answered: int
    stored: int
    lost: int
    wrong: int
    duplicates: int
    pending: int
    dead: int
    unsent: int  # notifications recorded and not yet tried: the stack still has work to do
    emails_missing: int  # finished tasks whose owner got no email (at most once: a worker may die)

    @property
    def settled(self) -> bool:
        """Nothing left to do and nothing wrong: the stack has recovered."""
        return not (self.pending or self.wrong or self.unsent)

    def as_dict(self) -> dict:
        return asdict(self)


def outcome(prefix: str, attempts: list[Attempt], mail_dir: Path) -> Outcome:
    """Compare what the load sent and was answered with what the stack stored and did."""
    stored_seqs, states, task_status, notifications = _read_database(prefix)
    emails = count_emails(mail_dir, prefix)
    acknowledged = {a.seq for a in attempts if a.acknowledged}
    expected = expected_status(attempts, stored_seqs)
    return Outcome(
        sent=len(attempts),
        answered=len(acknowledged),
        stored=sum(1 for a in attempts if a.seq in stored_seqs),
        lost=len(acknowledged - stored_seqs),
        wrong=sum(
            1 for task, status in task_status.items() if status != expected.get(task, "unknown")
        ),
        duplicates=sum(n - 1 for n in emails.values() if n > 1) + notifications["extra"],
        pending=sum(states.get(state, 0) for state in UNFINISHED_STATES),
        dead=states.get("dead", 0),
        unsent=notifications["unsent"],
        emails_missing=sum(
            1 for task, status in task_status.items()
            if status in EMAIL_VERBS.values() and not emails[(task, status)]
        ),
    )


def wait_for_processing(prefix: str, timeout: float) -> int | None:
    """The id of a notice of this load that a worker is processing right now, if one comes."""
    from django.db import connection

    deadline = time.monotonic() + timeout
    try:
        with connection.cursor() as cursor:
            while time.monotonic() < deadline:
                cursor.execute(
                    "SELECT id FROM notices_notice WHERE state = 'processing' "
                    "AND topview_task_id LIKE %s LIMIT 1",
                    [prefix + "%"],
                )
                row = cursor.fetchone()
                if row:
                    return row[0]
                time.sleep(0.002)
    finally:
        _disconnect()
    return None


def expected_status(attempts: list[Attempt], stored_seqs: set[int]) -> dict[str, str]:
    """Each task's right status: the furthest one among its notices the service accepted.

    A notice counts as accepted when any delivery of its uuid was answered 2xx or stored; the
    state machine never goes back, so a task behind (or past) that status is wrong.
    """
    expected: dict[str, str] = {}
    for attempt in attempts:
        if not (attempt.acknowledged or attempt.seq in stored_seqs):
            continue
        delivery = attempt.delivery
        reached = REACHES[delivery.status]
        if RANK[reached] > RANK[expected.get(delivery.task_id, "unknown")]:
            expected[delivery.task_id] = reached
    return expected


def _read_database(prefix: str) -> tuple[set[int], Counter, dict[str, str], dict[str, int]]:
    from django.db import connection
    from django.db.models import Count
    from notices.models import Notice
    from tasks.models import Notification, Task

    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT headers->>'X-Fault-Seq' FROM notices_notice "
                "WHERE topview_task_id LIKE %s AND headers->>'X-Fault-Seq' IS NOT NULL",
                [prefix + "%"],
            )
            stored_seqs = {int(seq) for (seq,) in cursor.fetchall()}
        notices = Notice.objects.filter(topview_task_id__startswith=prefix)
        states = Counter(dict(notices.order_by().values_list("state").annotate(n=Count("id"))))
        task_status = dict(
            Task.objects.filter(topview_task_id__startswith=prefix)
            .values_list("topview_task_id", "status")
        )
        mine = Notification.objects.filter(task__topview_task_id__startswith=prefix)
        # More than one per task and status is impossible while the unique constraint holds;
        # counted all the same.
        per_status = (
            mine.order_by().values("task", "status").annotate(n=Count("id"))
            .values_list("n", flat=True)
        )
        notifications = {
            "extra": sum(n - 1 for n in per_status if n > 1),
            "unsent": mine.filter(sent_at__isnull=True, send_started_at__isnull=True).count(),
        }
    finally:
        _disconnect()
    return stored_seqs, states, task_status, notifications


def _disconnect() -> None:
    """Close the suite's connection: PostgreSQL may be killed before the next check."""
    from django.db import connections

    connections.close_all()


def count_emails(mail_dir: Path, prefix: str) -> Counter:
    """Emails per (task, final status), from the file backend's files (one or more per file)."""
    subject = re.compile(
        rf"^Subject: Topview task ({re.escape(prefix)}\S*) (is ready|failed)$", re.MULTILINE
    )
    counts: Counter = Counter()
    for path in mail_dir.iterdir():
        for task_id, verb in subject.findall(path.read_text(errors="replace")):
            counts[(task_id, EMAIL_VERBS[verb])] += 1
    return counts
