"""Fixed one-minute windows of request counts in the cache: per client address, and in all.

With CACHE_URL set the counts live in Redis and hold across every web process; without it,
each process counts for itself (development). A cache outage limits nothing: refusing every
notice because Redis is down would lose more than a flood could.
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)
WINDOW_SECONDS = 60


def seconds_until_allowed(*, client: str | None) -> int:
    """0 when the request may pass; else the seconds until its window ends (for Retry-After)."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    limits = [("all", settings.NOTICE_RATE_OVERALL)]
    if client:
        limits.insert(0, (client, settings.NOTICE_RATE_PER_ADDRESS))
    for scope, limit in limits:
        if limit <= 0:
            continue
        try:
            count = _count(f"notice-rate:{scope}:{window}")
        except Exception as exc:
            _warn_once_a_minute(exc, now)
            return 0
        if count > limit:
            return max(1, WINDOW_SECONDS - int(now % WINDOW_SECONDS))
    return 0


def _count(key: str) -> int:
    """The key's count after this request. Incremented first: the key exists for all but the
    window's first request, so most requests skip the add (with Redis, 2 round trips a scope
    instead of 3)."""
    try:
        return cache.incr(key)
    except ValueError:  # The window's first request, or its key was evicted.
        if cache.add(key, 1, timeout=2 * WINDOW_SECONDS):
            return 1
        return cache.incr(key)  # Another process added it in between.


_last_warning = 0.0


def _warn_once_a_minute(exc: Exception, now: float) -> None:
    """One line a minute per process while the cache is down, not one per request."""
    global _last_warning
    if now - _last_warning >= WINDOW_SECONDS:
        _last_warning = now
        logger.warning("Rate limits off while the cache does not answer: %s", exc)
