"""The main fields of a Topview task's `result`, whichever shape it arrived in (contract §4).

`result` may be an object or a string holding JSON; each task kind names its video differently.
Nothing here trusts the shape: a field of the wrong type is skipped, never an error.
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from topview_project import untrusted_json


@dataclass(frozen=True)
class ResultFields:
    video_url: str = ""
    cover_url: str = ""
    duration_ms: int | None = None
    cost_credits: Decimal | None = None


# A result string nests inside a notice body whose own depth the parser bounded.
_MAX_RESULT_DEPTH = 64


def load_result(result: Any) -> dict | None:
    """The result as a dict: as sent, or decoded (safely) from a string holding JSON; else None."""
    if isinstance(result, str):
        result = untrusted_json.decode(result, max_depth=_MAX_RESULT_DEPTH).value
    return result if isinstance(result, dict) else None


def _first(items: Any) -> dict:
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict):
                return item
    return {}


def _text(*values: Any) -> str:
    for value in values:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _whole(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value) if 0 <= value < 2**31 else None


def _credits(*values: Any) -> Decimal | None:
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            continue
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            continue
        if amount.is_finite() and 0 <= amount < 10**10:
            return amount.quantize(Decimal("0.01"))
    return None


def extract_result_fields(result: Any) -> ResultFields:
    data = load_result(result)
    if data is None:
        return ResultFields()
    # m2v: exportVideos[] (final) before previewVideos[]; common tasks: videos[] with filePath.
    video = _first(data.get("exportVideos")) or _first(data.get("previewVideos"))
    common = _first(data.get("videos"))
    avatar = data.get("aiAvatar") if isinstance(data.get("aiAvatar"), dict) else {}
    return ResultFields(
        video_url=_text(
            video.get("videoUrl"),
            data.get("finishedVideoUrl"),
            common.get("filePath"),
            data.get("outputVideoUrl"),
            data.get("resultImageUrl"),
        ),
        cover_url=_text(video.get("coverUrl"), avatar.get("coverUrl"), data.get("coverUrl")),
        duration_ms=_whole(video.get("videoDuration")),
        cost_credits=_credits(data.get("costCredit"), common.get("costCredit")),
    )
