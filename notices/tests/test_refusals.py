"""Each refusal at the endpoint, with the audit trail's record of it."""

import io
import json
import logging
from datetime import datetime, timezone

import pytest
from django.core.cache import cache
from standardwebhooks.webhooks import Webhook

from notices.models import Notice, Refusal, RefusalCount
from topview_project.logfilters import RedactNoticeTokens

pytestmark = pytest.mark.django_db
TOKEN = "a-long-secret-token-1234"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BODY = json.dumps({"uuid": "n-1", "taskId": "t-1", "status": "success"}).encode()


@pytest.fixture(autouse=True)
def tokens(settings):
    settings.NOTICE_TOKENS = ["an-older-token-56789", TOKEN]
    cache.clear()


def post(client, path="/notice/topview", body=BODY, **headers):
    return client.post(path, body, content_type="application/json", headers=headers)


def test_the_token_in_the_path_or_the_query_lets_a_notice_in(client):
    assert post(client, f"/notice/topview/{TOKEN}").status_code == 200
    assert post(client, "/notice/topview/an-older-token-56789").status_code == 200
    assert post(client, f"/notice/topview?token={TOKEN}").status_code == 200
    assert Notice.objects.count() == 3 and not Refusal.objects.exists()


def test_no_or_a_wrong_token_is_401_and_recorded_without_the_token(client):
    bare = post(client, "/notice/topview")
    wrong = post(client, "/notice/topview/a-long-secret-token-1235")
    assert (bare.status_code, wrong.status_code) == (401, 401)
    assert bare.json() == {"success": False, "error": "no token"}
    assert "WWW-Authenticate" in bare
    assert not Notice.objects.exists()
    assert list(Refusal.objects.order_by("pk").values_list("reason", "detail")) == [
        ("token", "no token"), ("token", "wrong token")]
    assert "a-long-secret-token-1235" not in json.dumps(list(Refusal.objects.values("headers", "detail")))
    assert RefusalCount.objects.get().count == 2


def test_a_notice_for_another_topview_account_is_403(client, settings):
    settings.TOPVIEW_UID = "our-uid"
    assert post(client, f"/notice/topview/{TOKEN}", **{"Topview-Uid": "our-uid"}).status_code == 200
    response = post(client, f"/notice/topview/{TOKEN}", **{"Topview-Uid": "their-uid"})
    assert response.status_code == 403
    refusal = Refusal.objects.get()
    assert (refusal.reason, refusal.detail) == ("topview_uid", "wrong Topview-Uid")
    assert bytes(refusal.body_head) == BODY and refusal.body_size == len(BODY)
    assert Notice.objects.count() == 1


def signature_headers(body, at=None):
    at = at or datetime.now(tz=timezone.utc)
    return {"webhook-id": "msg_1", "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(SECRET).sign(msg_id="msg_1", timestamp=at, data=body)}


def test_signatures_when_configured(client, settings):
    settings.NOTICE_SIGNING_SECRETS = [SECRET]
    path = f"/notice/topview/{TOKEN}"
    assert post(client, path, **signature_headers(BODY)).status_code == 200
    assert post(client, path, body=BODY + b" ", **signature_headers(BODY)).status_code == 401
    old = datetime.fromtimestamp(datetime.now().timestamp() - 600, tz=timezone.utc)
    assert post(client, path, **signature_headers(BODY, at=old)).status_code == 401
    assert post(client, path).status_code == 401
    reasons = list(Refusal.objects.values_list("reason", flat=True))
    assert reasons == ["signature"] * 3
    stored = Refusal.objects.order_by("pk").first().headers
    assert stored["Webhook-Signature"] == "[redacted]"


def test_over_the_rate_limit_is_429_with_retry_after(client, settings):
    settings.NOTICE_RATE_PER_ADDRESS = 3
    path = f"/notice/topview/{TOKEN}"
    answers = [post(client, path, body=json.dumps({"uuid": f"n{i}", "taskId": "t"}).encode())
               for i in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert 1 <= int(answers[-1]["Retry-After"]) <= 60
    assert Refusal.objects.filter(reason="rate").count() == 2


def test_a_flood_of_refusals_is_counted_but_only_sampled(client, settings):
    settings.NOTICE_REFUSAL_SAMPLE = 5
    for _ in range(40):
        post(client, "/notice/topview/wrong-wrong-wrong-wrong")
    assert Refusal.objects.count() == 5
    assert RefusalCount.objects.get(reason="token").count == 40


def test_the_token_never_reaches_the_log(client, settings):
    """What the configured console handler writes, Django's own request log lines included."""
    console = next(h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)
                   and any(isinstance(f, RedactNoticeTokens) for f in h.filters))
    written = io.StringIO()
    stream = console.setStream(written)
    try:
        post(client, f"/notice/topview/{TOKEN}", body=b"not json")
        post(client, f"/notice/topview?token={TOKEN}", body=b"not json")
    finally:
        console.setStream(stream)
    assert "Bad Request: /notice/topview/[redacted]" in written.getvalue()
    assert TOKEN not in written.getvalue()


def test_the_test_endpoint_is_guarded_and_can_be_off(client, settings):
    assert client.post("/notice/topview/test").status_code == 401
    assert client.post(f"/notice/topview/{TOKEN}/test").status_code == 200
    settings.NOTICE_TEST_ENDPOINT = False
    assert client.post(f"/notice/topview/{TOKEN}/test").status_code == 404


def test_a_forwarded_client_is_limited_only_behind_a_trusted_proxy(client, settings):
    settings.NOTICE_RATE_PER_ADDRESS = 1
    settings.NOTICE_TRUSTED_PROXIES = ["127.0.0.1"]
    path = f"/notice/topview/{TOKEN}"
    first = client.post(path, BODY, content_type="application/json", HTTP_X_FORWARDED_FOR="198.51.100.1")
    other = client.post(path, BODY, content_type="application/json", HTTP_X_FORWARDED_FOR="198.51.100.2")
    again = client.post(path, BODY, content_type="application/json", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert (first.status_code, other.status_code, again.status_code) == (200, 200, 429)
    assert Refusal.objects.get().remote_addr == "198.51.100.1"


def test_strangers_cannot_spend_topviews_rate_limit(client, settings):
    settings.NOTICE_RATE_PER_ADDRESS = 1
    for _ in range(3):
        assert post(client, "/notice/topview/not-the-token-at-all").status_code == 401
    assert post(client, f"/notice/topview/{TOKEN}").status_code == 200


def test_a_flood_of_refusals_logs_one_line_a_minute(client, caplog):
    with caplog.at_level(logging.WARNING, logger="notices"):
        for _ in range(30):
            post(client, "/notice/topview/wrong-wrong-wrong-wrong")
    assert caplog.text.count("Refusing notice requests") == 1


def test_a_token_a_proxy_passes_on_in_a_header_is_not_stored(client):
    post(client, f"/notice/topview/{TOKEN}", **{"X-Original-URI": f"/notice/topview/{TOKEN}?a=1",
                                                  "Referer": f"https://x/notice/topview?token={TOKEN}"})
    headers = Notice.objects.get().headers
    assert TOKEN not in json.dumps(headers)
    assert headers["X-Original-Uri"] == "/notice/topview/[redacted]?a=1"
