"""Art. 7 / 18 checks on real recordings made by ffmpeg, ingested into the real S3 server.

Each scenario docks camera-style files (names in local time, creation_time
embedded in UTC) plus the dock driver's clock sidecar, and asserts exactly the
findings it should produce, and nothing else.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from evidock.app import App
from evidock.cli import main
from evidock.settings import Settings
from ingest.clock import ClockModel, ClockReport, Segment
from ingest.continuity import incidents
from storage import findings as findings_db
from storage import journal
from storage import recordings as recordings_db
from tests import media
from tests.conftest import act_as, dock

pytestmark = pytest.mark.s3

SHANGHAI = timedelta(hours=8)
DAY = datetime(2026, 11, 20, tzinfo=UTC)  # 08:00 local is 00:00 UTC


def _name(device: str, start_utc: datetime, seq: int, ext: str = "mp4") -> str:
    local = start_utc + SHANGHAI
    return f"{device}_P1001_{local:%Y%m%d%H%M%S}_{seq:04d}.{ext}"


def _clock(evi: App, inbox: Path, device: str, station: datetime, offset: timedelta) -> None:
    sidecar = inbox / f"{device}-{station:%H%M%S}.clock.json"
    sidecar.write_text(
        json.dumps(
            {"device": device, "device_time": (station + offset).isoformat(), "station_time": station.isoformat()}
        )
    )
    dock(evi, sidecar)


def _shift(
    evi: App,
    inbox: Path,
    device: str,
    starts: list[float],
    *,
    seconds: float = 3,
    seqs: list[int] | None = None,
    clock_offset: timedelta = timedelta(0),
) -> list[str]:
    """Segments of one device starting at the given seconds after 08:00 local (device clock)."""
    ids = []
    for n, at in enumerate(starts):
        start = DAY + timedelta(seconds=at) + clock_offset
        seq = seqs[n] if seqs else n + 1
        path = media.clip(inbox / _name(device, start, seq), seconds=seconds, created=start, mark=f"{device}{n}")
        ids.append(dock(evi, path))
    return ids


def _found(evi: App, device: str | None = None) -> list[tuple[str, tuple[str, ...], int | None]]:
    with evi.catalog.read() as conn:
        rows = findings_db.listing(conn, device=device)
    return sorted((f.kind, tuple(f.recordings), f.length_ms) for f in rows)


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    return tmp_path / "inbox"


@pytest.fixture
def officer(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Findings, timelines and incidents are read by a person (docs/access.md)."""
    act_as(settings, monkeypatch, "zhang.san", "officer")


def test_a_clean_shift_has_no_findings(evi: App, inbox: Path) -> None:
    _clock(evi, inbox, "CAM10", DAY - timedelta(minutes=5), timedelta(seconds=0.4))
    _shift(evi, inbox, "CAM10", [0, 3, 6, 9])
    assert _found(evi) == []


def test_a_40_second_interruption_is_one_gap(evi: App, inbox: Path) -> None:
    _clock(evi, inbox, "CAM11", DAY - timedelta(minutes=5), timedelta(0))
    ids = _shift(evi, inbox, "CAM11", [0, 3, 46, 49])
    assert _found(evi) == [("gap", (ids[1], ids[2]), 40000)]


def test_a_missing_sequence_number(evi: App, inbox: Path) -> None:
    _clock(evi, inbox, "CAM12", DAY - timedelta(minutes=5), timedelta(0))
    ids = _shift(evi, inbox, "CAM12", [0, 3, 9], seqs=[1, 2, 4])
    assert _found(evi) == [("gap", (ids[1], ids[2]), 3000), ("missing_segment", (ids[1], ids[2]), None)]


def test_a_segment_docked_late_withdraws_the_gap(evi: App, inbox: Path) -> None:
    _clock(evi, inbox, "CAM13", DAY - timedelta(minutes=5), timedelta(0))
    ids = _shift(evi, inbox, "CAM13", [0, 3, 9], seqs=[1, 2, 4])
    assert [k for k, _, _ in _found(evi)] == ["gap", "missing_segment"]
    late = media.clip(
        inbox / _name("CAM13", DAY + timedelta(seconds=6), 3), seconds=3, created=DAY + timedelta(seconds=6)
    )
    dock(evi, late)
    assert _found(evi) == [], "the late segment fills the gap: both findings withdrawn"
    del ids


def test_an_overlap_from_a_clock_that_jumped(evi: App, inbox: Path) -> None:
    _clock(evi, inbox, "CAM14", DAY - timedelta(minutes=5), timedelta(0))
    ids = _shift(evi, inbox, "CAM14", [0, 3, 4], seconds=3)  # the third starts 2 s before the second ends
    assert _found(evi) == [("overlap", (ids[1], ids[2]), 2000)]


def test_a_truncated_file_is_corrupt_and_stored(evi: App, inbox: Path) -> None:
    _clock(evi, inbox, "CAM15", DAY - timedelta(minutes=5), timedelta(0))
    path = media.truncate(media.clip(inbox / _name("CAM15", DAY, 1), seconds=3, created=DAY, mark="cut"))
    rid = dock(evi, path)
    found = _found(evi)
    assert found == [("corrupt", (rid,), None)]
    with evi.catalog.read() as conn:
        assert recordings_db.get(conn, rid) is not None


def test_a_timestamp_jump_inside_a_file(evi: App, inbox: Path) -> None:
    _clock(evi, inbox, "CAM16", DAY - timedelta(minutes=5), timedelta(0))
    jump = "setpts=PTS+gte(T\\,2)*3/TB"
    path = media.clip(
        inbox / _name("CAM16", DAY, 1),
        seconds=8,
        created=DAY,
        video_filter=jump,
        audio_filter=jump.replace("setpts", "asetpts"),
        passthrough=True,
    )
    rid = dock(evi, path)
    found = _found(evi)
    assert [(k, r) for k, r, _ in found] == [("internal_gap", (rid,))]
    assert 2900 <= (found[0][2] or 0) <= 3100


@pytest.mark.usefixtures("officer")
def test_a_device_90_seconds_fast_lines_up_with_another_after_correction(
    evi: App, inbox: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _shift(evi, inbox, "CAM17", [0, 3, 6])
    b = _shift(evi, inbox, "CAM18", [0, 3, 6], clock_offset=timedelta(seconds=90))
    # Docked at the end of the shift: the station reads both clocks.
    _clock(evi, inbox, "CAM17", DAY + timedelta(minutes=10), timedelta(0))
    _clock(evi, inbox, "CAM18", DAY + timedelta(minutes=10), timedelta(seconds=90))
    # Only the fast clock is a finding; no gap or overlap inside either device.
    assert sorted(k for k, _, _ in _found(evi)) == ["clock_drift"] * 3
    assert {r for _, (r,), _ in _found(evi)} == set(b)
    with evi.catalog.read() as conn:
        rows = [recordings_db.get(conn, r) for r in a + b]
        reports = [
            ClockReport(device=d, device_time=x["device_time"], station_time=x["station_time"])
            for d in ("CAM17", "CAM18")
            for x in findings_db.clock_reports_of(conn, d)
        ]
    segments = [
        Segment(recording=r.id, device=r.device or "", seq=r.seq, raw_start=r.start_raw, duration_ms=r.duration_ms or 0)
        for r in rows
        if r is not None and r.start_raw is not None
    ]
    corrected = {c.recording: c.start for c in ClockModel(reports).correct_segments(segments)}
    for mine, theirs in zip(a, b, strict=True):
        assert corrected[mine] == corrected[theirs], "corrected times line up"
    # The two devices recorded one incident (multi-angle), listed together.
    together = incidents(ClockModel(reports).correct_segments(segments))
    assert len(together) == 1
    assert set(together[0].devices) == {"CAM17", "CAM18"}
    capsys.readouterr()
    assert main(["--config", str(config_file), "incidents", "--date", "2026-11-20", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [sorted(i["devices"]) for i in listed] == [["CAM17", "CAM18"]]
    assert sorted(listed[0]["recordings"]) == sorted(a + b)


@pytest.mark.usefixtures("officer")
def test_explain_a_gap_with_a_voice_statement(
    evi: App, inbox: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _clock(evi, inbox, "CAM19", DAY - timedelta(minutes=5), timedelta(0))
    ids = _shift(evi, inbox, "CAM19", [0, 45])
    cfg = ["--config", str(config_file)]
    assert main([*cfg, "findings", "list", "--open", "--device", "CAM19", "--json"]) == 0
    (gap,) = json.loads(capsys.readouterr().out)
    assert (gap["kind"], gap["length_ms"]) == ("gap", 42000)
    args = [*cfg, "findings", "explain", str(gap["id"]), "--text", "电池更换 battery swap"]
    assert main([*args, "--voice-in", ids[1][:10], "--at", "1.5", "--json"]) == 0
    explained = json.loads(capsys.readouterr().out)
    assert explained["status"] == "explained"
    with evi.catalog.read() as conn:
        assert journal.entry_at(conn, explained["entry"]).body["author"] == "zhang.san", "the authenticated officer"
    assert main([*cfg, "findings", "list", "--open", "--device", "CAM19", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main([*args, "--voice-in", ids[1][:10], "--at", "99"]) == 1
    assert "--at must point inside recording" in capsys.readouterr().err
    assert (
        main(
            [
                *cfg,
                "timeline",
                "--device",
                "CAM19",
                "--date",
                "2026-11-20",
                "--json",
                "--svg",
                str(inbox.parent / "t.svg"),
            ]
        )
        == 0
    )
    day = json.loads(capsys.readouterr().out)
    assert [s["seq"] for s in day["segments"]] == [1, 2]
    assert day["segments"][0]["start"].startswith("2026-11-20T08:00:00+08:00")
    assert [(f["kind"], f["status"]) for f in day["findings"]] == [("gap", "explained")]
    assert "时间线" in (inbox.parent / "t.svg").read_text(encoding="utf-8")


def test_name_and_embedded_time_disagree(evi: App, inbox: Path) -> None:
    _clock(evi, inbox, "CAM20", DAY + timedelta(minutes=10), timedelta(0))
    # The name says 08:00 local; the embedded time says 08:00 UTC: an 8-hour zone mistake.
    path = media.clip(inbox / _name("CAM20", DAY, 1), seconds=3, created=DAY + SHANGHAI, mark="tz")
    rid = dock(evi, path)
    with evi.catalog.read() as conn:
        (finding,) = findings_db.listing(conn, recording=rid)
    assert finding.kind == "time_mismatch"
    detail = finding.facts["detail"]
    assert set(detail) >= {"file_mtime"}
    assert "8" in finding.facts["message"]


def test_a_device_without_any_clock_report_is_unverified(evi: App, inbox: Path) -> None:
    ids = _shift(evi, inbox, "CAM21", [0, 3])
    assert _found(evi) == sorted(("clock_unverified", (r,), None) for r in ids)
