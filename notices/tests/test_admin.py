"""The notice admin: read-only, fast on a big table, and able to replay notices."""

import json
import re

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from notices import pagination
from notices.models import Notice, NoticeState
from notices.pagination import EstimatedCountPaginator
from notices.parsing import NoticeFormat
from notices.services import notice_process, notice_receive

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:notices_notice_changelist")
HEADERS = {"Content-Type": "application/json", "Topview-Uid": "uid-1"}
DAY_ONE = "2000-01-01 00:00:00+00:00"
UNBOUNDED_COUNT = re.compile(r"COUNT\(\*\)(?!.*\bLIMIT\b)", re.IGNORECASE | re.DOTALL)


def receive(body, *, body_size=None, **kwargs) -> Notice:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return notice_receive(
        raw=raw, body_size=len(raw) if body_size is None else body_size,
        headers=HEADERS, remote_addr="127.0.0.1", **kwargs,
    )


def topview(uuid="u-1", task_id="t-1", status="success", biz_type="M2V_EXPORT", **extra) -> dict:
    return {"uuid": uuid, "taskId": task_id, "bizType": biz_type, "status": status, **extra}


def change_url(notice: Notice) -> str:
    return reverse("admin:notices_notice_change", args=[notice.pk])


def staff(django_user_model, *codenames):
    user = django_user_model.objects.create_user("staff", password="x", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="notices", codename__in=codenames)
    )
    return user


@pytest.fixture
def notices():
    return [
        receive(topview()),
        receive(topview(uuid="u-2", task_id="t-2", status="RUNNING", biz_type="VOICE_CLONE")),
        receive(b"not json"),
    ]


def test_changelist_lists_notices(admin_client, notices):
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    assert {n.pk for n in response.context["cl"].result_list} == {n.pk for n in notices}


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"format__exact": NoticeFormat.INVALID}, [2]),
        ({"state__exact": NoticeState.PENDING}, [0, 1]),
        ({"task_status__exact": "running"}, [1]),
        ({"biz_type": "M2V_EXPORT"}, [0]),
        ({"received_at__gte": DAY_ONE, "received_at__lt": "2100-01-01 00:00:00+00:00"}, [0, 1, 2]),
        ({"received_at__gte": DAY_ONE, "received_at__lt": "2000-01-02 00:00:00+00:00"}, []),
        ({"is_duplicate__exact": "0"}, [0, 1, 2]),
        ({"is_test__exact": "1"}, []),
        ({"q": "t-2"}, [1]),
        ({"q": "u-1"}, [0]),
        ({"q": "t-"}, []),  # Exact, so the index serves it: no partial matches.
    ],
)
def test_filters_and_search(admin_client, notices, query, expected):
    response = admin_client.get(CHANGELIST, query)
    assert response.status_code == 200
    assert {n.pk for n in response.context["cl"].result_list} == {notices[i].pk for i in expected}


def test_changelist_reads_no_heavy_column_and_counts_no_whole_table(admin_client, notices):
    with CaptureQueriesContext(connection) as queries:
        assert admin_client.get(CHANGELIST).status_code == 200
    sql = [query["sql"] for query in queries]
    assert not [s for s in sql if UNBOUNDED_COUNT.search(s)]
    listing = [s for s in sql if 'FROM "notices_notice"' in s and "ORDER BY" in s]
    assert listing and not [s for s in listing if "raw_body" in s or '"payload"' in s]


def test_detail_shows_pretty_json_beside_raw_bytes_and_links_the_task(admin_client):
    notice = receive(topview(result={"videoUrl": "https://x/v.mp4"}, note="café"))
    notice = notice_process(notice_id=notice.pk)
    response = admin_client.get(change_url(notice))
    assert response.status_code == 200
    html = response.content.decode()
    raw = bytes(Notice.objects.get(pk=notice.pk).raw_body)
    assert escape(raw.decode()) in html
    assert f"({len(raw)} bytes)" in html
    assert escape(json.dumps(notice.payload, indent=2, ensure_ascii=False)) in html
    assert escape(json.dumps(HEADERS, indent=2, sort_keys=True)) in html
    assert reverse("admin:tasks_task_change", args=[notice.task_id]) in html


def test_detail_of_a_body_that_is_not_utf8(admin_client):
    notice = receive(b'{"taskId": "t-\xff\x00"}')
    assert notice.format == NoticeFormat.INVALID
    html = admin_client.get(change_url(notice)).content.decode()
    assert escape('{"taskId": "t-\\xff\\x00"}') in html
    assert "(no JSON object)" in html


def test_detail_of_json_whose_nul_was_replaced(admin_client):
    notice = receive(b'{"uuid": "u-nul", "taskId": "t-nul", "note": "a\\u0000b"}')
    html = admin_client.get(change_url(notice)).content.decode()
    assert escape('"note": "a\\u0000b"') in html  # The raw bytes, as sent.
    assert escape('"note": "a\ufffdb"') in html  # The payload, as stored.


def test_detail_of_an_oversized_body(admin_client, settings):
    settings.NOTICE_MAX_BODY_BYTES = 16
    notice = receive(b'{"taskId": "t-big", "pad', body_size=5000)
    html = admin_client.get(change_url(notice)).content.decode()
    assert "only the first 24 of 5000 bytes were stored" in html
    assert escape('{"taskId": "t-big", "pad') in html


def test_anonymous_is_sent_to_login_and_staff_without_permission_refused(client, django_user_model):
    notice = receive(topview())
    for url in (CHANGELIST, change_url(notice)):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"/admin/login/?next={url}"
    client.force_login(staff(django_user_model))
    for url in (CHANGELIST, change_url(notice)):
        assert client.get(url).status_code == 403


@pytest.mark.parametrize("as_superuser", [True, False])
def test_nobody_adds_changes_or_deletes(client, admin_user, django_user_model, as_superuser):
    client.force_login(admin_user if as_superuser else staff(django_user_model, "view_notice"))
    notice = receive(topview())
    assert client.get(CHANGELIST).status_code == 200
    assert client.get(change_url(notice)).status_code == 200
    assert client.get(reverse("admin:notices_notice_add")).status_code == 403
    assert client.post(change_url(notice), {"status": "failed"}).status_code == 403
    delete = reverse("admin:notices_notice_delete", args=[notice.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Notice.objects.get(pk=notice.pk).status == "success"
    assert "delete_selected" not in client.get(CHANGELIST).content.decode()


def test_replay_reprocesses_and_reports_skipped(
    admin_client, eager_celery, django_capture_on_commit_callbacks
):
    pending = receive(topview())
    duplicate = receive(topview())
    invalid = receive(b"[]")
    assert duplicate.is_duplicate and invalid.format == NoticeFormat.INVALID
    selected = [pending.pk, duplicate.pk, invalid.pk]
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            CHANGELIST, {"action": "replay", "_selected_action": selected}, follow=True
        )
    assert [str(m) for m in response.context["messages"]] == [
        "Replayed 1 of 3 notices; skipped 2 (duplicates and invalid notices are never replayed)."
    ]
    pending.refresh_from_db()
    assert (pending.state, pending.attempts) == (NoticeState.DONE, 1)
    assert pending.task.topview_task_id == "t-1"
    for skipped in (duplicate, invalid):
        assert Notice.objects.get(pk=skipped.pk).attempts == 0


def test_replay_needs_the_replay_permission(client, django_user_model, eager_celery):
    client.force_login(staff(django_user_model, "view_notice"))
    notice = receive(topview())
    assert "Replay selected notices" not in client.get(CHANGELIST).content.decode()
    client.post(CHANGELIST, {"action": "replay", "_selected_action": [notice.pk]})
    notice.refresh_from_db()
    assert (notice.state, notice.attempts) == (NoticeState.PENDING, 0)


def test_replay_is_offered_with_the_permission_alone(client, django_user_model):
    client.force_login(staff(django_user_model, "view_notice", "replay_notice"))
    receive(topview())
    assert "Replay selected notices" in client.get(CHANGELIST).content.decode()


def test_paginator_takes_the_estimate_for_a_big_unfiltered_table(monkeypatch):
    monkeypatch.setattr(pagination, "estimated_rows", lambda queryset: 2_000_000)
    with CaptureQueriesContext(connection) as queries:
        assert EstimatedCountPaginator(Notice.objects.all(), 100).count == 2_000_000
    assert len(queries) == 0


@pytest.mark.parametrize("estimate", [-1, 0, 9_999, None])
def test_paginator_counts_when_the_estimate_is_small_or_unknown(monkeypatch, notices, estimate):
    monkeypatch.setattr(pagination, "estimated_rows", lambda queryset: estimate)
    with CaptureQueriesContext(connection) as queries:
        assert EstimatedCountPaginator(Notice.objects.all(), 100).count == 3
    assert [q["sql"] for q in queries if "COUNT(*)" in q["sql"]]
    assert not [q for q in queries if UNBOUNDED_COUNT.search(q["sql"])]


def test_paginator_caps_the_count_of_a_filtered_list(monkeypatch, notices):
    monkeypatch.setattr(EstimatedCountPaginator, "cap", 2)
    monkeypatch.setattr(pagination, "estimated_rows", lambda queryset: pytest.fail("estimated"))
    filtered = Notice.objects.filter(is_test=False)
    assert EstimatedCountPaginator(filtered, 100).count == 2


def test_estimate_is_read_from_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("the estimate exists only on PostgreSQL")
    assert isinstance(pagination.estimated_rows(Notice.objects.all()), int)


def test_changelist_shows_the_estimate_only_when_unfiltered(admin_client, notices, monkeypatch):
    monkeypatch.setattr(pagination, "estimated_rows", lambda queryset: 2_000_000)
    assert admin_client.get(CHANGELIST).context["cl"].result_count == 2_000_000
    assert admin_client.get(CHANGELIST, {"is_test__exact": "0"}).context["cl"].result_count == 3
