"""Reads of tasks for the product's API."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from .models import Task

# Newest first; the id breaks ties, so a cursor never skips or repeats a row.
USER_TASK_ORDERING = ("-created_at", "-id")


def task_list_for_user(*, user: AbstractBaseUser) -> QuerySet[Task]:
    """The user's own tasks, and only theirs: every read of the API starts here."""
    tasks = Task.objects.filter(owner=user).order_by(*USER_TASK_ORDERING)
    return tasks.prefetch_related("media_copies")  # One query for a page's copies.
