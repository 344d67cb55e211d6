"""The task admin: read-only but for the owner, with the task's notices and notifications."""

import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from notices.models import Notice
from notices.services import notice_process, notice_receive
from tasks.models import Notification, Task

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:tasks_task_changelist")
UNBOUNDED_COUNT = re.compile(r"COUNT\(\*\)(?!.*\bLIMIT\b)", re.IGNORECASE | re.DOTALL)


def deliver(status: str, *, uuid: str, task_id: str = "t-1", biz_type="M2V_EXPORT") -> Notice:
    """A notice received and processed by the real services, as a worker would."""
    raw = json.dumps({"uuid": uuid, "taskId": task_id, "bizType": biz_type, "status": status})
    notice = notice_receive(
        raw=raw.encode(), body_size=len(raw), headers={}, remote_addr="127.0.0.1"
    )
    return notice_process(notice_id=notice.pk)


def change_url(task: Task) -> str:
    return reverse("admin:tasks_task_change", args=[task.pk])


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create_user("owner", email="owner@example.com")


@pytest.fixture
def task(owner) -> Task:
    """Task t-1: running, then success; its notices received out of time order."""
    running = deliver("running", uuid="u-1")
    Task.objects.filter(pk=running.task_id).update(owner=owner)
    deliver("success", uuid="u-2")
    queued = deliver("queued", uuid="u-3")
    Notice.objects.filter(pk=queued.pk).update(received_at=running.received_at - timedelta(1))
    return Task.objects.get(pk=running.task_id)


@pytest.mark.parametrize(
    "query, found",
    [
        ({}, True),
        ({"status__exact": "success"}, True),
        ({"status__exact": "failed"}, False),
        ({"biz_type": "M2V_EXPORT"}, True),
        ({"biz_type": "VOICE_CLONE"}, False),
        ({"updated_at__gte": "2000-01-01 00:00:00+00:00"}, True),
        ({"q": "t-1"}, True),
        ({"q": "t-"}, False),
    ],
)
def test_changelist_filters_and_search(admin_client, task, query, found):
    response = admin_client.get(CHANGELIST, query)
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == ([task] if found else [])


def test_changelist_counts_no_whole_table(admin_client, task):
    with CaptureQueriesContext(connection) as queries:
        assert admin_client.get(CHANGELIST).status_code == 200
    assert not [q for q in queries if UNBOUNDED_COUNT.search(q["sql"])]


def test_page_lists_notices_in_time_order_and_notifications(admin_client, task, owner):
    response = admin_client.get(change_url(task))
    assert response.status_code == 200
    notices_inline, notifications_inline, _ = response.context["inline_admin_formsets"]
    listed = [form.original for form in notices_inline]
    assert [n.status for n in listed] == ["queued", "running", "success"]
    html = response.content.decode()
    links = [html.index(reverse("admin:notices_notice_change", args=[n.pk])) for n in listed]
    assert links == sorted(links)
    assert [(n.user, n.status) for n in (f.original for f in notifications_inline)] == [
        (owner, "success")
    ]


def test_only_the_owner_can_be_changed(admin_client, task, django_user_model):
    other = django_user_model.objects.create_user("other")
    data = {
        "owner": other.pk, "status": "failed", "topview_task_id": "hijacked",
        "notices-TOTAL_FORMS": 3, "notices-INITIAL_FORMS": 3,
        "notifications-TOTAL_FORMS": 1, "notifications-INITIAL_FORMS": 1,
        "media_copies-TOTAL_FORMS": 0, "media_copies-INITIAL_FORMS": 0,
    }
    response = admin_client.post(change_url(task), data)
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.owner, task.status, task.topview_task_id) == (other, "success", "t-1")
    assert Notice.objects.filter(task=task).count() == 3
    assert Notification.objects.filter(task=task).count() == 1


def test_no_add_no_delete(admin_client, task):
    assert admin_client.get(reverse("admin:tasks_task_add")).status_code == 403
    delete = reverse("admin:tasks_task_delete", args=[task.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Task.objects.filter(pk=task.pk).exists()


def test_anonymous_is_sent_to_login_and_staff_without_permission_refused(
    client, task, django_user_model
):
    for url in (CHANGELIST, change_url(task)):
        assert client.get(url)["Location"] == f"/admin/login/?next={url}"
    client.force_login(django_user_model.objects.create_user("staff", is_staff=True))
    for url in (CHANGELIST, change_url(task)):
        assert client.get(url).status_code == 403


def test_staff_with_view_permission_only_sees_a_read_only_page(client, task, django_user_model):
    user = django_user_model.objects.create_user("viewer", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_task"]))
    client.force_login(user)
    assert client.get(change_url(task)).status_code == 200
    assert client.post(change_url(task), {"owner": ""}).status_code == 403
    task.refresh_from_db()
    assert task.owner is not None


def test_notification_admin_is_read_only(admin_client, task):
    notification = Notification.objects.get(task=task)
    changelist = reverse("admin:tasks_notification_changelist")
    response = admin_client.get(changelist, {"q": "t-1"})
    assert list(response.context["cl"].result_list) == [notification]
    url = reverse("admin:tasks_notification_change", args=[notification.pk])
    assert admin_client.get(url).status_code == 200
    assert admin_client.post(url, {"status": "failed"}).status_code == 403
    assert admin_client.get(reverse("admin:tasks_notification_add")).status_code == 403
