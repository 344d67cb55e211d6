"""bulk_update: one UPDATE for many rows, each with its own values, and nothing else written."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tasks.models import Task
from topview_project.bulk import bulk_update

pytestmark = pytest.mark.django_db


def test_each_row_gets_its_own_values_of_the_named_fields_only(django_assert_num_queries):
    tasks = [Task.objects.create(topview_task_id=f"t-{n}", error_message="kept") for n in range(3)]
    later = timezone.now() + timedelta(hours=1)
    for n, task in enumerate(tasks):
        task.status = ["running", "success", "failed"][n]
        task.result = None if n == 0 else {"n": n, "text": "ü \u2028 \"quoted\"", "list": [n]}
        task.duration_ms = None if n == 2 else n * 1000
        task.cost_credits = "1.50" if n == 1 else None
        task.status_changed_at = later
        task.error_message = "not written"  # Not among the fields named.
    with django_assert_num_queries(1):
        bulk_update(tasks, ["status", "result", "duration_ms", "cost_credits", "status_changed_at"])
    rows = {t.topview_task_id: t for t in Task.objects.all()}
    assert [rows[f"t-{n}"].status for n in range(3)] == ["running", "success", "failed"]
    assert rows["t-0"].result is None and rows["t-2"].result["list"] == [2]
    assert rows["t-1"].result["text"] == "ü \u2028 \"quoted\""
    assert [rows[f"t-{n}"].duration_ms for n in range(3)] == [0, 1000, None]
    assert str(rows["t-1"].cost_credits) == "1.50" and rows["t-0"].cost_credits is None
    assert all(t.status_changed_at == later and t.error_message == "kept" for t in rows.values())


def test_one_object_is_saved_and_none_is_nothing(django_assert_num_queries):
    task = Task.objects.create(topview_task_id="t-1")
    task.status = "queued"
    bulk_update([task], ["status"])
    assert Task.objects.get().status == "queued"
    with django_assert_num_queries(0):
        bulk_update([], ["status"])
