"""Embedded times without a zone are the device's local time (docs/time-model.md "Embedded times").

Each format is made here by a real tool (ffmpeg; exiftool for EXIF; an AVI
``IDIT`` chunk written into the space ffmpeg reserves), docked into the real
S3 server under a camera-style name in local time. A tag that agrees with the
name in local time gives no TIME_MISMATCH; one 10 minutes off gives one.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from evidock.app import App
from ingest.checking import CheckOptions, file_findings
from ingest.filenames import BUILTIN_PATTERNS, parse_name
from ingest.probe import MINUTE, SECOND, probe
from storage import findings as findings_db
from tests.conftest import dock

SHANGHAI = ZoneInfo("Asia/Shanghai")
LOCAL = datetime(2026, 11, 20, 8, 6, 19)  # the device's wall clock, in the name and in the tag
OFF = timedelta(minutes=10)


def _ffmpeg(target: Path, *args: str) -> Path:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args, os.fsencode(target)], check=True)
    return target


def _sine(mark: str) -> list[str]:
    return ["-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-metadata", f"comment={mark}"]


def mp3_tdrc(target: Path, tag: datetime, mark: str) -> Path:
    return _ffmpeg(target, *_sine(mark), "-metadata", f"date={tag:%Y-%m-%dT%H:%M:%S}")


def mp3_tyer(target: Path, tag: datetime, mark: str) -> Path:
    """ID3v2.3 keeps the year, day-month and hour-minute in three frames; no seconds."""
    return _ffmpeg(
        target,
        *_sine(mark),
        "-id3v2_version",
        "3",
        "-metadata",
        f"TYER={tag:%Y}",
        "-metadata",
        f"TDAT={tag:%d%m}",
        "-metadata",
        f"TIME={tag:%H%M}",
    )


def wav_icrd(target: Path, tag: datetime, mark: str) -> Path:
    return _ffmpeg(target, *_sine(mark), "-metadata", f"date={tag:%Y-%m-%dT%H:%M:%S}")


def wav_bwf(target: Path, tag: datetime, mark: str) -> Path:
    return _ffmpeg(
        target,
        *_sine(mark),
        "-write_bext",
        "1",
        "-metadata",
        f"origination_date={tag:%Y-%m-%d}",
        "-metadata",
        f"origination_time={tag:%H:%M:%S}",
    )


def avi_idit(target: Path, tag: datetime, mark: str) -> Path:
    """An AVI whose header holds an ``IDIT`` chunk, as Nikon/Casio-style cameras write.

    ffmpeg cannot write IDIT but reserves a ``JUNK`` chunk inside ``hdrl``; the
    IDIT goes at its start and a smaller JUNK fills the rest, so no offset moves.
    """
    _ffmpeg(
        target,
        *["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2", "-metadata", f"comment={mark}"],
        *["-c:v", "mpeg4", "-q:v", "5"],
    )
    data = bytearray(target.read_bytes())
    hdrl = data.index(b"hdrl") - 8
    hdrl_end = hdrl + 8 + struct.unpack_from("<I", data, hdrl + 4)[0]
    junk = data.index(b"JUNK", hdrl, hdrl_end)
    size = struct.unpack_from("<I", data, junk + 4)[0]
    text = f"{tag:%a %b %d %H:%M:%S %Y}\n\0".encode("ascii")  # 26 bytes, the IDIT form
    idit = b"IDIT" + struct.pack("<I", len(text)) + text
    filler = size - len(idit)
    assert filler >= 0
    data[junk : junk + 8 + size] = idit + b"JUNK" + struct.pack("<I", filler) + bytes(filler)
    target.write_bytes(bytes(data))
    return target


def jpeg_exif(target: Path, tag: datetime, mark: str) -> Path:
    """A camera JPEG: ffmpeg makes the picture, exiftool writes DateTimeOriginal without an offset."""
    _ffmpeg(target, "-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1")
    subprocess.run(
        [
            "exiftool",
            "-q",
            "-overwrite_original",
            "-Make=TestCam",
            f"-ImageDescription={mark}",
            f"-DateTimeOriginal={tag:%Y:%m:%d %H:%M:%S}",
            os.fsencode(target),
        ],
        check=True,
    )
    return target


Maker = Callable[[Path, datetime, str], Path]
FORMATS: dict[str, tuple[str, Maker, str, timedelta]] = {
    "mp3-id3v24": ("mp3", mp3_tdrc, "ID3v2.4 TDRC", SECOND),
    "mp3-id3v23": ("mp3", mp3_tyer, "ID3v2.3 TYER/TDAT/TIME", MINUTE),
    "wav-riff": ("wav", wav_icrd, "RIFF ICRD", SECOND),
    "wav-bwf": ("wav", wav_bwf, "BWF OriginationDate/Time", SECOND),
    "avi-idit": ("avi", avi_idit, "AVI IDIT", SECOND),
    "jpeg-exif": ("jpg", jpeg_exif, "EXIF DateTimeOriginal", SECOND),
}

needs_exiftool = pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool (libimage-exiftool-perl)")


def _named(folder: Path, ext: str, seq: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"REC7_P1001_{LOCAL:%Y%m%d%H%M%S}_{seq:04d}.{ext}"


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_is_read_as_device_local(fmt: str, tmp_path: Path) -> None:
    if fmt == "jpeg-exif" and shutil.which("exiftool") is None:
        pytest.skip("exiftool is not installed (scripts/install.sh installs libimage-exiftool-perl)")
    ext, make, tag, resolution = FORMATS[fmt]
    facts = probe(make(_named(tmp_path, ext, 1), LOCAL, fmt), device_named=True)
    assert facts.embedded is not None
    assert facts.embedded.tag == tag
    assert facts.embedded.device_local, "no zone in the tag: the device's wall clock"
    assert facts.embedded.resolution == resolution
    expected = LOCAL.replace(second=0) if resolution == MINUTE else LOCAL
    assert facts.embedded.value == expected
    assert facts.creation_time is None, "a wall-clock time is never reported as UTC"
    assert facts.embedded_start(SHANGHAI) == expected.replace(tzinfo=SHANGHAI).astimezone(UTC)


@pytest.mark.s3
@pytest.mark.parametrize("fmt", FORMATS)
def test_name_and_tag_agreeing_in_local_time_raise_nothing_and_10_minutes_off_do(
    fmt: str, evi: App, tmp_path: Path
) -> None:
    if fmt == "jpeg-exif" and shutil.which("exiftool") is None:
        pytest.skip("exiftool is not installed (scripts/install.sh installs libimage-exiftool-perl)")
    ext, make, tag, _ = FORMATS[fmt]
    inbox = tmp_path / "inbox"
    agree = dock(evi, make(_named(inbox, ext, 1), LOCAL, f"{fmt}-agree"))
    late = dock(evi, make(_named(inbox, ext, 2), LOCAL + OFF, f"{fmt}-late"))
    with evi.catalog.read() as conn:
        mismatches = {f.recordings[0]: f for f in findings_db.listing(conn, device="REC7") if f.kind == "time_mismatch"}
    assert set(mismatches) == {late}, f"{fmt}: only the file 10 minutes off is a mismatch"
    assert agree not in mismatches
    detail = mismatches[late].facts["detail"]
    assert detail["embedded_tag"] == tag
    assert detail["embedded_zone"] == "UTC+08:00"
    assert detail["whole_hours"] == 0
    assert abs(detail["difference_ms"] - 600_000) < 60_000  # ID3v2.3 has no seconds: 09:59 early at worst
    with evi.catalog.read() as conn:
        kinds = {f.kind for f in findings_db.listing(conn, device="REC7")}
    assert "not_media" not in kinds
    assert "unmatched_name" not in kinds


def test_mp4_creation_time_stays_utc(tmp_path: Path) -> None:
    """The control: MP4's creation_time is UTC by ISO/IEC 14496-12, not the device's wall clock."""
    path = _ffmpeg(
        _named(tmp_path, "mp4", 1),
        *["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=1"],
        *["-metadata", "creation_time=2026-11-20T00:06:19Z"],
    )
    facts = probe(path, device_named=True)
    assert facts.embedded is not None
    assert not facts.embedded.device_local
    assert facts.creation_time == datetime(2026, 11, 20, 0, 6, 19, tzinfo=UTC)
    named = parse_name(path.name, BUILTIN_PATTERNS, SHANGHAI)
    assert named is not None
    found = file_findings(
        "r1",
        name=path.name,
        named=named,
        media=facts,
        packets=None,
        mtime=datetime.now(UTC),
        patterns=BUILTIN_PATTERNS,
        options=CheckOptions(),
    )
    assert [f for f in found if f.kind.value == "time_mismatch"] == []


@needs_exiftool
def test_an_exif_offset_wins_over_the_device_zone(tmp_path: Path) -> None:
    path = jpeg_exif(_named(tmp_path, "jpg", 1), LOCAL, "offset")
    subprocess.run(["exiftool", "-q", "-overwrite_original", "-OffsetTimeOriginal=+09:00", path], check=True)
    facts = probe(path, device_named=True)
    assert facts.embedded is not None
    assert not facts.embedded.device_local
    assert facts.creation_time == datetime(2026, 11, 19, 23, 6, 19, tzinfo=UTC)  # 08:06:19+09:00


def test_a_device_kept_in_another_zone(tmp_path: Path) -> None:
    """``[checks] device_timezone``: a recorder set to UTC names and tags its files in UTC."""
    path = wav_icrd(_named(tmp_path, "wav", 1), LOCAL, "utc-device")
    facts = probe(path, device_named=True)
    options = CheckOptions(device_timezone=ZoneInfo("UTC"))

    def mismatches(named_in: ZoneInfo) -> list[str]:
        named = parse_name(path.name, BUILTIN_PATTERNS, named_in)
        assert named is not None
        found = file_findings(
            "r1",
            name=path.name,
            named=named,
            media=facts,
            packets=None,
            mtime=datetime.now(UTC),
            patterns=BUILTIN_PATTERNS,
            options=options,
        )
        return [str(f.detail["embedded_zone"]) for f in found if f.kind.value == "time_mismatch"]

    assert mismatches(ZoneInfo("UTC")) == []
    assert mismatches(SHANGHAI) == ["UTC"], "names read in Shanghai, tags in UTC: 8 hours apart"
