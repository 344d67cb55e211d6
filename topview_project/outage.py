"""One process's view of a dependency that may be down (the broker, the channel layer).

A failure is logged once per outage, and its end once; after each failure the callers leave the
dependency alone for a while, so that they answer at once instead of each waiting for a timeout.
"""

import logging
import threading


class Outage:
    def __init__(self, *, logger: logging.Logger, level: int, down: str, up: str) -> None:
        """`down` is logged (with the exception) when an outage begins; `up` % seconds when it ends."""
        self.logger, self.level, self.down, self.up = logger, level, down, up
        self.lock = threading.Lock()
        self.down_since: float | None = None
        self.retry_at = 0.0

    def resting(self, now: float) -> bool:
        """Down, and not yet time to try again."""
        return self.down_since is not None and now < self.retry_at

    def failed(self, now: float, *, retry_after: float) -> None:
        """Call from an except block: the exception goes into the outage's one log line."""
        with self.lock:
            if self.down_since is None:
                self.down_since = now
                self.logger.log(self.level, self.down, exc_info=True)
            self.retry_at = now + retry_after

    def worked(self, now: float) -> None:
        if self.down_since is None:
            return
        with self.lock:
            if self.down_since is not None:
                self.logger.warning(self.up, now - self.down_since)
                self.down_since = None
