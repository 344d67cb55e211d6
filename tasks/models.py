from django.conf import settings
from django.db import models
from django.utils import timezone

from .status import TaskStatus


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
    created_at = models.DateTimeField("created", auto_now_add=True)
    updated_at = models.DateTimeField("updated", auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [
            models.Index(fields=["-updated_at"], name="task_updated_idx"),
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
