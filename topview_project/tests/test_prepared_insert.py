"""prepared_insert.insert: the same row as Django's save, on real PostgreSQL, and Django's errors."""

import ipaddress
import os
from datetime import datetime, timezone

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.db.models.signals import pre_save
from django.test.utils import CaptureQueriesContext

from notices.models import Notice, NoticeState
from tasks.models import Task
from topview_project.prepared_insert import insert

from conftest import database_url

from .servers import manage

pytestmark = pytest.mark.django_db(transaction=True)

COMPARED = [f.attname for f in Notice._meta.concrete_fields if f.attname != "id"]


def notice(**values) -> Notice:
    defaults = dict(
        remote_addr="2001:db8::7", headers={"Topview-Uid": "u", "ü": "\u2028"},
        raw_body=b"\x00\xff{}", body_size=4, payload={"taskId": "t-1", "n": [1, None, 2.5]},
        format="topview", notice_uuid="uuid-1", topview_task_id="t-1", status="success",
        task_status="success", warnings=["a warning"], next_attempt_at=None,
        state=NoticeState.DONE, received_at=datetime(2026, 12, 4, 20, 0, 0, 123456, timezone.utc),
    )
    return Notice(**{**defaults, **values})


def test_the_row_is_the_one_django_would_have_written(monkeypatch):
    ours, django = notice(), notice(notice_uuid="uuid-2")
    with monkeypatch.context() as patched:  # Proof that Django's save is not what wrote it.
        patched.setattr(Model, "save_base", lambda *args, **kwargs: pytest.fail("saved by Django"))
        insert(ours)
    django.save(force_insert=True)
    assert ours.pk and ours.pk != django.pk and not ours._state.adding
    stored = {n.notice_uuid: n for n in Notice.objects.all()}
    for name in COMPARED:
        if name != "notice_uuid":
            assert getattr(stored["uuid-1"], name) == getattr(stored["uuid-2"], name), name
    assert bytes(stored["uuid-1"].raw_body) == b"\x00\xff{}"
    assert ipaddress.ip_address(stored["uuid-1"].remote_addr) == ipaddress.ip_address("2001:db8::7")


def prepared_inserts() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                       ['INSERT INTO "notices_notice"%'])
        return cursor.fetchone()[0]


def test_once_prepared_it_still_writes_each_rows_own_values():
    connection.close()  # A connection of its own: the statement is prepared at its first run.
    for n in range(12):
        insert(notice(notice_uuid=f"u-{n}", body_size=n * 10**10, remote_addr=None, payload=None))
        assert prepared_inserts() == 1
    rows = Notice.objects.order_by("id")
    assert [(r.notice_uuid, r.body_size) for r in rows] == [(f"u-{n}", n * 10**10) for n in range(12)]
    assert all(r.remote_addr is None and r.payload is None for r in rows)
    # Django's own queries are left as Django sends them: psycopg neither prepares nor keeps them.
    assert connection.connection.prepare_threshold is None


def test_with_prepared_statements_off_nothing_is_prepared(settings):
    settings.DB_PREPARED_STATEMENTS = False
    connection.close()
    for n in range(3):
        insert(notice(notice_uuid=f"u-{n}"))
    assert prepared_inserts() == 0 and Notice.objects.count() == 3


def test_a_failure_inside_a_transaction_marks_it_for_rollback_as_save_does():
    insert(notice())
    with transaction.atomic():
        with pytest.raises(IntegrityError):
            insert(notice())  # No savepoint of its own: the transaction is broken.
        assert connection.needs_rollback
    assert Notice.objects.count() == 1


def test_a_connection_the_database_dropped_is_replaced_when_health_checks_are_on():
    insert(notice(notice_uuid="before"))
    connection.health_check_enabled, connection.health_check_done = True, False
    with psycopg.connect(database_url(), autocommit=True) as admin:  # As a database restart would.
        admin.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
    insert(notice(notice_uuid="after"))
    assert Notice.objects.filter(notice_uuid__in=["before", "after"]).count() == 2


def test_a_constraint_raises_djangos_integrity_error_and_leaves_the_connection_usable():
    insert(notice())
    with pytest.raises(IntegrityError):
        insert(notice())  # The same uuid, first delivery again.
    with transaction.atomic():
        with pytest.raises(IntegrityError), transaction.atomic():
            insert(notice())
        insert(notice(notice_uuid="uuid-3"))
    assert Notice.objects.count() == 2 and connection.is_usable()


def test_a_model_with_save_receivers_is_saved_by_django_and_they_are_called():
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.topview_task_id)

    pre_save.connect(receiver, sender=Task)
    try:
        task = Task(topview_task_id="t-signal")
        insert(task)
    finally:
        pre_save.disconnect(receiver, sender=Task)
    assert seen == ["t-signal"] and Task.objects.get().pk == task.pk
    assert task.created_at is not None  # auto_now_add, as save sets it.


def test_auto_now_fields_are_set_as_save_sets_them():
    task = Task(topview_task_id="t-auto")
    insert(task)
    stored = Task.objects.get()
    assert stored.created_at == task.created_at and stored.updated_at == task.updated_at
    assert task.created_at is not None


def test_db_prepared_statements_0_turns_preparing_off_for_a_pooler():
    code = "from django.conf import settings; print(settings.DB_PREPARED_STATEMENTS)"
    for value, setting in (("", "True"), ("0", "False")):
        done = manage("shell", "-c", code, env={**os.environ, "DB_PREPARED_STATEMENTS": value})
        assert done.stdout.splitlines()[-1] == setting, done.stderr


def test_what_watches_queries_sees_the_insert():
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        insert(notice())
    with CaptureQueriesContext(connection) as captured:
        insert(notice(notice_uuid="uuid-2"))
    assert [sql.split(" (")[0] for sql in seen] == ['INSERT INTO "notices_notice"']
    assert [q["sql"].split(" (")[0] for q in captured] == ['INSERT INTO "notices_notice"']
