"""Submitting a task to Topview for a user: the call, then the Task row that follows it.

Topview is called outside any transaction (a network call must not hold a database lock), with
the noticeUrl it will call back. Its callback may come before our row exists (a fast task, a
slow commit): the notice's worker then creates the task without an owner, so the row is taken
here with `get_or_create` under a lock and given its owner and kind, its status moved only
forward.
"""

import json
import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from live.services import task_broadcast_on_commit

from .lifecycle import transition
from .models import Task
from .services import notification_record, task_status_set
from .status import TERMINAL, TaskStatus, normalise_status
from .topview_client import TopviewClient, TopviewError, TopviewProtocolError, notice_url

logger = logging.getLogger(__name__)


def task_submit(*, user: AbstractBaseUser, kind: str, params: dict,
                client: TopviewClient | None = None) -> Task:
    """Submit `params` to Topview's `kind` endpoint; the Task, owned by `user`.

    Raises the client's TopviewError when Topview refuses or cannot be asked; every one is
    logged with the user, kind and params, so nothing the user sent is lost.
    """
    try:
        client = client or TopviewClient.from_settings()
        answer = client.submit(kind, params, notice_url=notice_url())
        topview_task_id = answer.get("taskId")
        if not isinstance(topview_task_id, str) or not topview_task_id.strip():
            raise TopviewProtocolError(f"the submit's answer has no taskId: {answer!r}"[:500])
    except TopviewError as error:
        logger.log(
            logging.WARNING if error.code.startswith("4") else logging.ERROR,
            "Submit to Topview failed (%s: %s) for user %s, kind %s, params %s",
            type(error).__name__, error, user.pk, kind, json.dumps(params)[:4000],
        )
        raise
    task = _task_record(user=user, kind=kind, topview_task_id=topview_task_id.strip(),
                        status=normalise_status(answer.get("status")))
    logger.info("User %s submitted Topview task %s (%s)", user.pk, task.topview_task_id, kind)
    return task


def _task_record(*, user: AbstractBaseUser, kind: str, topview_task_id: str,
                 status: TaskStatus) -> Task:
    with transaction.atomic():
        task, created = Task.objects.select_for_update().get_or_create(
            topview_task_id=topview_task_id,
            defaults={"owner": user, "kind": kind, "status": status},
        )
        if not created:
            # Its notice came first: the task is ours all the same, and a status never goes back.
            adopted = task.owner_id is None
            task.owner = task.owner or user
            task.kind = task.kind or kind
            step = transition(current=TaskStatus(task.status), incoming=status)
            if step.changed:
                task_status_set(task, step.status, timezone.now())
            task.save()
            if adopted and task.status in TERMINAL:
                notification_record(task)  # It finished before it had an owner to tell.
        task_broadcast_on_commit(task=task)  # Live: the owner's pages show it at once.
    return task
