"""`manage.py check_notice_url` against the fake Topview."""

import pytest
from django.core.management import CommandError, call_command

from tasks.fake_topview import FakeTopview


@pytest.fixture
def fake(settings):
    with FakeTopview() as fake:
        settings.TOPVIEW_API_BASE_URL = fake.base_url
        settings.TOPVIEW_API_KEY, settings.TOPVIEW_UID = fake.api_key, fake.uid
        settings.PUBLIC_BASE_URL = "https://us.example"
        settings.NOTICE_TOKENS = ["token-0123456789abcdef"]
        yield fake


def test_checks_the_configured_notice_url(fake, capsys):
    call_command("check_notice_url")
    assert fake.checked_urls == ["https://us.example/notice/topview/token-0123456789abcdef"]
    assert "Topview checked https://us.example/notice/topview/" in capsys.readouterr().out


def test_checks_the_url_given(fake, capsys):
    call_command("check_notice_url", "--url", "https://elsewhere/notice/topview")
    assert fake.checked_urls == ["https://elsewhere/notice/topview"]


def test_a_refusal_fails_with_topviews_message(fake):
    fake.fail_next("4000", message="noticeUrl is not reachable")
    with pytest.raises(CommandError, match="noticeUrl is not reachable"):
        call_command("check_notice_url")


@pytest.mark.parametrize("missing", ["PUBLIC_BASE_URL", "TOPVIEW_API_KEY"])
def test_missing_settings_fail_clearly(fake, settings, missing):
    setattr(settings, missing, "")
    with pytest.raises(CommandError, match=missing):
        call_command("check_notice_url")
    assert fake.checked_urls == []


def test_an_unreachable_topview_fails(fake, settings):
    fake.refuse_connections()
    with pytest.raises(CommandError, match="Topview did not accept the check"):
        call_command("check_notice_url")
