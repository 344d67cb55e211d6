"""The Task API over PostgreSQL: isolation between users, pagination, filters, bad input,
Topview's errors against the fake Topview."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tasks.models import MediaCopy, Task

from .fake_topview_fixtures import no_backoff, topview  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db
URL = "/api/tasks/"


def api_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def ada():
    return get_user_model().objects.create_user("ada", email="ada@example.com")


@pytest.fixture
def bob():
    return get_user_model().objects.create_user("bob", email="bob@example.com")


def make_task(owner, number, **fields):
    return Task.objects.create(topview_task_id=f"{owner.username}-{number}", owner=owner, **fields)


def ids(answer) -> list[str]:
    return [row["topview_task_id"] for row in answer.json()["results"]]


# -- who sees what -----------------------------------------------------------------------


def test_each_user_lists_only_their_own_tasks(ada, bob):
    for number in range(3):
        make_task(ada, number)
        make_task(bob, number)
    Task.objects.create(topview_task_id="nobodys")
    answer = api_for(ada).get(URL)
    assert answer.status_code == 200
    assert ids(answer) == ["ada-2", "ada-1", "ada-0"]  # newest first
    assert set(ids(api_for(bob).get(URL))) == {"bob-0", "bob-1", "bob-2"}


def test_a_user_reads_their_task_and_gets_404_for_anyone_elses(ada, bob):
    mine = make_task(ada, 1, status="success", video_url="https://cdn/v.mp4")
    theirs = make_task(bob, 1)
    answer = api_for(ada).get(f"{URL}{mine.pk}/")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["id"], body["status"], body["video_url"], body["cover_url"]) == (
        mine.pk, "success", "https://cdn/v.mp4", "")
    assert set(body) == {"id", "topview_task_id", "kind", "biz_type", "status",
                         "status_changed_at", "error_message", "video_url", "cover_url",
                         "media_copies", "duration_ms", "cost_credits", "created_at",
                         "updated_at"}
    assert api_for(ada).get(f"{URL}{theirs.pk}/").status_code == 404
    assert api_for(ada).get(f"{URL}999999/").status_code == 404


def test_a_task_shows_topviews_url_beside_our_copy(ada, settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path), "base_url": "/media/"}}}
    task = make_task(ada, 1, status="success", video_url="https://cdn/v.mp4")
    copy = MediaCopy.objects.create(
        task=task, role="video", source_url="https://cdn/v.mp4", state="done", size=3,
        sha256="ab" * 32, file=ContentFile(b"mp4", name="topview/ada-1/video.mp4"),
        source_expires_at=timezone.now() + timedelta(days=7), archived_at=timezone.now())
    MediaCopy.objects.create(task=task, role="cover", source_url="https://cdn/c.jpg",
                             source_expires_at=copy.source_expires_at,
                             next_attempt_at=timezone.now())
    copies = {c["role"]: c for c in api_for(ada).get(f"{URL}{task.pk}/").json()["media_copies"]}
    assert copies["video"]["source_url"] == "https://cdn/v.mp4"
    assert copies["video"]["url"] == "/media/topview/ada-1/video.mp4"
    assert (copies["video"]["size"], copies["video"]["sha256"]) == (3, "ab" * 32)
    assert (copies["cover"]["state"], copies["cover"]["url"]) == ("pending", "")


@pytest.mark.parametrize("method, path", [("get", URL), ("post", URL), ("get", f"{URL}1/")])
def test_anonymous_callers_are_401(method, path):
    answer = getattr(APIClient(), method)(path, {}, format="json")
    assert answer.status_code == 401 and answer["WWW-Authenticate"] == "Token"


def test_a_wrong_token_is_401(ada):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert client.get(URL).status_code == 401


def test_a_logged_in_session_works_too(ada):
    make_task(ada, 1)
    client = APIClient()
    client.force_login(ada)
    assert ids(client.get(URL)) == ["ada-1"]


# -- pagination --------------------------------------------------------------------------


def test_cursor_pages_cover_every_task_once_newest_first(ada, bob):
    for number in range(25):
        make_task(ada, number)
    make_task(bob, 99)
    client, seen, url = api_for(ada), [], f"{URL}?page_size=10"
    pages = 0
    while url:
        page = client.get(url).json()
        assert len(page["results"]) <= 10
        seen += [row["topview_task_id"] for row in page["results"]]
        url, pages = page["next"], pages + 1
    assert pages == 3
    assert seen == [f"ada-{number}" for number in reversed(range(25))]


def test_a_task_submitted_while_paging_does_not_shift_the_next_page(ada):
    for number in range(4):
        make_task(ada, number)
    client = api_for(ada)
    first = client.get(f"{URL}?page_size=2").json()
    make_task(ada, 4)
    second = client.get(first["next"]).json()
    assert [row["topview_task_id"] for row in second["results"]] == ["ada-1", "ada-0"]


def test_page_size_is_capped_at_100(ada):
    Task.objects.bulk_create(Task(topview_task_id=f"ada-{n}", owner=ada) for n in range(105))
    client = api_for(ada)
    assert len(client.get(f"{URL}?page_size=1").json()["results"]) == 1
    assert len(client.get(f"{URL}?page_size=500").json()["results"]) == 100
    assert len(client.get(URL).json()["results"]) == 20


# -- filters -----------------------------------------------------------------------------


@pytest.fixture
def varied(ada, bob):
    """Ada's tasks with every filterable value different; Bob's match every filter."""
    now = timezone.now()
    specs = [("success", "m2v", "M2V_EXPORT", 3), ("failed", "text2video",
              "COMMON_TASK_TEXT2VIDEO", 2), ("running", "m2v", "M2V_PREVIEW", 1)]
    for number, (status, kind, biz_type, days_ago) in enumerate(specs):
        for owner in (ada, bob):
            task = make_task(owner, number, status=status, kind=kind, biz_type=biz_type)
            Task.objects.filter(pk=task.pk).update(created_at=now - timedelta(days=days_ago))
    return now


@pytest.mark.parametrize("query, expected", [
    ("status=success", ["ada-0"]),
    ("status=failed", ["ada-1"]),
    ("kind=m2v", ["ada-2", "ada-0"]),
    ("biz_type=COMMON_TASK_TEXT2VIDEO", ["ada-1"]),
    ("kind=m2v&status=running", ["ada-2"]),
])
def test_each_filter_narrows_the_users_tasks(ada, varied, query, expected):
    assert ids(api_for(ada).get(f"{URL}?{query}")) == expected


def test_created_after_and_before(ada, varied):
    client = api_for(ada)
    two_and_a_half_days_ago = (varied - timedelta(days=2, hours=12)).isoformat()
    after = client.get(URL, {"created_after": two_and_a_half_days_ago})
    assert ids(after) == ["ada-2", "ada-1"]
    before = client.get(URL, {"created_before": two_and_a_half_days_ago})
    assert ids(before) == ["ada-0"]
    exact = (varied - timedelta(days=2)).isoformat()
    assert ids(client.get(URL, {"created_after": exact, "created_before": exact})) == []


@pytest.mark.parametrize("query, field", [
    ("status=finished", "status"), ("kind=poem", "kind"), ("created_after=yesterday", "created_after"),
])
def test_a_bad_filter_value_is_400_naming_the_filter(ada, query, field):
    answer = api_for(ada).get(f"{URL}?{query}")
    assert answer.status_code == 400 and field in answer.json()


# -- submitting --------------------------------------------------------------------------


def test_submit_creates_the_users_task(ada, topview):
    answer = api_for(ada).post(URL, {"kind": "m2v", "params": {"productLink": "https://s/p"}},
                               format="json")
    assert answer.status_code == 201, answer.content
    body = answer.json()
    task = Task.objects.get()
    assert (body["id"], body["topview_task_id"], body["kind"], body["status"]) == (
        task.pk, task.topview_task_id, "m2v", "queued")
    assert task.owner == ada
    assert topview.tasks[task.topview_task_id].payload["productLink"] == "https://s/p"


@pytest.mark.parametrize("body, field, words", [
    ({"kind": "poem", "params": {}}, "kind", '"poem" is not a valid choice'),
    ({"kind": "m2v", "params": ["a"]}, "params", "Expected a dictionary"),
    ({"kind": "m2v", "params": "text"}, "params", "Expected a dictionary"),
    ({"kind": "m2v"}, "params", "required"),
    ({"params": {}}, "kind", "required"),
])
def test_bad_input_is_400_with_a_clear_message_and_no_task(ada, topview, body, field, words):
    answer = api_for(ada).post(URL, body, format="json")
    assert answer.status_code == 400
    assert words in " ".join(answer.json()[field])
    assert not Task.objects.exists() and topview.requests == []


@pytest.mark.parametrize("raw, content_type", [
    (b"{not json", "application/json"), (b"[1, 2]", "application/json"),
    (b"kind=m2v", "application/x-www-form-urlencoded"),
])
def test_a_body_that_is_not_a_json_object_is_refused(ada, topview, raw, content_type):
    answer = api_for(ada).generic("POST", URL, raw, content_type=content_type)
    assert answer.status_code in {400, 415}
    assert answer.json()
    assert not Task.objects.exists() and topview.requests == []


@pytest.mark.parametrize("fault, status, code", [
    (lambda f: f.fail_next("4100", message="credit 0"), 402, "insufficient_credit"),
    (lambda f: f.fail_next("4000", message="prompt too long"), 400, "invalid_params"),
    (lambda f: f.fail_next("4007", message="one at a time"), 409, "conflict"),
    (lambda f: f.fail_next("6001", message="our key leaked?"), 502, "topview_error"),
    (lambda f: f.reset_next(), 502, "topview_no_answer"),
], ids=["credit", "params", "unfinished", "security", "no-answer"])
def test_topview_errors_are_clear_api_errors(ada, topview, fault, status, code):
    fault(topview)
    answer = api_for(ada).post(URL, {"kind": "m2v", "params": {}}, format="json")
    assert (answer.status_code, answer.json()["code"]) == (status, code)
    assert "Retry-After" not in answer
    if code in {"insufficient_credit", "invalid_params", "conflict"}:
        assert topview.requests[-1]["path"] == "/v1/m2v/task/submit"
        assert "fake error" not in answer.json()["detail"]  # Topview's own message is shown
    assert not Task.objects.filter(owner=ada).exists()


def test_topviews_message_reaches_the_user_but_not_for_account_errors(ada, topview):
    topview.fail_next("4000", message="prompt too long")
    detail = api_for(ada).post(URL, {"kind": "m2v", "params": {}}, format="json").json()["detail"]
    assert detail == "Topview refused the params: prompt too long"
    topview.fail_next("6001", message="secret internals")
    detail = api_for(ada).post(URL, {"kind": "m2v", "params": {}}, format="json").json()["detail"]
    assert "secret internals" not in detail and "6001" in detail


@pytest.mark.parametrize("fault, code", [
    (lambda f: f.fail_next("5003", times=4), "topview_busy"),
    (lambda f: f.refuse_connections(), "topview_unreachable"),
])
def test_busy_or_unreachable_is_503_with_retry_after(ada, topview, no_backoff, fault, code):
    fault(topview)
    answer = api_for(ada).post(URL, {"kind": "m2v", "params": {}}, format="json")
    assert (answer.status_code, answer.json()["code"], answer["Retry-After"]) == (503, code, "30")
    assert not Task.objects.exists()


def test_not_configured_is_503_without_retry_after(ada, topview, settings):
    settings.TOPVIEW_API_KEY = ""
    answer = api_for(ada).post(URL, {"kind": "m2v", "params": {}}, format="json")
    assert (answer.status_code, answer.json()["code"]) == (503, "topview_not_configured")
    assert "Retry-After" not in answer


def test_the_schema_documents_the_task_api(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    post = schema["paths"]["/api/tasks/"]["post"]
    assert {"201", "400", "401", "402", "409", "502", "503"} <= set(post["responses"])
    listing = schema["paths"]["/api/tasks/"]["get"]
    names = {parameter["name"] for parameter in listing["parameters"]}
    assert {"status", "kind", "biz_type", "created_after", "created_before", "cursor",
            "page_size"} <= names
    assert {"tokenAuth", "cookieAuth"} <= set(schema["components"]["securitySchemes"])
    assert "video_url" in schema["components"]["schemas"]["Task"]["properties"]
