"""The rate limit's counting, on the development cache and on real Redis."""

import os
import uuid

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache

from notices import ratelimit

WINDOW = 10**8  # The minute these tests run in: time.time() is 60 * WINDOW + 15.5.


@pytest.fixture(params=["locmem", "redis"])
def cache(request, monkeypatch, settings):
    prefix = f"ratelimit-test-{uuid.uuid4().hex}"
    if request.param == "redis":
        # make test sets the broker URL: the machine's Redis, keys of this test's own.
        used = RedisCache(os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"),
                          {"KEY_PREFIX": prefix})
    else:
        used = LocMemCache(prefix, {})
    monkeypatch.setattr(ratelimit, "cache", used)
    settings.NOTICE_RATE_OVERALL = 0
    monkeypatch.setattr(ratelimit.time, "time", lambda: 60 * WINDOW + 15.5)
    yield used
    used.delete_many([f"notice-rate:{client}:{WINDOW}" for client in ("a", "b")])


def test_each_address_gets_its_limit_in_its_window(cache, settings):
    settings.NOTICE_RATE_PER_ADDRESS = 3
    waits = [ratelimit.seconds_until_allowed(client="a") for _ in range(5)]
    assert waits == [0, 0, 0, 45, 45]
    assert ratelimit.seconds_until_allowed(client="b") == 0
    assert cache.get(f"notice-rate:a:{WINDOW}") == 5


def test_a_key_another_process_adds_first_is_counted_on(cache, monkeypatch):
    class AddedMeanwhile:
        """The window's key appears between this request's increment and its add."""

        def __init__(self):
            self.first = True

        def incr(self, key):
            if self.first:
                self.first = False
                cache.add(key, 1, timeout=120)  # The other process's request.
                raise ValueError(key)
            return cache.incr(key)

        add = staticmethod(cache.add)

    monkeypatch.setattr(ratelimit, "cache", AddedMeanwhile())
    assert ratelimit._count(f"notice-rate:a:{WINDOW}") == 2
