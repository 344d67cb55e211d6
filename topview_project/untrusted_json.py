"""Decoding JSON from outside into values PostgreSQL's jsonb will take, or a reason it can't.

Shared by the notice parser (the body) and the result reader (a `result` sent as a string
holding JSON), so both refuse and repair the same things: bytes that are not UTF-8, NaN and
Infinity, numbers too large for a float, nesting deeper than a limit, NUL characters and lone
UTF-16 surrogates (replaced by U+FFFD, with a warning).
"""

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

_UNSAFE_CHARS = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class Decoded:
    value: Any = None
    error: str = ""
    warnings: list[str] = field(default_factory=list)


def decode(raw: bytes | str, *, max_depth: int) -> Decoded:
    warnings: list[str] = []
    if not raw.strip():
        return Decoded(error="empty body: expected a JSON object")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return Decoded(error=f"body is not UTF-8 (byte {exc.start})")

    def finite_float(literal: str) -> float | str:
        number = float(literal)
        if math.isfinite(number):
            return number
        warnings.append(f"number {literal[:40]} is out of range: kept as a string")
        return literal

    try:
        value = json.loads(raw, parse_float=finite_float, parse_constant=_refuse_constant)
    except RecursionError:
        return Decoded(error="JSON nested too deeply")
    except ValueError as exc:  # JSONDecodeError, and integers over Python's digit limit
        return Decoded(error=f"invalid JSON: {exc}")
    if _deeper_than(value, max_depth):
        return Decoded(error=f"JSON nested deeper than {max_depth} levels")
    # Only an escape can bring these in (JSON refuses raw control characters): look first.
    if "\\u" in raw and _has_unsafe_chars(value):
        value = _make_safe(value)
        warnings.append("NUL or lone surrogate characters replaced by U+FFFD in the stored JSON")
    return Decoded(value=value, warnings=warnings)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, (dict, list)):
            continue
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children)
    return False


def _has_unsafe_chars(value: Any) -> bool:
    if isinstance(value, str):
        return bool(_UNSAFE_CHARS.search(value))
    if isinstance(value, dict):
        return any(_has_unsafe_chars(k) or _has_unsafe_chars(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_unsafe_chars(item) for item in value)
    return False


def _make_safe(value: Any) -> Any:
    if isinstance(value, str):
        return _UNSAFE_CHARS.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_make_safe(key): _make_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_make_safe(item) for item in value]
    return value
