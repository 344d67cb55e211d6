"""The rules of who may post, called directly."""

import time
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from notices.access import client_address, signature_refusal, token_refusal, topview_uid_refusal

TOKENS = ["old-token-0123456789", "new-token-9876543210"]
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_any_configured_token_passes_and_nothing_else():
    assert token_refusal("old-token-0123456789", TOKENS) == ""
    assert token_refusal("new-token-9876543210", TOKENS) == ""
    assert token_refusal("new-token-987654321", TOKENS) == "wrong token"
    assert token_refusal("", TOKENS) == "no token"
    assert token_refusal("", []) == ""  # development: no tokens configured


@given(st.text())
def test_no_other_string_is_a_token(given_token):
    if given_token not in TOKENS:
        assert token_refusal(given_token, TOKENS)


def test_topview_uid_must_match_when_known():
    assert topview_uid_refusal(sent="uid-1", expected="uid-1", is_topview=True) == ""
    assert topview_uid_refusal(sent="uid-2", expected="uid-1", is_topview=True) == "wrong Topview-Uid"
    assert topview_uid_refusal(sent=None, expected="uid-1", is_topview=True) == "Topview-Uid header missing"
    assert topview_uid_refusal(sent=None, expected="uid-1", is_topview=False) == ""  # simple format
    assert topview_uid_refusal(sent="anything", expected="", is_topview=True) == ""


def signed(body: bytes, *, secret=SECRET, at=None, msg_id="msg_1"):
    at = at or datetime.now(tz=timezone.utc)
    signature = Webhook(secret).sign(msg_id=msg_id, timestamp=at, data=body)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signature}


def test_a_signed_body_passes_with_any_current_secret():
    other = "whsec_" + "C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
    body = b'{"taskId": "t"}'
    assert signature_refusal(body, signed(body), [other, SECRET]) == ""
    assert signature_refusal(body, {}, []) == ""  # signatures off


def test_bad_signatures_and_old_timestamps_are_refused():
    body = b'{"taskId": "t"}'
    assert "bad signature" in signature_refusal(body + b" ", signed(body), [SECRET])
    assert "bad signature" in signature_refusal(body, {}, [SECRET])
    stale = datetime.fromtimestamp(time.time() - 6 * 60, tz=timezone.utc)
    assert "too old" in signature_refusal(body, signed(body, at=stale), [SECRET]).lower()


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "client"),
    [
        ("203.0.113.9", "1.2.3.4", [], "203.0.113.9"),  # untrusted peer: the header is ignored
        ("10.0.0.2", "198.51.100.7", ["10.0.0.0/8"], "198.51.100.7"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.3", ["10.0.0.0/8"], "198.51.100.7"),
        ("10.0.0.2", "garbage", ["10.0.0.0/8"], "10.0.0.2"),
        ("10.0.0.2", "", ["10.0.0.0/8"], "10.0.0.2"),
        ("not an ip", "", [], None),
    ],
)
def test_the_client_address_believes_only_trusted_proxies(peer, forwarded, trusted, client):
    assert client_address(remote_addr=peer, forwarded_for=forwarded, trusted=trusted) == client
