"""Entries: one canonical encoding, strict decoding, body checks, commitments, times, file names."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.entries import (
    Entry,
    EntryType,
    JsonValue,
    commit,
    decode,
    encode,
    format_time,
    new_entry,
    new_salt,
    opens,
    original_name_bytes,
    original_name_fields,
    parse_time,
)
from chain.errors import EntryError, ProofError
from tests.chain.strategies import entries

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
RECORDING = hashlib.sha256(b"recording").hexdigest()


def _label(**body: Any) -> Entry:
    return new_entry(
        EntryType.LABEL,
        time=NOW,
        station="dock-01",
        recording=RECORDING,
        prev=0,
        body={"case_number": "案号-1", "parties": [], "handler": "李四", **body},
    )


def _ingest_body() -> dict[str, JsonValue]:
    return {
        "sha256": RECORDING,
        "size": 1024,
        "object_key": "originals/x",
        "version_id": "v1",
        "original_name": "a.mp4",
        "device": None,
        "officer": None,
        "start_raw": None,
        "sequence": None,
        "retain_until": "2027-02-26T12:00:00Z",
        "received_at": "2026-11-26T11:59:00Z",
    }


# -- round trip and canonical form ------------------------------------------------


@settings(max_examples=100)
@given(entries())
def test_encode_decode_round_trip(entry: Entry) -> None:
    data = encode(entry)
    again = decode(data)
    assert again == entry
    assert encode(again) == data


@settings(max_examples=40)
@given(entries())
def test_other_json_spellings_of_the_same_entry_are_refused(entry: Entry) -> None:
    canonical = encode(entry)
    value = entry.as_json()
    spellings = [
        json.dumps(value, indent=1, ensure_ascii=False).encode(),
        json.dumps(value, ensure_ascii=True, sort_keys=True, separators=(",", ":")).encode(),
        json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode(),  # member order
        canonical + b"\n",
        b"\xef\xbb\xbf" + canonical,
        canonical.replace(b":", b": ", 1),
    ]
    for spelling in spellings:
        if spelling != canonical:
            with pytest.raises(EntryError):
                decode(spelling)


def test_canonical_form_is_rfc8785() -> None:
    entry = _label(note='é\u2028/\x01"\\', n=-5)
    data = encode(entry)
    assert data.startswith(b'{"body":{"case_number":"')
    assert b'"note":"\xc3\xa9\xe2\x80\xa8/\\u0001\\"\\\\"' in data
    assert data.endswith(b'"time":"2026-11-26T12:00:00Z","type":"LABEL","v":1}')


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (b'"v":1}', b'"v":1.0}'),
        (b'"v":1}', b'"v":1e0}'),
        (b'"v":1}', b'"v":true}'),
        (b'"v":1}', b'"v":2}'),
        (b'"v":1}', b'"v":1,"extra":0}'),
        (b'"prev":0', b'"prev":-0'),
        (b'"prev":0', b'"prev":0.0'),
        (b'"prev":0', b'"prev":NaN'),
        (b'"prev":0', b'"prev":"0"'),
        (b'"prev":0', b'"prev":false'),
        (b'"type":"LABEL"', b'"type":"label"'),
        (b'"type":"LABEL"', b'"type":"UNKNOWN"'),
        (b'"station":"dock-01"', b'"station":"dock-01","station":"dock-02"'),
        (b'"station":"dock-01"', b'"station":"dock\\u002d01"'),
        (b'"station":"dock-01"', b'"station":""'),
        (b'"station":"dock-01"', b'"station":"\\ud800"'),
        (b'"time":"2026-11-26T12:00:00Z"', b'"time":"2026-11-26T12:00:00.000Z"'),
        (b'"time":"2026-11-26T12:00:00Z"', b'"time":"2026-11-26T20:00:00+08:00"'),
        (b'"time":"2026-11-26T12:00:00Z"', b'"time":1795780800'),
        (b'"handler":"', b'"handler":"\xff'),
    ],
)
def test_decode_refuses_altered_bytes(before: bytes, after: bytes) -> None:
    data = encode(_label())
    assert before in data
    with pytest.raises(EntryError):
        decode(data.replace(before, after, 1))


@pytest.mark.parametrize("data", [b"", b"[]", b"null", b"{}", b'"x"', b"{", b"\xff"])
def test_decode_refuses_non_entries(data: bytes) -> None:
    with pytest.raises(EntryError):
        decode(data)


def test_decode_refuses_deep_nesting() -> None:
    data = encode(_label(deep=None)).replace(b'"deep":null', b'"deep":' + b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(EntryError):
        decode(data)


def test_non_canonical_message_points_at_the_difference() -> None:
    data = encode(_label()).replace(b'"v":1}', b'"v":1 }')
    with pytest.raises(EntryError, match="first difference at byte"):
        decode(data)


def test_entry_errors_are_proof_errors() -> None:
    assert issubclass(EntryError, ProofError)


# -- values ------------------------------------------------------------------------


@pytest.mark.parametrize("value", [1.5, 0.0, float("nan"), [1, 2.0], {"a": {"b": 1e3}}])
def test_floats_are_refused(value: Any) -> None:
    with pytest.raises(EntryError, match="float"):
        _label(measure=value)


@pytest.mark.parametrize("value", [2**53, -(2**53), 10**30])
def test_integers_beyond_double_precision_are_refused(value: int) -> None:
    with pytest.raises(EntryError, match="outside"):
        _label(count=value)


def test_integers_at_the_limit_are_kept() -> None:
    entry = _label(big=2**53 - 1, small=-(2**53 - 1))
    assert decode(encode(entry)) == entry


@pytest.mark.parametrize("value", [b"bytes", {1: "x"}, object(), "\udc80"])
def test_non_json_values_are_refused(value: Any) -> None:
    with pytest.raises(EntryError):
        _label(odd=value)


def test_body_is_copied_and_read_only() -> None:
    body: dict[str, JsonValue] = {**_ingest_body(), "extra": [1, 2]}
    entry = Entry(EntryType.INGEST, "2026-11-26T12:00:00Z", "dock-01", RECORDING, None, body)
    body["size"] = 1
    assert entry.body["size"] == 1024
    with pytest.raises(TypeError):
        entry.body["size"] = 5  # type: ignore[index]  # proving the mapping is read-only


# -- times ---------------------------------------------------------------------------


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        format_time(datetime(2026, 11, 26, 12, 0))
    with pytest.raises(ValueError, match="naive datetime"):
        new_entry(
            EntryType.KEY,
            time=datetime(2026, 11, 26),
            station="dock-01",
            recording=None,
            prev=None,
            body={"action": "add", "vkey": "k"},
        )


def test_times_are_utc_whole_seconds() -> None:
    beijing = timezone(timedelta(hours=8))
    assert format_time(datetime(2026, 11, 26, 20, 0, 5, 999_999, tzinfo=beijing)) == ("2026-11-26T12:00:05Z")
    assert format_time(datetime(33, 1, 2, tzinfo=UTC)) == "0033-01-02T00:00:00Z"
    assert parse_time("2026-11-26T12:00:05Z") == datetime(2026, 11, 26, 12, 0, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2026-02-30T00:00:00Z",
        "2026-11-26T12:00:00z",
        "2026-11-26 12:00:00Z",
        "2026-11-26T12:00:00+00:00",
        "2026-11-26T12:00:00.5Z",
        "2026-11-26T24:00:00Z",
        "\uff12\uff10\uff12\uff16-11-26T12:00:00Z",  # fullwidth digits
    ],
)
def test_parse_time_refuses_other_forms(text: str) -> None:
    with pytest.raises(EntryError):
        parse_time(text)


@settings(max_examples=40)
@given(st.datetimes(timezones=st.timezones()))
def test_format_then_parse_is_the_utc_second(moment: datetime) -> None:
    if moment.astimezone(UTC).year < 1 or moment.utcoffset() is None:
        return
    parsed = parse_time(format_time(moment))
    assert parsed == moment.astimezone(UTC).replace(microsecond=0)


# -- body rules ----------------------------------------------------------------------


def test_required_body_keys_are_enforced() -> None:
    body = _ingest_body()
    del body["retain_until"]
    with pytest.raises(EntryError, match="INGEST body lacks required key 'retain_until'"):
        Entry(EntryType.INGEST, "2026-11-26T12:00:00Z", "dock-01", RECORDING, None, body)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("sha256", RECORDING.upper(), "64 lowercase hex"),
        ("size", -1, "integer >= 0"),
        ("size", True, "integer >= 0"),
        ("retain_until", "2027-02-26", "UTC time"),
        ("device", "", "non-empty string or null"),
        ("original_name_b64", "not base64!", "base64"),
    ],
)
def test_body_value_kinds_are_enforced(key: str, value: JsonValue, expected: str) -> None:
    body = {**_ingest_body(), key: value}
    with pytest.raises(EntryError, match=expected):
        Entry(EntryType.INGEST, "2026-11-26T12:00:00Z", "dock-01", RECORDING, None, body)


def test_label_parties_must_be_commitments() -> None:
    with pytest.raises(EntryError, match="commitments"):
        _label(parties=["张三"])


def test_unknown_extra_keys_are_allowed() -> None:
    entry = _label(later_field={"anything": [1, "x", None, True]})
    assert decode(encode(entry)).body["later_field"] == {"anything": [1, "x", None, True]}


def test_recording_rules() -> None:
    with pytest.raises(EntryError, match="must name its recording"):
        new_entry(
            EntryType.HOLD,
            time=NOW,
            station="s",
            recording=None,
            prev=None,
            body={"action": "set", "reason": "case"},
        )
    with pytest.raises(EntryError, match="recording must be null"):
        new_entry(
            EntryType.KEY,
            time=NOW,
            station="s",
            recording=RECORDING,
            prev=None,
            body={"action": "add", "vkey": "k"},
        )
    with pytest.raises(EntryError, match="prev links one recording"):
        new_entry(
            EntryType.APPROVAL,
            time=NOW,
            station="s",
            recording=None,
            prev=3,
            body={"approver": "a", "action": "copy", "decision": "granted", "reason": "r"},
        )
    with pytest.raises(EntryError, match="log index >= 0"):
        _label().__class__(
            EntryType.LABEL,
            "2026-11-26T12:00:00Z",
            "s",
            RECORDING,
            -1,
            {"case_number": "c", "parties": [], "handler": "h"},
        )


def _user_body() -> dict[str, JsonValue]:
    return {"action": "set-role", "user": "wang.wu", "actor": "root", "role": "admin", "detail": "custodian -> admin"}


def test_user_entry_is_about_no_recording_and_needs_every_field() -> None:
    entry = new_entry(EntryType.USER, time=NOW, station="s", recording=None, prev=None, body=_user_body())
    assert decode(encode(entry)).body == _user_body()
    with pytest.raises(EntryError, match="USER entry is about no single recording; recording must be null"):
        new_entry(EntryType.USER, time=NOW, station="s", recording=RECORDING, prev=None, body=_user_body())
    for key in _user_body():
        body = _user_body()
        del body[key]
        with pytest.raises(EntryError, match=f"USER body lacks required key '{key}'"):
            new_entry(EntryType.USER, time=NOW, station="s", recording=None, prev=None, body=body)
    disabled = {**_user_body(), "action": "disable", "role": None, "detail": "left the unit"}
    assert new_entry(EntryType.USER, time=NOW, station="s", recording=None, prev=None, body=disabled).body == disabled
    for key in ("action", "user", "actor", "detail"):
        with pytest.raises(EntryError, match=f"USER body '{key}' must be a non-empty string, got"):
            new_entry(EntryType.USER, time=NOW, station="s", recording=None, prev=None, body={**_user_body(), key: ""})


# -- commitments ---------------------------------------------------------------------


def test_commitment_layout() -> None:
    salt = bytes(range(32))
    expected = hashlib.sha256(b"evidock-commit-v1\x00" + salt + "张三".encode()).hexdigest()
    assert commit("张三", salt) == "sha256:" + expected


@given(st.text(), st.text(), st.binary(min_size=32, max_size=32))
def test_commitment_opens_only_with_its_value_and_salt(value: str, other: str, salt: bytes) -> None:
    try:
        commitment = commit(value, salt)
    except UnicodeEncodeError:
        return  # lone surrogates are not text a person can be named by
    assert opens(commitment, value, salt)
    if other != value:
        assert not opens(commitment, other, salt)
    assert not opens(commitment, value, bytes(32) if salt != bytes(32) else bytes([1]) * 32)
    assert not opens(commitment, value, salt[:31])


def test_new_salt_is_32_random_bytes() -> None:
    first, second = new_salt(), new_salt()
    assert len(first) == 32
    assert first != second
    with pytest.raises(ValueError, match="salt must be 32 bytes"):
        commit("x", b"short")


# -- original file names ---------------------------------------------------------------


def test_utf8_file_names_are_kept_as_text() -> None:
    assert original_name_fields("执法记录 01.mp4") == {"original_name": "执法记录 01.mp4"}
    assert original_name_fields("执法.mp4".encode()) == {"original_name": "执法.mp4"}


@given(st.binary(min_size=1, max_size=40))
def test_any_file_name_bytes_survive_the_log(raw: bytes) -> None:
    fields = original_name_fields(raw)
    body = {**_ingest_body(), **fields}
    entry = decode(encode(Entry(EntryType.INGEST, "2026-11-26T12:00:00Z", "d", RECORDING, None, body)))
    assert original_name_bytes(entry.body) == raw
    assert original_name_fields(os.fsdecode(raw)) == fields  # surrogate-escaped str from the OS


def test_gbk_file_name_is_recorded_losslessly() -> None:
    raw = "执法记录.mp4".encode("gbk")
    fields = original_name_fields(raw)
    assert "\ufffd" in str(fields["original_name"])
    assert original_name_bytes(fields) == raw
