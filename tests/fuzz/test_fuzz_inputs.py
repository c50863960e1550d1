"""Fuzz the station's outside inputs: dock file names, clock sidecars, config.toml.

Each may be written by someone careless or hostile. The only way out is the
documented error (``PatternError``, ``ValueError`` for a sidecar,
``ConfigError``), and what is accepted is what the input says. Budgets are small
so the suite runs in `make test` (a few seconds each); run with
``--hypothesis-seed`` or a larger ``FUZZ_EXAMPLES`` for a longer search.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from evidock import settings as settings_mod
from evidock.settings import ConfigError
from ingest.clock_sidecar import parse_clock_sidecar
from ingest.filenames import BUILTIN_PATTERNS, NamePattern, PatternError, parse_name

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SHANGHAI = timezone(timedelta(hours=8))

# -- file names ------------------------------------------------------------------------------

VALID = (
    "DSJ0012_010203_20261120080619_0001.mp4",
    "DSJ0012_010203_20261120_080619_0001.MP4",
    "20261120_080619_DSJ0012.wav",
)


@st.composite
def near_names(draw: st.DrawFn) -> str:
    """A valid name with a few characters replaced, inserted or deleted (the likely typos and attacks)."""
    name = list(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(name)))
        what = draw(st.sampled_from(["replace", "insert", "delete"]))
        char = draw(st.characters(codec="utf-8") | st.sampled_from(list("0_9.\n\x00\udcff-")))
        if what == "insert" or not name:
            name.insert(at, char)
        elif what == "replace":
            name[min(at, len(name) - 1)] = char
        else:
            del name[min(at, len(name) - 1)]
    return "".join(name)


names = near_names() | st.text(max_size=300) | st.text(alphabet="0123456789_-.ADSJmp4", max_size=60)


@FUZZ
@given(names)
def test_a_parsed_name_says_only_what_the_name_says(name: str) -> None:
    facts = parse_name(name, BUILTIN_PATTERNS, SHANGHAI)
    if facts is None:
        return
    pattern = next(p for p in BUILTIN_PATTERNS if p.name == facts.pattern)
    found = pattern.regex.fullmatch(name)
    assert found is not None
    assert facts.device == found["device"]
    assert facts.device in name
    assert facts.officer is None or facts.officer in name
    assert facts.start.tzinfo is UTC
    # The stored instant is the name's local reading in the station's zone, nothing else.
    padded = pattern.start_format.replace("%Y", f"{facts.local_start.year:04d}")  # glibc: year 26 is "26"
    assert facts.local_start.strftime(padded) == found["start"]
    assert facts.start == facts.local_start.replace(tzinfo=SHANGHAI).astimezone(UTC)


@FUZZ
@given(st.text(max_size=80), st.text(max_size=20), st.text(max_size=40), names)
def test_a_configured_pattern_is_usable_or_refused_clearly(
    regex: str, start_format: str, example: str, name: str
) -> None:
    try:
        pattern = NamePattern.compile("fuzz", regex, start_format=start_format or "%Y", example=example)
    except PatternError as exc:
        assert "fuzz" in str(exc)  # noqa: PT017 - a fuzz case may or may not raise; pytest.raises cannot say so
        return
    facts = parse_name(name, (pattern,), SHANGHAI)
    assert facts is None or facts.start.tzinfo is UTC


# -- clock sidecars ----------------------------------------------------------------------------

times = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.one_of(st.none(), st.timezones(), st.just(SHANGHAI)),
).map(lambda d: d.isoformat())
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40) | times,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)
sidecar_docs = st.fixed_dictionaries(
    {},
    optional={
        "device": st.text(max_size=140) | json_values,
        "device_time": times | json_values,
        "station_time": times | json_values,
    },
)


@FUZZ
@given(st.binary(max_size=300) | sidecar_docs.map(lambda d: json.dumps(d).encode()))
def test_a_clock_sidecar_is_a_report_or_a_value_error(data: bytes) -> None:
    try:
        report = parse_clock_sidecar(data)
    except ValueError as exc:
        assert str(exc)  # noqa: PT017 - see above
        return
    doc = json.loads(data)
    assert report.device == doc["device"].strip()
    assert report.device
    assert report.device_time == datetime.fromisoformat(doc["device_time"])
    assert report.station_time == datetime.fromisoformat(doc["station_time"])
    assert report.device_time.utcoffset() is not None
    assert math.isfinite(report.offset.total_seconds())
    round(report.offset.total_seconds() * 1000)  # what the pipeline stores: must not overflow


# -- config.toml -------------------------------------------------------------------------------

KEYS = {
    "station": ["id", "timezone"],
    "watch": ["folders", "ignore", "stable_seconds", "rescan_seconds", "after_verify", "move_to", "retry_seconds"],
    "s3": ["endpoint", "bucket", "region", "part_size_mib", "parallel_uploads"],
    "database": ["url"],
    "retention": ["minimum_days", "evidence_years", "permanent_window_days", "permanent_renew_within_days"],
    "log": ["origin", "key_file", "checkpoint_every_entries", "checkpoint_every_seconds"],
    "checks": ["clock_tolerance_seconds", "split_tolerance_seconds", "deep_scan", "clock_unverified_after_days"],
    "calendar": ["published_years", "overrides"],
    "alerts": ["check_every_minutes", "webhook_url", "webhook_timeout_seconds"],
    "purge": ["daily_at", "apply"],
    "access": ["approval_expiry_hours", "working_hours", "bulk_threshold"],
    "web": ["secure_cookies", "session_hours", "login_attempts"],
    "export": ["out_dir"],
    "health": ["waiting_limit_minutes", "min_free_mib"],
    "names": ["patterns"],
}
toml_scalars = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["keep", "move", "delete", "auto", "permanent", "02:30", "08:30-17:30", "inbox"])
    | st.sampled_from(["~nobody/x", "~no-such-user/x", "a\x00b", "/", "", " "])
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for section in draw(st.lists(st.sampled_from(sorted(KEYS)), max_size=6, unique=True)):
        keys = draw(st.lists(st.sampled_from(KEYS[section]), max_size=4, unique=True))
        raw[section] = {key: draw(toml_values) for key in keys}
    if draw(st.booleans()):
        raw[draw(st.text(max_size=8))] = draw(toml_values)
    return raw


ENV = {"EVIDOCK_S3_ACCESS_KEY": "fuzz-access", "EVIDOCK_S3_SECRET_KEY": "fuzz-secret"}


@FUZZ
@given(configs())
@example({"log": {"key_file": "~no-such-user/x"}})  # crashed before: RuntimeError from expanduser
@example({"export": {"out_dir": "a\x00b"}})  # crashed before: ValueError (embedded null byte)
@example({"database": {"url": "sqlite:///~no-such-user/evidock.db"}})
@example({"watch": {"folders": ["in\x00box"]}})
def test_a_config_is_settings_or_a_config_error(tmp_path_factory: pytest.TempPathFactory, raw: dict[str, Any]) -> None:
    base = tmp_path_factory.getbasetemp()
    try:
        loaded = settings_mod.parse(raw, base=base, source=base / "config.toml", environ=ENV)
    except ConfigError as exc:
        assert "config.toml" in str(exc)  # noqa: PT017 - see above
        return
    # What was accepted is what was written (a sample of the keys that reach storage decisions).
    watch = raw.get("watch", {})
    if "stable_seconds" in watch:
        assert loaded.watch.stable_seconds == watch["stable_seconds"]
    if "minimum_days" in raw.get("retention", {}):
        assert loaded.retention.minimum_days == raw["retention"]["minimum_days"] >= 92
    assert loaded.s3.part_size >= 5 * 1024 * 1024
    assert loaded.watch.folders


def _toml_text(raw: dict[str, Any]) -> str:
    """A config as TOML-like text: JSON scalars and lists are TOML too; what is not, load must refuse."""
    lines = []
    for section, values in raw.items():
        lines.append(f"[{json.dumps(section)}]")
        if isinstance(values, dict):
            lines.extend(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in values.items())
    return "\n".join(lines)


@FUZZ
@given(st.text(max_size=400) | configs().map(_toml_text))
def test_a_config_file_is_settings_or_a_config_error(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.getbasetemp() / "fuzz-config.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    with contextlib.suppress(ConfigError):
        settings_mod.load(path, ENV)
