"""What a page is sent: only the fields it shows, never a notice's body or headers.

The same shapes fill the staff page's first list and its live rows, so both look alike. Notice
fields come from whoever posted the notice: the page treats every value as text.
"""

from typing import Any

from notices.models import Notice
from tasks.models import Task

# The Notice columns `notice_message` reads (the selector loads no others).
NOTICE_FIELDS = ("id", "topview_task_id", "task_status", "biz_type", "received_at", "state")


def _identity(row: Notice | Task, status: str) -> dict[str, Any]:
    """What both messages start with: which task (Topview's taskId), its kind, its status."""
    return {
        "id": row.pk, "taskId": row.topview_task_id, "status": str(status), "bizType": row.biz_type,
    }


def notice_message(notice: Notice) -> dict[str, Any]:
    return {
        **_identity(notice, notice.task_status),
        "receivedAt": notice.received_at.isoformat(),
        "state": str(notice.state),
    }


def task_message(task: Task) -> dict[str, Any]:
    return {**_identity(task, task.status), "changedAt": task.status_changed_at.isoformat()}
