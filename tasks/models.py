from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from .status import TaskStatus

# Statuses reconciliation asks Topview about: the task is not finished by our account.
OPEN_STATUSES = [TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.UNKNOWN]


def first_poll_at():
    """A new task is asked about once its status has not changed for RECONCILE_AFTER_SECONDS."""
    return timezone.now() + timedelta(seconds=settings.RECONCILE_AFTER_SECONDS)


class Task(models.Model):
    """One Topview task, followed from its first notice to its final status."""

    topview_task_id = models.CharField(
        "Topview task id", max_length=128, unique=True, help_text="The taskId Topview gave the task."
    )
    biz_type = models.CharField(
        "bizType", max_length=64, blank=True, help_text="Topview's kind of task, e.g. M2V_EXPORT."
    )
    kind = models.CharField(
        max_length=32, blank=True,
        help_text="The API the task was submitted to (topview_client.KINDS), where we know it: "
        "it says where to query the task.",
    )
    status = models.CharField(
        max_length=16, choices=TaskStatus.choices, default=TaskStatus.UNKNOWN,
        help_text="Normalised status; success and failed are final.",
    )
    status_changed_at = models.DateTimeField("status changed", default=timezone.now)
    error_message = models.TextField(blank=True, help_text="Topview's errorMsg when the task failed.")
    result = models.JSONField(
        null=True, blank=True, help_text="The result object of the notice that finished the task."
    )
    # Text, not URLField: signed result URLs have no length we could rely on.
    video_url = models.TextField("video URL", blank=True, help_text="Topview's URL, valid 7 days.")
    cover_url = models.TextField("cover URL", blank=True, help_text="Topview's URL, valid 7 days.")
    duration_ms = models.PositiveIntegerField("duration (ms)", null=True, blank=True)
    cost_credits = models.DecimalField(
        "cost (credits)", max_digits=12, decimal_places=2, null=True, blank=True
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="topview_tasks", help_text="Told by email when the task finishes.",
    )
    # Reconciliation (notices.services.polling): asking Topview when no callback came.
    next_poll_at = models.DateTimeField(
        "next query to Topview", null=True, blank=True, default=first_poll_at,
        help_text="When reconciliation may ask Topview about the task next, if it is still open; "
        "empty: never (finished, or its kind is unknown so it cannot be asked).",
    )
    poll_attempts = models.PositiveSmallIntegerField(
        "queries since the last change", default=0,
        help_text="Times reconciliation asked Topview since the status last changed (the backoff).",
    )
    last_polled_at = models.DateTimeField(
        "last queried", null=True, blank=True, help_text="When reconciliation last asked Topview."
    )
    poll_error = models.TextField(
        "reconciliation problem", blank=True,
        help_text="Why the last query failed, or why the task cannot be asked at all.",
    )
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [
            models.Index(fields=["-updated_at"], name="task_updated_idx"),
            # Reconciliation's two questions: which open tasks are due, how many were asked
            # within the last minute (the cap).
            models.Index(
                fields=["next_poll_at"],
                condition=models.Q(status__in=OPEN_STATUSES, next_poll_at__isnull=False),
                name="task_poll_due_idx",
            ),
            models.Index(
                fields=["last_polled_at"],
                condition=models.Q(last_polled_at__isnull=False),
                name="task_polled_idx",
            ),
            # The admin's "cannot be asked" filter: open tasks with no next query.
            models.Index(
                fields=["-updated_at"],
                condition=models.Q(status__in=OPEN_STATUSES, next_poll_at__isnull=True),
                name="task_unpollable_idx",
            ),
            models.Index(fields=["status", "-updated_at"], name="task_status_updated_idx"),
            models.Index(fields=["biz_type", "-updated_at"], name="task_biztype_updated_idx"),
            # The Task API's list: a user's tasks, newest first, a cursor page at a time.
            models.Index(fields=["owner", "-created_at", "-id"], name="task_owner_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=TaskStatus.values), name="task_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.topview_task_id} ({self.status})"

    @property
    def media(self) -> dict[str, "MediaCopy"]:
        """Our copies of the result files by role (video, cover); prefetch `media_copies`."""
        return {copy.role: copy for copy in self.media_copies.all()}


class Notification(models.Model):
    """An owner told that their task reached a final status: at most one per task and status."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="notifications")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=16, choices=TaskStatus.choices)
    created_at = models.DateTimeField("recorded", auto_now_add=True)
    send_started_at = models.DateTimeField(
        "sending started", null=True, blank=True,
        help_text="Set before the email is handed to the mail server, so it is never sent twice; "
        "set without 'sent', the worker died while sending and the email may not have left.",
    )
    send_attempts = models.PositiveSmallIntegerField("send attempts", default=0)
    last_error = models.TextField("last error", blank=True)
    sent_at = models.DateTimeField(
        "sent", null=True, blank=True, help_text="When the email left; empty until it has."
    )

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["created_at"], name="notification_created_idx"),
            # The sweep's question: which notifications were never tried (their message was lost).
            models.Index(
                fields=["created_at"],
                condition=models.Q(sent_at__isnull=True, send_attempts=0),
                name="notification_unsent_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["task", "status"], name="notification_once_per_status"),
            models.CheckConstraint(
                condition=models.Q(status__in=[TaskStatus.SUCCESS, TaskStatus.FAILED]),
                name="notification_final_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} told {self.task.topview_task_id} is {self.status}"


class MediaRole(models.TextChoices):
    VIDEO = "video", "Video"
    COVER = "cover", "Cover"


class MediaState(models.TextChoices):
    PENDING = "pending", "Pending"
    DOWNLOADING = "downloading", "Downloading"
    DONE = "done", "Archived"
    FAILED = "failed", "Failed (will retry)"
    EXPIRED = "expired", "Gave up (Topview's URL expired)"
    REFUSED = "refused", "Refused (a URL or size we never fetch)"


# States in which a copy still has work to do: the sweep watches these.
OPEN_MEDIA_STATES = [MediaState.PENDING, MediaState.DOWNLOADING, MediaState.FAILED]


class MediaCopy(models.Model):
    """Our copy of one result file of a successful task: Topview's URLs expire after 7 days."""

    task = models.ForeignKey(
        Task, on_delete=models.CASCADE, related_name="media_copies", help_text="The task it came from."
    )
    role = models.CharField(
        max_length=8, choices=MediaRole.choices, help_text="Which result file it is."
    )
    source_url = models.TextField(
        "Topview's URL", help_text="Where the file was downloaded from (valid 7 days)."
    )
    file = models.FileField(
        max_length=255, blank=True, help_text="Our copy in Django's default storage, once archived."
    )
    size = models.PositiveBigIntegerField(
        "size (bytes)", null=True, blank=True, help_text="Bytes stored."
    )
    sha256 = models.CharField(
        "SHA-256", max_length=64, blank=True, help_text="Hex digest of the stored bytes."
    )
    content_type = models.CharField(
        "content type", max_length=128, blank=True, help_text="As the source server sent it."
    )
    state = models.CharField(
        max_length=16, choices=MediaState.choices, default=MediaState.PENDING,
        help_text="Archiving progress; failed copies are retried until Topview's URL expires.",
    )
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Downloads begun.")
    next_attempt_at = models.DateTimeField(
        "due", null=True, blank=True,
        help_text="When the copy is tried (again) unless done; while downloading, the lease's end.",
    )
    last_error = models.TextField("last error", blank=True, help_text="Why the last try failed.")
    source_expires_at = models.DateTimeField(
        "source expires", help_text="When Topview's URL stops working (7 days after success)."
    )
    alerted_at = models.DateTimeField(
        "admins alerted", null=True, blank=True,
        help_text="When the admins were told the copy is still missing close to the expiry.",
    )
    created_at = models.DateTimeField("recorded", auto_now_add=True)
    archived_at = models.DateTimeField("archived", null=True, blank=True)

    class Meta:
        ordering = ["task", "role"]
        verbose_name = "media copy"
        verbose_name_plural = "media copies"
        indexes = [
            # The sweep's questions: which copies are due, which near expiry are not alerted.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(state__in=OPEN_MEDIA_STATES),
                name="media_due_idx",
            ),
            models.Index(
                fields=["source_expires_at"],
                condition=models.Q(alerted_at__isnull=True) & ~models.Q(state=MediaState.DONE),
                name="media_unalerted_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["task", "role"], name="media_copy_once_per_role"),
            models.CheckConstraint(
                condition=models.Q(state__in=MediaState.values), name="media_state_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=MediaRole.values), name="media_role_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(state__in=OPEN_MEDIA_STATES) | models.Q(next_attempt_at__isnull=False),
                name="media_open_is_due",
            ),
            models.CheckConstraint(
                condition=~models.Q(state=MediaState.DONE)
                | (~models.Q(file="") & models.Q(size__isnull=False) & ~models.Q(sha256="")),
                name="media_done_has_file",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} of {self.task.topview_task_id} ({self.state})"

    @property
    def url(self) -> str:
        """Where our copy is served from (the storage's URL); empty until archived."""
        return self.file.url if self.state == MediaState.DONE and self.file else ""
