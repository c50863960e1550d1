"""`evidock export disc` as a person sees it: the refusal alone, a bar that ends full, --out created, plain English."""

from __future__ import annotations

import re
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from access.people import Person, Role
from evidock.app import open_app
from evidock.cli import main
from evidock.disc_export import ExportJobs
from retention.export.job import DiscOrder
from storage.access_terms import Action
from tests.test_export_disc import CASE, World, _log_size, _request, act, world

pytestmark = [pytest.mark.s3, pytest.mark.slow]
__all__ = ["act", "world"]  # fixtures shared with test_export_disc (a module-scoped world of three clips)


def _export_disc(world: World, capsys: pytest.CaptureFixture[str], request: int, *extra: str) -> tuple[int, str, str]:
    """The command without --json, as a person types it; returns (code, stdout, stderr)."""
    capsys.readouterr()
    code = main(
        [
            *world.cfg,
            *("export", "disc", "--case", CASE, "--maker", "王五", "--extractor", "赵六"),
            *("--request", str(request), "--media", "cd", *extra),
        ]
    )
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_refusal_prints_its_reason_in_plain_english_and_no_progress_bar(
    world: World, act: Callable[[str], None], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    request = _request(world, world.recordings, action=Action.COPY)
    act("c1")
    before = _log_size(world)
    code, out, err = _export_disc(world, capsys, request, "--out", str(tmp_path / "out"))
    assert code == 1
    assert err == f"error: request {request} approves a copy, not an export\n", "the reason alone: no empty bar"
    assert out == ""
    assert not (tmp_path / "out").exists(), "a refused export creates no folder either"
    assert _log_size(world) == before


def test_a_missing_out_folder_is_created_and_the_bar_ends_at_the_bytes_written(
    world: World, act: Callable[[str], None], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    act("c1")
    target = tmp_path / "new" / "exports"
    code, out, err = _export_disc(world, capsys, _request(world, world.recordings), "--out", str(target))
    assert code == 0, err
    (image,) = target.glob("*.iso")
    assert stat.S_IMODE(target.stat().st_mode) == 0o750, "owner and group only, as the default folder"
    assert f"disc 1/1: {image} ({image.stat().st_size} bytes)" in out
    bars = [line for line in err.splitlines() if line.startswith("disc images")]
    assert len(bars) == 1, err  # piped: the bar's final state, printed once
    done, total, unit = re.search(r"([\d.]+)/([\d.]+) (\w?B)", bars[0]).groups()  # type: ignore[union-attr]
    assert done == total, f"the bar ends full: {bars[0]}"
    assert float(total) == pytest.approx(image.stat().st_size / {"kB": 1e3, "MB": 1e6, "GB": 1e9}[unit], abs=0.1)


def test_out_naming_a_file_is_refused_before_anything_is_logged(
    world: World, act: Callable[[str], None], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    act("c1")
    request = _request(world, world.recordings)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder\n", encoding="utf-8")
    before = _log_size(world)
    code, _, err = _export_disc(world, capsys, request, "--out", str(a_file))
    assert code == 1
    assert err == f"error: --out {a_file} is not a folder; name a folder (it is created if missing)\n"
    assert _log_size(world) == before


def test_a_finished_export_of_the_web_pages_shows_100_percent(world: World, tmp_path: Path) -> None:
    """The 光盘刻录 page's bar (ExportJob.percent) ends full too, at the images' real size."""
    request = _request(world, world.recordings)
    order = DiscOrder(CASE, (), "王五", "赵六", request, tmp_path / "web-out", media="cd")
    with open_app(world.settings, ensure_bucket=False) as evi:
        job = ExportJobs().start(evi, Person("c1", Role.CUSTODIAN), order)
        deadline = time.monotonic() + 120
        while not job.finished and time.monotonic() < deadline:
            time.sleep(0.1)
    assert job.finished
    assert job.error is None
    (image,) = (tmp_path / "web-out").glob("*.iso")
    assert job.written == job.total == image.stat().st_size
    assert job.percent == 100


def test_out_inside_a_watched_folder_is_refused(
    world: World, act: Callable[[str], None], capsys: pytest.CaptureFixture[str]
) -> None:
    act("c1")
    inside = world.tmp / "inbox" / "exports"
    code, _, err = _export_disc(world, capsys, 1, "--out", str(inside))
    assert code == 1
    inbox = world.tmp / "inbox"
    assert err == f"error: --out {inside} is inside the watched folder {inbox}; choose a folder outside it\n"
    assert not inside.exists()
