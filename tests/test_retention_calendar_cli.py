"""`evidock calendar` and the new config keys, without the S3 server (the calendar needs none)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evidock import settings as settings_mod
from evidock.cli import main
from evidock.settings import ConfigError
from retention.errors import PolicyError
from tests.conftest import raw_config, write_config

ENV = {"EVIDOCK_S3_ACCESS_KEY": "k" * 8, "EVIDOCK_S3_SECRET_KEY": "s" * 16}


@pytest.fixture
def config(tmp_path: Path) -> list[str]:
    raw = raw_config(tmp_path, "not-used", "http://127.0.0.1:7480", calendar={"published_years": [2031]})
    return ["--config", str(write_config(tmp_path / "config.toml", raw))]


def _json(capsys: pytest.CaptureFixture[str]) -> Any:
    return json.loads(capsys.readouterr().out)


def test_is_workday_knows_make_up_days_and_holidays(config: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*config, "calendar", "is-workday", "2026-10-10", "--json"]) == 0
    assert _json(capsys) == {
        "date": "2026-10-10",
        "working_day": True,
        "reason": "调休 make-up working day",
        "provisional": False,
        "warnings": [],
    }
    assert main([*config, "calendar", "is-workday", "2026-10-07"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("2026-10-07 (Wednesday): day off — 休息日")
    assert "2026-10-10 调休" in shown
    assert main([*config, "calendar", "is-workday", "2026-10-32"]) == 1
    assert "is not a date: use YYYY-MM-DD" in capsys.readouterr().err


def test_deadline_takes_local_time_unless_an_offset_is_given(
    config: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*config, "calendar", "deadline", "2026-09-30 23:59:59", "--json"]) == 0
    local = _json(capsys)
    assert (local["ended_on"], local["due"], local["provisional"]) == ("2026-09-30", "2026-10-09T23:59:59+08:00", False)
    # 16:00 UTC on 30 Sep is 00:00 on 1 Oct in Beijing: a day later, same due day (1-7 Oct are off).
    assert main([*config, "calendar", "deadline", "2026-09-30T16:00:00+00:00", "--json"]) == 0
    utc = _json(capsys)
    assert (utc["ended_at"], utc["ended_on"], utc["due"]) == (
        "2026-10-01T00:00:00+08:00",
        "2026-10-01",
        "2026-10-09T23:59:59+08:00",
    )
    assert main([*config, "calendar", "deadline", "2026-09-30 18:30"]) == 0
    assert capsys.readouterr().out == "ended 2026-09-30 18:30:00 → due 2026-10-09 23:59:59 (Asia/Shanghai)\n"


def test_an_unpublished_year_is_provisional_and_names_the_year_and_the_config_key(
    config: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*config, "calendar", "deadline", "2032-12-30T10:00"]) == 0
    captured = capsys.readouterr()
    assert captured.out.endswith("[provisional]\n")
    assert "no published holiday schedule for 2033" in captured.err
    assert "[calendar.overrides]" in captured.err
    assert "calendar.published_years" in captured.err
    assert main([*config, "calendar", "deadline", "2032-12-30T10:00", "--json"]) == 0
    result = _json(capsys)
    assert (result["due"], result["provisional"]) == ("2033-01-03T23:59:59+08:00", True)
    assert [w.split(":")[0] for w in result["warnings"]] == [
        "no published holiday schedule for 2032",
        "no published holiday schedule for 2033",
    ]
    # A year listed in calendar.published_years (its notice entered as overrides) is final.
    assert main([*config, "calendar", "is-workday", "2031-05-06", "--json"]) == 0
    assert _json(capsys)["provisional"] is False


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"alerts": {"webhook_url": "ftp://x/y"}}, "alerts.webhook_url = 'ftp://x/***': use an http(s) URL"),
        ({"alerts": {"check_every_minutes": 0}}, "alerts.check_every_minutes = 0: use a whole number between 1"),
        ({"purge": {"daily_at": "2:30"}}, "purge.daily_at = '2:30': use a local time \"HH:MM\""),
        ({"purge": {"apply": "yes"}}, "purge.apply = 'yes': use true (the daily job purges) or false"),
        ({"retention": {"permanent_window_days": 30}}, "retention.permanent_window_days = 30 must be greater than"),
    ],
)
def test_new_config_keys_name_key_value_and_fix(raw: dict[str, Any], expected: str) -> None:
    with pytest.raises((ConfigError, PolicyError)) as caught:
        settings_mod.parse(raw, base=Path("/srv/evidock"), source=Path("config.toml"), environ=ENV)
    assert expected in str(caught.value)


def test_the_webhook_url_can_come_from_the_environment_and_is_masked() -> None:
    env = {**ENV, settings_mod.WEBHOOK_URL_ENV: "https://hooks.example.gov.cn/send?token=secret"}
    parsed = settings_mod.parse({}, base=Path("/srv/evidock"), source=None, environ=env)
    assert parsed.alerts.webhook_url == "https://hooks.example.gov.cn/send?token=secret"
    assert parsed.masked()["alerts.webhook_url"] == "https://hooks.example.gov.cn/***"
    assert parsed.purge.apply is True
    assert parsed.purge.daily_at.strftime("%H:%M") == "02:30"
