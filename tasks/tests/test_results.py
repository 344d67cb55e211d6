import json
from decimal import Decimal

import pytest

from tasks.results import ResultFields, extract_result_fields

M2V = {
    "exportVideos": [
        {"videoUrl": "https://cdn/v.mp4", "coverUrl": "https://cdn/c.jpg", "videoDuration": 15230}
    ],
    "previewVideos": [{"videoUrl": "https://cdn/preview.mp4"}],
}


def test_m2v_export_video_is_taken_before_preview():
    assert extract_result_fields(M2V) == ResultFields(
        video_url="https://cdn/v.mp4", cover_url="https://cdn/c.jpg", duration_ms=15230
    )


def test_result_as_a_string_holding_json():
    assert extract_result_fields(json.dumps(M2V)).video_url == "https://cdn/v.mp4"


def test_photo_avatar_shape():
    fields = extract_result_fields(
        {"finishedVideoUrl": "https://cdn/f.mp4", "aiAvatar": {"coverUrl": "https://cdn/a.jpg"}}
    )
    assert (fields.video_url, fields.cover_url) == ("https://cdn/f.mp4", "https://cdn/a.jpg")


def test_common_task_shape_with_credits():
    fields = extract_result_fields(
        {"videos": [{"filePath": "https://cdn/t.mp4", "status": "SUCCESS"}], "costCredit": 2.5}
    )
    assert fields.video_url == "https://cdn/t.mp4"
    assert fields.cost_credits == Decimal("2.50")


def test_video_avatar_and_image_fallbacks():
    assert extract_result_fields({"outputVideoUrl": "https://o.mp4"}).video_url == "https://o.mp4"
    assert extract_result_fields({"resultImageUrl": "https://i.png"}).video_url == "https://i.png"


@pytest.mark.parametrize(
    "result",
    [None, "", "not json", "[1, 2]", 42, [], {"exportVideos": "nope"},
     {"exportVideos": [{"videoUrl": 5, "videoDuration": "long"}]},
     {"costCredit": "lots"}, {"costCredit": True}, {"exportVideos": [{"videoDuration": -1}]},
     {"aiAvatar": ["x"]}, {"costCredit": float("inf")}],
)
def test_wrong_shapes_give_empty_fields_never_an_error(result):
    fields = extract_result_fields(result)
    assert fields.video_url == "" and fields.duration_ms is None and fields.cost_credits is None
