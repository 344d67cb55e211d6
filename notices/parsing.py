"""Reading a delivered body: which format it is, its fields, and what was wrong with it.

`parse_notice` is total: any bytes give a `ParsedNotice`, never an exception, so the caller can
always store what arrived. Values are made safe for PostgreSQL here (no NUL characters, no lone
surrogates, no infinite numbers in JSON); the raw bytes stay exactly as received elsewhere.
"""

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from django.db import models


class NoticeFormat(models.TextChoices):
    TOPVIEW = "topview", "Topview callback"
    SIMPLE = "simple", "Simple (original design)"
    INVALID = "invalid", "Invalid"


# Longest value kept in an indexed column; longer is not an id Topview would send.
FIELD_LIMITS = {"uuid": 128, "taskId": 128, "bizType": 64, "status": 32}

# Escapes that decode to something PostgreSQL refuses: \u0000 and UTF-16 surrogates.
_UNSAFE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
_UNSAFE_CHARS = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class ParsedNotice:
    format: NoticeFormat
    payload: dict | None = None
    error: str = ""
    notice_uuid: str = ""
    task_id: str = ""
    biz_type: str = ""
    status: str = ""
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def invalid(cls, error: str, payload: dict | None = None) -> "ParsedNotice":
        return cls(format=NoticeFormat.INVALID, payload=payload, error=error)


def parse_notice(raw: bytes, *, topview_uid: str = "", max_depth: int = 64) -> ParsedNotice:
    """Judge a delivered body; `topview_uid` is the Topview-Uid header, if one came."""
    warnings: list[str] = []
    data, error = _load_json(raw, warnings)
    if error:
        return ParsedNotice.invalid(error)
    if not isinstance(data, dict):
        return ParsedNotice.invalid(f"JSON body must be an object, not {_json_type(data)}")
    if _deeper_than(data, max_depth):
        return ParsedNotice.invalid(f"JSON nested deeper than {max_depth} levels")
    if _UNSAFE_ESCAPE.search(raw):
        data = _make_safe(data)
        warnings.append("NUL or lone surrogate characters replaced by U+FFFD in the stored JSON")

    is_topview = "uuid" in data or bool(topview_uid)
    fields = {}
    for name, limit in FIELD_LIMITS.items():
        value = _field(data, name, warnings)
        if len(value) > limit:
            return ParsedNotice.invalid(f"{name} is longer than {limit} characters", payload=data)
        fields[name] = value

    required = ("uuid", "taskId", "status") if is_topview else ("taskId", "status")
    for name in required:
        if not fields[name]:
            warnings.append(f"{name} missing: default {'unknown' if name != 'uuid' else 'none'}")
    return ParsedNotice(
        format=NoticeFormat.TOPVIEW if is_topview else NoticeFormat.SIMPLE,
        payload=data,
        notice_uuid=fields["uuid"],
        task_id=fields["taskId"],
        biz_type=fields["bizType"],
        status=fields["status"],
        warnings=warnings,
    )


def _load_json(raw: bytes, warnings: list[str]) -> tuple[Any, str]:
    """The decoded JSON and "", or None and why there is none."""
    if not raw.strip():
        return None, "empty body: expected a JSON object"
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, f"body is not UTF-8 (byte {exc.start})"

    def finite_float(literal: str) -> float | str:
        number = float(literal)
        if math.isfinite(number):
            return number
        warnings.append(f"number {literal[:40]} is out of range: kept as a string")
        return literal

    try:
        return json.loads(text, parse_float=finite_float, parse_constant=_refuse_constant), ""
    except RecursionError:
        return None, "JSON nested too deeply"
    except ValueError as exc:  # JSONDecodeError, and integers over Python's digit limit
        return None, f"invalid JSON: {exc}"


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _deeper_than(data: Any, limit: int) -> bool:
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _make_safe(value: Any) -> Any:
    if isinstance(value, str):
        return _UNSAFE_CHARS.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_make_safe(key): _make_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_make_safe(item) for item in value]
    return value


def _field(data: dict, name: str, warnings: list[str]) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    warnings.append(f"{name} is not a string: ignored")
    return ""

