"""Topview's status words, normalised (contract §3), and the order a task moves through them."""

from django.db import models


class TaskStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Unknown"


TERMINAL = frozenset({TaskStatus.SUCCESS, TaskStatus.FAILED})

_WORDS = {
    "init": TaskStatus.QUEUED,
    "queued": TaskStatus.QUEUED,
    "running": TaskStatus.RUNNING,
    "processing": TaskStatus.RUNNING,
    "success": TaskStatus.SUCCESS,
    "succeeded": TaskStatus.SUCCESS,
    "completed": TaskStatus.SUCCESS,
    "fail": TaskStatus.FAILED,
    "failed": TaskStatus.FAILED,
    "error": TaskStatus.FAILED,
}


def normalise_status(word: object) -> TaskStatus:
    """Map whatever a sender wrote (`SUCCESS`, ` fail `, None) to one of our statuses."""
    if not isinstance(word, str):
        return TaskStatus.UNKNOWN
    return _WORDS.get(word.strip().lower(), TaskStatus.UNKNOWN)
