from django.db import models
from django.db.models import Q
from django.utils import timezone

from tasks.status import TaskStatus
from tasks.verification import Verification

from .parsing import NoticeFormat


class NoticeState(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed (will retry)"
    DEAD = "dead", "Dead (gave up)"


class NoticeSource(models.TextChoices):
    """Where a notice came from, so the audit trail shows where every status came from."""

    CALLBACK = "callback", "Callback (posted to us)"
    POLL = "poll", "Poll (our query to Topview)"


# States in which a notice still has work to do: the sweep watches these.
OPEN_STATES = [NoticeState.PENDING, NoticeState.PROCESSING, NoticeState.FAILED]


class Notice(models.Model):
    """One delivery to the notice endpoint, stored before it is answered: the audit trail.

    Every delivery gets a row: duplicates, invalid bodies and oversized ones too. Rows are never
    edited by staff; only processing moves `state` and what goes with it.
    """

    received_at = models.DateTimeField("received", default=timezone.now)
    remote_addr = models.GenericIPAddressField(
        "remote address", null=True, blank=True, help_text="The direct peer (REMOTE_ADDR)."
    )
    headers = models.JSONField(default=dict, help_text="Request headers, secrets redacted.")
    raw_body = models.BinaryField("raw body", help_text="The body's bytes exactly as received.")
    body_size = models.PositiveBigIntegerField(
        "body size", help_text="Bytes announced or read; more than the raw body when too large."
    )
    payload = models.JSONField(
        null=True, blank=True, help_text="The parsed JSON object, when the body had one."
    )
    format = models.CharField(max_length=16, choices=NoticeFormat.choices)
    error = models.CharField(
        max_length=255, blank=True, help_text="Why the notice was refused as invalid."
    )
    notice_uuid = models.CharField(
        "notice uuid", max_length=128, blank=True, help_text="Topview's uuid, one per notice."
    )
    topview_task_id = models.CharField("taskId", max_length=128, blank=True)
    biz_type = models.CharField("bizType", max_length=64, blank=True)
    status = models.CharField(
        "status as sent", max_length=32, blank=True, help_text="As the sender wrote it, trimmed."
    )
    task_status = models.CharField(
        "normalised status", max_length=16, choices=TaskStatus.choices, default=TaskStatus.UNKNOWN
    )
    warnings = models.JSONField(default=list, blank=True, help_text="Defaults taken, values fixed.")
    verification = models.CharField(
        max_length=16, choices=Verification.choices, blank=True, default=Verification.NOT_NEEDED,
        help_text="Whether Topview confirmed the final status this notice claimed.",
    )
    verification_answer = models.JSONField(
        "Topview's answer", null=True, blank=True, help_text="What the query endpoint said."
    )
    source = models.CharField(
        max_length=16, choices=NoticeSource.choices, default=NoticeSource.CALLBACK,
        help_text="Posted to the notice URL, or Topview's answer when we asked (reconciliation).",
    )
    is_test = models.BooleanField("test", default=False, help_text="Simulated: nobody is told.")
    is_duplicate = models.BooleanField(
        "duplicate", default=False, help_text="Its uuid was seen before: stored, with no effect."
    )
    is_late = models.BooleanField(
        "late", default=False, help_text="Arrived after its task had moved past this status."
    )
    state = models.CharField(
        "processing state", max_length=16, choices=NoticeState.choices, default=NoticeState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Processing attempts begun.")
    last_error = models.TextField("last error", blank=True)
    next_attempt_at = models.DateTimeField(
        "due", null=True, blank=True,
        help_text="When the sweep hands the notice on (again) unless it is done by then; "
        "while processing, the end of its worker's lease.",
    )
    alerted_at = models.DateTimeField(
        "admins alerted", null=True, blank=True, help_text="When the admins were told it is dead."
    )
    processed_at = models.DateTimeField(
        "processed", null=True, blank=True, help_text="When it was first processed to the end."
    )
    task = models.ForeignKey(
        "tasks.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="notices"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        permissions = [("replay_notice", "Can replay notices")]
        indexes = [
            models.Index(fields=["-received_at"], name="notice_received_idx"),
            models.Index(fields=["format", "-received_at"], name="notice_format_received_idx"),
            models.Index(fields=["state", "-received_at"], name="notice_state_received_idx"),
            models.Index(fields=["task_status", "-received_at"], name="notice_status_received_idx"),
            models.Index(fields=["biz_type", "-received_at"], name="notice_biztype_received_idx"),
            models.Index(
                fields=["verification", "-received_at"], name="notice_verified_received_idx"
            ),
            models.Index(fields=["topview_task_id"], name="notice_task_id_idx"),
            models.Index(fields=["notice_uuid"], name="notice_uuid_idx"),
            models.Index(fields=["task", "received_at"], name="notice_task_received_idx"),
            # Duplicates and tests are few: the admin's "yes" filters must not scan the rest.
            models.Index(
                fields=["-received_at"], condition=Q(is_duplicate=True), name="notice_duplicate_idx"
            ),
            models.Index(fields=["-received_at"], condition=Q(is_test=True), name="notice_test_idx"),
            models.Index(
                fields=["-received_at"], condition=Q(source=NoticeSource.POLL), name="notice_poll_idx"
            ),
            # The sweep's two questions: which notices are due, which dead ones are not alerted.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state__in=OPEN_STATES),
                name="notice_due_idx",
            ),
            models.Index(
                fields=["id"],
                condition=Q(state=NoticeState.DEAD, alerted_at__isnull=True),
                name="notice_dead_unalerted_idx",
            ),
            # /readyz: how old is the oldest notice still open.
            models.Index(
                fields=["received_at"],
                condition=Q(state__in=OPEN_STATES),
                name="notice_open_received_idx",
            ),
        ]
        constraints = [
            # The one first delivery of each uuid; the database refuses a second, even concurrent.
            models.UniqueConstraint(
                fields=["notice_uuid"],
                condition=Q(is_duplicate=False) & ~Q(notice_uuid=""),
                name="notice_uuid_first_delivery",
            ),
            models.CheckConstraint(
                condition=Q(format__in=NoticeFormat.values), name="notice_format_valid"
            ),
            models.CheckConstraint(
                condition=Q(source__in=NoticeSource.values), name="notice_source_valid"
            ),
            models.CheckConstraint(
                condition=Q(state__in=NoticeState.values), name="notice_state_valid"
            ),
            # An open notice always has a time when the sweep looks at it again.
            models.CheckConstraint(
                condition=~Q(state__in=OPEN_STATES) | Q(next_attempt_at__isnull=False),
                name="notice_open_is_due",
            ),
            models.CheckConstraint(
                condition=Q(is_duplicate=False) | ~Q(notice_uuid=""),
                name="notice_duplicate_has_uuid",
            ),
            models.CheckConstraint(
                condition=~Q(format=NoticeFormat.INVALID) | ~Q(error=""),
                name="notice_invalid_has_error",
            ),
        ]

    def __str__(self) -> str:
        return f"Notice {self.pk} ({self.format}, {self.topview_task_id or 'no taskId'})"


class RefusalReason(models.TextChoices):
    TOKEN = "token", "No valid token"
    TOPVIEW_UID = "topview_uid", "Wrong Topview-Uid"
    SIGNATURE = "signature", "Bad signature"
    RATE = "rate", "Over the rate limit"


class Refusal(models.Model):
    """A request refused before it became a notice: a sample, so a flood cannot fill the disk.

    Every refusal is counted in `RefusalCount`; only the first NOTICE_REFUSAL_SAMPLE of each
    reason in a minute are kept here, and of those only the first bytes of the body.
    """

    received_at = models.DateTimeField("received", default=timezone.now)
    reason = models.CharField(max_length=16, choices=RefusalReason.choices)
    detail = models.CharField(max_length=255, blank=True, help_text="What exactly was wrong.")
    remote_addr = models.GenericIPAddressField("client address", null=True, blank=True)
    headers = models.JSONField(default=dict, help_text="Request headers, secrets redacted.")
    body_head = models.BinaryField("first bytes of the body", blank=True, default=b"")
    body_size = models.PositiveBigIntegerField("body size", default=0)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["-received_at"], name="refusal_received_idx"),
            models.Index(fields=["reason", "-received_at"], name="refusal_reason_received_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(reason__in=RefusalReason.values), name="refusal_reason_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Refusal {self.pk} ({self.reason})"


class RefusalCount(models.Model):
    """How many requests were refused, per reason and minute: every one, sampled or not."""

    reason = models.CharField(max_length=16, choices=RefusalReason.choices)
    minute = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-minute"]
        indexes = [models.Index(fields=["-minute"], name="refusal_count_minute_idx")]
        constraints = [
            models.UniqueConstraint(fields=["reason", "minute"], name="refusal_count_per_minute"),
        ]

    def __str__(self) -> str:
        return f"{self.count} refused ({self.reason}) at {self.minute:%Y-%m-%d %H:%M}"


class Heartbeat(models.Model):
    """When a periodic job last ran to the end: the sweep writes one, /readyz reads it."""

    name = models.CharField(max_length=32, unique=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.at:%Y-%m-%d %H:%M:%S}"
