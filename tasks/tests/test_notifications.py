import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

from tasks.models import Notification, Task
from tasks.services import notification_send

pytestmark = pytest.mark.django_db


@pytest.fixture
def notification():
    owner = get_user_model().objects.create_user("ann", email="ann@example.com")
    task = Task.objects.create(topview_task_id="t-1", owner=owner, status="success",
                               video_url="https://cdn/v.mp4")
    return Notification.objects.create(task=task, user=owner, status="success")


def test_sent_once_however_often_asked(notification):
    notification_send(notification_id=notification.pk)
    notification_send(notification_id=notification.pk)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "Topview task t-1 is ready"
    assert "https://cdn/v.mp4" in mail.outbox[0].body
    notification.refresh_from_db()
    assert notification.sent_at and notification.send_attempts == 1


def test_a_worker_that_died_while_sending_never_sends_twice(notification):
    Notification.objects.filter(pk=notification.pk).update(send_started_at=timezone.now(), send_attempts=1)
    notification_send(notification_id=notification.pk)
    assert mail.outbox == []


def test_a_mail_server_error_clears_the_mark_so_a_retry_sends(notification, monkeypatch):
    def refused(**kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr("tasks.services.send_mail", refused)
    with pytest.raises(ConnectionRefusedError):
        notification_send(notification_id=notification.pk)
    notification.refresh_from_db()
    assert notification.send_started_at is None and "smtp down" in notification.last_error
    monkeypatch.undo()
    notification_send(notification_id=notification.pk)
    assert len(mail.outbox) == 1


def test_an_owner_without_email_is_skipped(notification):
    get_user_model().objects.filter(pk=notification.user_id).update(email="")
    notification_send(notification_id=notification.pk)
    assert mail.outbox == [] and Notification.objects.get().sent_at is None
