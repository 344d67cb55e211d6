"""A fake Topview that the settings point at, for the tests of submitting (import the fixtures)."""

import pytest

from tasks.fake_topview import FakeTopview
from tasks.topview_client import TopviewClient

TOKEN = "token-0123456789abcdef"


def point_settings_at(settings, fake: FakeTopview, public_base_url: str) -> None:
    settings.TOPVIEW_API_BASE_URL = fake.base_url
    settings.TOPVIEW_API_KEY, settings.TOPVIEW_UID = fake.api_key, fake.uid
    settings.TOPVIEW_API_TIMEOUT_SECONDS = 1
    settings.PUBLIC_BASE_URL = public_base_url
    settings.NOTICE_TOKENS = [TOKEN]


@pytest.fixture
def topview(settings):
    """The fake, answering calls and calling back nobody unless told (`finish`)."""
    with FakeTopview() as fake:
        point_settings_at(settings, fake, "https://us.example")
        yield fake


@pytest.fixture
def no_backoff(monkeypatch):
    """Clients made from the settings retry without waiting."""
    made = TopviewClient.from_settings.__func__
    monkeypatch.setattr(TopviewClient, "from_settings", classmethod(
        lambda cls, **overrides: made(cls, **{"backoff_seconds": 0, **overrides})))
