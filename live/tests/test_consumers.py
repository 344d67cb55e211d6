"""The WebSockets through the real ASGI application (origin check, session auth, routing)."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client

from notices.services import notice_receive
from tasks.models import Task
from tasks.services import task_apply_status
from tasks.status import TaskStatus
from topview_project.asgi import application

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("memory_layer", "eager_celery"),
]
OWN_ORIGIN = (b"origin", b"http://testserver")


def session_of(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def headers_of(user=None, origin=OWN_ORIGIN) -> list[tuple[bytes, bytes]]:
    """A browser's handshake headers: its page's origin and, when signed in, the session cookie."""
    return [origin] + ([(b"cookie", session_of(user))] if user else [])


def socket(path: str, headers: list[tuple[bytes, bytes]]) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, path, headers=headers)


def user(name: str, **flags):
    return get_user_model().objects.create_user(name, password="pw-not-used", **flags)


async def refused(communicator: WebsocketCommunicator) -> bool:
    connected, _ = await communicator.connect()
    await communicator.disconnect()
    return not connected


@pytest.mark.parametrize("path", ["/ws/tasks/", "/ws/notices/"])
def test_anonymous_sockets_are_refused(path):
    assert async_to_sync(refused)(socket(path, headers_of()))


def test_a_socket_opened_from_another_sites_page_is_refused():
    alice = user("alice", is_staff=True)
    headers = headers_of(alice, origin=(b"origin", b"https://evil.example"))
    assert async_to_sync(refused)(socket("/ws/tasks/", headers))


def test_the_notice_socket_refuses_users_who_are_not_staff():
    assert async_to_sync(refused)(socket("/ws/notices/", headers_of(user("bob"))))
    former = user("former", is_staff=True)
    headers = headers_of(former)
    former.is_active = False  # Deactivated after signing in: the session no longer counts.
    former.save()
    assert async_to_sync(refused)(socket("/ws/notices/", headers))


def apply(task_id: str, status: TaskStatus) -> None:
    with transaction.atomic():
        task_apply_status(topview_task_id=task_id, biz_type="M2V_EXPORT", status=status,
                          error_message="", result=None, notify_owner=False)


def test_a_user_receives_the_status_changes_of_their_own_tasks_only():
    alice, bob = user("alice"), user("bob")
    mine = Task.objects.create(topview_task_id="alice-1", owner=alice)
    Task.objects.create(topview_task_id="bob-1", owner=bob)
    Task.objects.create(topview_task_id="nobodys-1")
    alice_headers, bob_headers = headers_of(alice), headers_of(bob)

    async def scenario():
        alices, bobs = socket("/ws/tasks/", alice_headers), socket("/ws/tasks/", bob_headers)
        assert (await alices.connect())[0] and (await bobs.connect())[0]
        for task_id in ("bob-1", "nobodys-1", "alice-1"):
            await database_sync_to_async(apply)(task_id, TaskStatus.RUNNING)
        # Alice's first message is her own task: Bob's and nobody's came before it, and were not sent.
        seen = await alices.receive_json_from(timeout=2)
        await database_sync_to_async(apply)("alice-1", TaskStatus.SUCCESS)
        seen_next = await alices.receive_json_from(timeout=2)
        assert await alices.receive_nothing(timeout=0.3)
        bob_saw = await bobs.receive_json_from(timeout=2)
        assert await bobs.receive_nothing(timeout=0.3)
        await alices.disconnect()
        await bobs.disconnect()
        return seen, seen_next, bob_saw

    seen, seen_next, bob_saw = async_to_sync(scenario)()
    assert (seen["id"], seen["taskId"], seen["status"]) == (mine.pk, "alice-1", "running")
    assert set(seen) == {"id", "taskId", "status", "bizType", "changedAt"}
    assert (seen_next["taskId"], seen_next["status"]) == ("alice-1", "success")
    assert (bob_saw["taskId"], bob_saw["status"]) == ("bob-1", "running")


def test_staff_receive_each_notice_once_it_is_processed():
    headers = headers_of(user("staff", is_staff=True))
    body = {"uuid": "u-1", "taskId": "<img src=x onerror=alert(1)>", "status": "running",
            "bizType": "M2V_EXPORT"}

    def receive():
        raw = json.dumps(body).encode()
        # In-process Celery: the notice is processed once its INSERT commits.
        return notice_receive(raw=raw, body_size=len(raw), headers={}, remote_addr="127.0.0.1")

    async def scenario():
        communicator = socket("/ws/notices/", headers)
        assert (await communicator.connect())[0]
        notice = await database_sync_to_async(receive)()
        seen = await communicator.receive_json_from(timeout=2)
        await communicator.disconnect()
        return notice, seen

    notice, seen = async_to_sync(scenario)()
    assert seen == {"id": notice.pk, "taskId": body["taskId"], "status": "running",
                    "bizType": "M2V_EXPORT", "receivedAt": notice.received_at.isoformat(),
                    "state": "done"}


def test_whatever_a_client_sends_is_ignored():
    headers = headers_of(user("carol"))

    async def scenario():
        communicator = socket("/ws/tasks/", headers)
        assert (await communicator.connect())[0]
        await communicator.send_to(text_data="not json {")
        quiet = await communicator.receive_nothing(timeout=0.3)
        await communicator.disconnect()
        return quiet

    assert async_to_sync(scenario)()
