"""Rules of reconciliation: asking Topview about a task whose callback never came.

Plain functions, so tests call them directly; `notices.services.polling` applies them.
- Which kind of query endpoint a task is asked at: the kind it was submitted to, else the one its
  bizType names; a task of neither cannot be asked (and is not asked again until it changes).
- When to ask again: the delay doubles with every answer that changed nothing, capped.
- How many queries a run may make: what the cap per minute leaves over the last minute's.
- What the answer is recorded as: a notice body shaped like Topview's callback, so the same
  parsing and processing apply to it.
"""

from datetime import timedelta

from topview_project.backoff import doubling

from .topview_client import KINDS, TaskKind, kind_for_biz_type


def kind_to_ask(*, kind: str, biz_type: str) -> TaskKind | None:
    """The kind whose query endpoint knows the task; None when we cannot tell."""
    return KINDS.get(kind) or kind_for_biz_type(biz_type)


def cannot_ask_reason(*, kind: str, biz_type: str) -> str:
    return (
        f"cannot ask Topview: no known query endpoint for kind {kind!r} and bizType {biz_type!r}"
    )


def poll_delay(*, attempts: int, after_seconds: int, max_seconds: int) -> timedelta:
    """How long after its `attempts`-th unanswered query a task is asked again (1st: after x1)."""
    return timedelta(seconds=doubling(attempts=attempts, base=after_seconds, cap=max_seconds))


def query_budget(*, per_minute: int, used_last_minute: int) -> int:
    """Queries a run may make now: the cap per minute less those of the last minute."""
    return max(per_minute - used_last_minute, 0)


def callback_body(*, topview_task_id: str, biz_type: str, answer: dict) -> dict:
    """A query answer as Topview would have posted it: `result` is the answer itself (contract §1).

    No uuid: a uuid is one of Topview's notices, and this is not one.
    """
    return {
        "bizType": biz_type,
        "taskId": topview_task_id,
        "status": answer.get("status"),
        "errorMsg": answer.get("errorMsg") or "",
        "result": answer,
    }
