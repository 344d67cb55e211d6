"""The channel-layer groups a broadcast goes to: who may listen is decided when a socket joins."""

# Every staff socket joins this one group.
STAFF_NOTICES = "live.notices"


def owner_tasks(user_id: int) -> str:
    """One group per user: a task's change goes only to its owner's sockets."""
    return f"live.tasks.{user_id}"
