"""The WebSockets: each joins one group, chosen from the signed-in user, and only listens.

Who may listen is decided once, at connect: a socket of an anonymous user (or a non-staff
user asking for notices) is closed before it is accepted, so the handshake is refused (403).
"""

from collections.abc import Callable
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .groups import STAFF_NOTICES, owner_tasks


class _ListeningConsumer(AsyncJsonWebsocketConsumer):
    # Each subclass says which group a user's socket joins; None: the socket is refused.
    group_for: Callable[[Any], str | None]

    async def connect(self) -> None:
        group = self.group_for(self.scope["user"])
        if group is None:
            await self.close()
            return
        # The base class leaves self.groups when the socket closes.
        self.groups = [group]
        await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        """Clients only listen: whatever they send is ignored."""

    async def live_update(self, event: dict) -> None:
        await self.send_json(event["data"])


class OwnTasksConsumer(_ListeningConsumer):
    """/ws/tasks/: the status changes of the user's own tasks (Task.owner), as they happen."""

    def group_for(self, user) -> str | None:
        return owner_tasks(user.pk) if user.is_authenticated else None


class StaffNoticesConsumer(_ListeningConsumer):
    """/ws/notices/: every notice once processed; staff only, as the page that opens it."""

    def group_for(self, user) -> str | None:
        return STAFF_NOTICES if user.is_active and user.is_staff else None
