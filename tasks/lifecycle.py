"""The task state machine: which status a notice may move a task to, whatever order notices come in.

A task only moves forward: unknown < queued < running < a final status. A final status (success,
failed) is never left, not even for the other final status: the first one that arrives wins.
A notice that would move the task backwards, or sideways out of a final status, is *late*.
A notice whose status we cannot read changes nothing and is not late.
"""

from dataclasses import dataclass

from .status import TERMINAL, TaskStatus

_RANK = {
    TaskStatus.UNKNOWN: 0,
    TaskStatus.QUEUED: 1,
    TaskStatus.RUNNING: 2,
    TaskStatus.SUCCESS: 3,
    TaskStatus.FAILED: 3,
}


@dataclass(frozen=True)
class Transition:
    status: TaskStatus
    changed: bool
    late: bool

    @property
    def finished(self) -> bool:
        """The task has just reached a final status (the moment to tell its owner)."""
        return self.changed and self.status in TERMINAL


def transition(*, current: TaskStatus, incoming: TaskStatus) -> Transition:
    if incoming == TaskStatus.UNKNOWN:
        return Transition(status=current, changed=False, late=False)
    if current in TERMINAL:
        return Transition(status=current, changed=False, late=incoming != current)
    if _RANK[incoming] > _RANK[current]:
        return Transition(status=incoming, changed=True, late=False)
    return Transition(status=current, changed=False, late=_RANK[incoming] < _RANK[current])
