import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notices.parsing import NoticeFormat, parse_notice

TOPVIEW = {
    "uuid": "9f1c2e", "bizType": "M2V_EXPORT", "taskId": "t-1", "status": "success",
    "errorMsg": "", "result": {"exportVideos": []},
}


def parse(body, **kwargs):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_notice(raw, **kwargs)


def test_topview_callback_by_uuid():
    parsed = parse(TOPVIEW)
    assert parsed.format == NoticeFormat.TOPVIEW
    assert (parsed.notice_uuid, parsed.task_id, parsed.biz_type, parsed.status) == (
        "9f1c2e", "t-1", "M2V_EXPORT", "success")
    assert parsed.payload == TOPVIEW and parsed.warnings == [] and parsed.error == ""


def test_topview_callback_by_header_alone_warns_of_the_missing_uuid():
    parsed = parse({"taskId": "t-1", "status": "fail"}, topview_uid="uid-7")
    assert parsed.format == NoticeFormat.TOPVIEW
    assert parsed.warnings == ["uuid missing: default none"]


def test_simple_format():
    parsed = parse({"taskId": "task_12345", "status": "processing", "message": "m",
                    "timestamp": "2024-01-01T00:00:00Z"})
    assert parsed.format == NoticeFormat.SIMPLE
    assert (parsed.task_id, parsed.status, parsed.warnings) == ("task_12345", "processing", [])


def test_partial_body_takes_defaults_with_warnings():
    parsed = parse({"test": "data"})
    assert parsed.format == NoticeFormat.SIMPLE
    assert (parsed.task_id, parsed.status) == ("", "")
    assert parsed.warnings == ["taskId missing: default unknown", "status missing: default unknown"]


def test_numbers_as_ids_are_read_and_other_types_ignored():
    parsed = parse({"taskId": 123, "status": ["success"]})
    assert parsed.task_id == "123" and parsed.status == ""
    assert "status is not a string: ignored" in parsed.warnings


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"", "empty body"),
        (b"   \n", "empty body"),
        (b"not json", "invalid JSON"),
        (b'{"taskId": "t"', "invalid JSON"),
        (b"[1, 2]", "not an array"),
        (b'"text"', "not a string"),
        (b"42", "not a number"),
        (b"null", "not null"),
        (b"true", "not a boolean"),
        (b'{"a": NaN}', "invalid JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"taskId": "caf\xe9"}', "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"a":' * 100 + b"1" + b"}" * 100, "deeper than 64"),
        (b'{"n": 1' + b"0" * 5000 + b"}", "invalid JSON"),
        (json.dumps({"taskId": "x" * 129}).encode(), "taskId is longer than 128"),
        (json.dumps({"uuid": "u" * 129}).encode(), "uuid is longer than 128"),
    ],
)
def test_bad_bodies_are_invalid_with_a_reason(raw, error):
    parsed = parse(raw)
    assert parsed.format == NoticeFormat.INVALID
    assert error in parsed.error


def test_utf8_bom_is_accepted():
    assert parse(b"\xef\xbb\xbf" + json.dumps(TOPVIEW).encode()).format == NoticeFormat.TOPVIEW


def test_nul_and_lone_surrogates_are_replaced_in_the_stored_json():
    parsed = parse(b'{"taskId": "t\\u0000x", "k\\u0000": "\\ud800", "ok": "\\ud83d\\ude00"}')
    assert parsed.payload == {"taskId": "t\ufffdx", "k\ufffd": "\ufffd", "ok": "\U0001f600"}
    assert parsed.task_id == "t\ufffdx"
    assert any("U+FFFD" in warning for warning in parsed.warnings)


def test_infinite_numbers_are_kept_as_strings():
    parsed = parse(b'{"taskId": "t", "status": "success", "big": 1e999}')
    assert parsed.payload["big"] == "1e999"
    assert any("out of range" in warning for warning in parsed.warnings)


def test_duplicate_keys_keep_the_last_value():
    assert parse(b'{"taskId": "a", "taskId": "b"}').task_id == "b"


def test_very_long_strings_outside_the_indexed_fields_are_kept():
    parsed = parse({"taskId": "t", "status": "success", "message": "m" * 500_000})
    assert parsed.format == NoticeFormat.SIMPLE and len(parsed.payload["message"]) == 500_000


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=8,
)


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_any_bytes_give_a_verdict_never_an_exception(raw):
    parsed = parse_notice(raw)
    assert (parsed.format == NoticeFormat.INVALID) == bool(parsed.error)


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(["uuid", "taskId", "status", "bizType", "x"]), json_values, max_size=5))
def test_any_json_object_is_stored_safely(body):
    parsed = parse_notice(json.dumps(body).encode())
    if parsed.format != NoticeFormat.INVALID:
        stored = json.dumps(parsed.payload, allow_nan=False)
        assert "\\u0000" not in stored
        stored.encode("utf-8")  # no lone surrogates left
