"""The staff page: who may open it, what it lists, and the index its list walks."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from live.selectors import notice_list_recent
from notices.models import Notice
from notices.parsing import NoticeFormat

pytestmark = pytest.mark.django_db
XSS = '<img src=x onerror="document.title=1">'


def notice(task_id: str) -> Notice:
    return Notice.objects.create(raw_body=b"{}", body_size=2, format=NoticeFormat.SIMPLE,
                                 topview_task_id=task_id, next_attempt_at="2026-01-01T00:00Z")


@pytest.mark.parametrize("staff", [None, False])
def test_only_staff_may_open_the_page(client, staff):
    if staff is not None:
        client.force_login(get_user_model().objects.create_user("user", is_staff=staff))
    answer = client.get("/live/notices/")
    assert answer.status_code == 302 and answer["Location"].startswith("/admin/login/")


def test_the_page_lists_the_newest_notices_as_data_never_as_markup(client, settings):
    settings.LIVE_RECENT_NOTICES = 2
    oldest, middle, newest = notice("t-1"), notice("t-2"), notice(XSS)
    client.force_login(get_user_model().objects.create_user("staff", is_staff=True))
    html = client.get("/live/notices/").content.decode()
    assert "<img" not in html
    tag = '<script id="recent-notices" type="application/json">'
    start = html.index(tag) + len(tag)
    listed = json.loads(html[start:html.index("</script>", start)])
    assert [row["id"] for row in listed] == [newest.pk, middle.pk]
    assert listed[0]["taskId"] == XSS and set(listed[0]) == {
        "id", "taskId", "status", "bizType", "receivedAt", "state"}
    assert oldest.pk not in {row["id"] for row in listed}


def test_the_recent_list_walks_the_received_index():
    with CaptureQueriesContext(connection) as queries:
        assert notice_list_recent(limit=50) == []
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # The plan for a table of any size.
        cursor.execute("EXPLAIN " + queries[0]["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "notice_received_idx" in plan and "Seq Scan" not in plan
    assert "raw_body" not in queries[0]["sql"]
