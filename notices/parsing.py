"""Reading a delivered body: which format it is, its fields, and what was wrong with it.

`parse_notice` is total: any bytes give a `ParsedNotice`, never an exception, so the caller can
always store what arrived. Values are made safe for PostgreSQL (`untrusted_json`); the raw bytes
stay exactly as received elsewhere.
"""

from dataclasses import dataclass, field
from typing import Any

from django.db import models

from topview_project import untrusted_json


class NoticeFormat(models.TextChoices):
    TOPVIEW = "topview", "Topview callback"
    SIMPLE = "simple", "Simple (original design)"
    INVALID = "invalid", "Invalid"


# Longest value kept in an indexed column; longer is not an id Topview would send.
FIELD_LIMITS = {"uuid": 128, "taskId": 128, "bizType": 64, "status": 32}


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
    decoded = untrusted_json.decode(raw, max_depth=max_depth)
    if decoded.error:
        return ParsedNotice.invalid(decoded.error)
    data, warnings = decoded.value, decoded.warnings
    if not isinstance(data, dict):
        return ParsedNotice.invalid(f"JSON body must be an object, not {_json_type(data)}")

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


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


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

