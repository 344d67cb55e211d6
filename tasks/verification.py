"""Verify by fetching: a notice that would finish a task is checked with Topview's query API.

Topview signs nothing, so a notice saying "success" proves nothing on its own. When the API is
configured, the task's status is asked of Topview itself, and what Topview answers is what the
task is moved to; while Topview does not call the task finished, the notice is retried. A task whose kind we cannot tell cannot be asked about, and is not finished
by a notice; without API credentials every notice is trusted, and marked unconfirmed.
"""

import json
from dataclasses import dataclass
from typing import Any

from django.db import models

from topview_project import untrusted_json

from .reconciliation import kind_to_ask
from .status import TERMINAL, TaskStatus, normalise_status
from .topview_client import TopviewClient, TopviewNotFound


class Verification(models.TextChoices):
    NOT_NEEDED = "", "Not needed"
    UNCONFIRMED = "unconfirmed", "Trusted, not confirmed (no API credentials)"
    CONFIRMED = "confirmed", "Confirmed by Topview"
    CONTRADICTED = "contradicted", "Contradicted by Topview"
    UNVERIFIABLE = "unverifiable", "Could not be asked (unknown task kind)"


@dataclass(frozen=True)
class Verdict:
    verification: Verification
    status: TaskStatus  # the status to apply: Topview's when it answered
    answer: Any = None  # Topview's answer, kept with the notice
    result: Any = None

    @property
    def error_message(self) -> str:
        message = (self.answer or {}).get("errorMsg") if isinstance(self.answer, dict) else ""
        return message if isinstance(message, str) else ""


def verify_status(*, topview_task_id: str, kind: str, biz_type: str, claimed: TaskStatus) -> Verdict:
    """What a notice claiming the final status `claimed` may move the task to, by Topview's own
    answer (the API configured). Raises TopviewError to retry later.

    Asked where the task was submitted (`kind`, when we submitted it), else where its bizType
    says: a photo avatar's notices carry no bizType we know.
    """
    kind = kind_to_ask(kind=kind, biz_type=biz_type)
    if kind is None:
        return Verdict(Verification.UNVERIFIABLE, TaskStatus.UNKNOWN)
    try:
        answer = TopviewClient.from_settings().query(kind, topview_task_id)
    except TopviewNotFound as exc:
        return Verdict(Verification.CONTRADICTED, TaskStatus.UNKNOWN, answer={"error": str(exc)})
    # Stored as jsonb: cleaned like any JSON from outside (NUL, lone surrogates, Infinity).
    answer = untrusted_json.decode(json.dumps(answer), max_depth=64).value
    actual = normalise_status(answer.get("status"))
    if actual not in TERMINAL:
        # Topview may not have finished by its own account yet when its notice arrives: ask
        # again later (the notice is retried); a forged notice ends dead, and the admins told.
        raise TopviewNotFinished(f"Topview says task {topview_task_id} is {answer.get('status')!r}")
    verification = Verification.CONFIRMED if actual == claimed else Verification.CONTRADICTED
    return Verdict(verification, actual, answer=answer, result=answer)


class TopviewNotFinished(Exception):
    """A notice says a task is finished; Topview does not say so (yet)."""
