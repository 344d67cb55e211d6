"""What a log line is about: the request, the notice and its Topview taskId.

The ids live in context variables, set where they become known (the request id middleware,
storing a notice, processing one); a filter on the handler copies them onto every record, so
a line logged anywhere during that work carries them without being written to say so.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

FIELDS = ("request_id", "notice_id", "task_id")
_values: dict[str, ContextVar] = {name: ContextVar(name, default=None) for name in FIELDS}


def set_request_id(value: str | None) -> None:
    """For the middleware: the id stays until the next request replaces or clears it, so that
    Django's own line about the answer (logged after the middleware returned) carries it too."""
    _values["request_id"].set(value)


@contextmanager
def log_context(**ids) -> Iterator[None]:
    """Lines logged inside carry these ids (None or "" for unknown: left out)."""
    tokens = [(_values[name], _values[name].set(value or None)) for name, value in ids.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class LogContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _values.items():
            setattr(record, name, var.get())
        return True
