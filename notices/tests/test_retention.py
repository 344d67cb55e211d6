import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from notices.models import Notice, NoticeState, Refusal
from notices.services import notice_process, notice_prune, notice_receive

pytestmark = pytest.mark.django_db


def notice(task, status, *, days_old, uuid):
    raw = json.dumps({"uuid": uuid, "taskId": task, "status": status}).encode()
    stored = notice_receive(raw=raw, body_size=len(raw), headers={}, remote_addr=None)
    notice_process(notice_id=stored.pk)
    Notice.objects.filter(pk=stored.pk).update(received_at=timezone.now() - timedelta(days=days_old))
    return stored.pk


def test_old_notices_go_and_each_tasks_latest_stays():
    old_running = notice("t-1", "running", days_old=100, uuid="a")
    old_final = notice("t-1", "success", days_old=95, uuid="b")
    lonely = notice("t-2", "success", days_old=200, uuid="c")
    recent = notice("t-3", "running", days_old=1, uuid="d")
    taskless = notice("", "", days_old=120, uuid="e")
    open_one = notice("t-4", "success", days_old=120, uuid="f")
    Notice.objects.filter(pk=open_one).update(state=NoticeState.FAILED, next_attempt_at=timezone.now())
    Refusal.objects.create(reason="token", received_at=timezone.now() - timedelta(days=91))

    assert notice_prune(older_than=timedelta(days=90), batch=1) == 2
    assert set(Notice.objects.values_list("pk", flat=True)) == {old_final, lonely, recent, open_one}
    assert not Notice.objects.filter(pk__in=[old_running, taskless]).exists()
    assert not Refusal.objects.exists()


def test_the_command_reads_ages_and_refuses_nonsense():
    notice("t-1", "running", days_old=40, uuid="a")
    notice("t-1", "success", days_old=1, uuid="b")
    out = io.StringIO()
    call_command("prune_notices", "--older-than", "30d", stdout=out)
    assert out.getvalue().strip() == "Deleted 1 notices older than 30d."
    with pytest.raises(CommandError):
        call_command("prune_notices", "--older-than", "a while")
