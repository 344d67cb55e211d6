"""`manage.py check_notice_url` against the fake Topview."""

import pytest
from django.core.management import CommandError, call_command

from .fake_topview_fixtures import TOKEN, no_backoff, topview  # noqa: F401 (fixtures)


def test_checks_the_configured_notice_url(topview, capsys):
    call_command("check_notice_url")
    assert topview.checked_urls == [f"https://us.example/notice/topview/{TOKEN}"]
    assert f"Topview checked https://us.example/notice/topview/{TOKEN}" in capsys.readouterr().out


def test_checks_the_url_given(topview):
    call_command("check_notice_url", "--url", "https://elsewhere/notice/topview")
    assert topview.checked_urls == ["https://elsewhere/notice/topview"]


def test_a_refusal_fails_with_topviews_message(topview):
    topview.fail_next("4000", message="noticeUrl is not reachable")
    with pytest.raises(CommandError, match="noticeUrl is not reachable"):
        call_command("check_notice_url")


@pytest.mark.parametrize("missing", ["PUBLIC_BASE_URL", "TOPVIEW_API_KEY"])
def test_missing_settings_fail_clearly(topview, settings, missing):
    setattr(settings, missing, "")
    with pytest.raises(CommandError, match=missing):
        call_command("check_notice_url")
    assert topview.checked_urls == []


def test_an_unreachable_topview_fails_after_its_retries(topview, no_backoff):
    topview.refuse_connections()
    with pytest.raises(CommandError, match="Topview did not accept the check"):
        call_command("check_notice_url")
