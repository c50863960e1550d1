"""config.toml validation: every error names the key, the value and the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chain.errors import EvidockError
from evidock import settings as settings_mod
from evidock.settings import ConfigError
from ingest.pipeline import AfterVerify
from retention.errors import PolicyError

ENV = {"EVIDOCK_S3_ACCESS_KEY": "k" * 8, "EVIDOCK_S3_SECRET_KEY": "s" * 16}


def _parse(raw: dict[str, Any], env: dict[str, str] | None = None) -> settings_mod.Settings:
    return settings_mod.parse(raw, base=Path("/srv/evidock"), source=Path("config.toml"), environ=env or ENV)


def test_the_repository_config_loads_with_the_local_server_defaults() -> None:
    repo = Path(__file__).resolve().parents[1]
    s = settings_mod.load(repo / "config.toml", environ={})
    assert s.station_id == "dock-01"
    assert str(s.timezone) == "Asia/Shanghai"
    assert s.watch.folders == (repo / "inbox",)
    assert s.watch.after_verify is AfterVerify.KEEP
    assert s.s3.endpoint == "http://127.0.0.1:7480"
    assert s.s3.access_key == settings_mod.DEV_ACCESS_KEY
    assert s.retention.minimum_days == 92
    assert s.database_url == f"sqlite:///{repo / 'var' / 'evidock.db'}"
    assert s.web == settings_mod.WebSettings()  # [web]: Secure cookies behind TLS ("auto"), 30 min idle, ...
    assert s.export.out_dir == repo / "var" / "exports"
    assert _parse({"export": {"out_dir": "/media/discs"}}).export.out_dir == Path("/media/discs")
    assert _parse({"web": {"secure_cookies": True}}).web.secure_cookies is True
    assert _parse({"web": {"secure_cookies": False}}).web.secure_cookies is False
    masked = s.masked()
    assert masked["web.secure_cookies"] == "auto"
    assert settings_mod.DEV_SECRET_KEY not in str(masked)
    assert masked["s3.secret_key"].endswith("***")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"retention": {"minimum_days": 30}},
            "retention.minimum_days = 30 is below the 3-month minimum required by "
            "art. 27 (第二十七条); set it to 92 or more",
        ),
        ({"watch": {"after_verify": "shred"}}, 'watch.after_verify = \'shred\': use "keep", "move" or "delete"'),
        ({"watch": {"after_verify": "move"}}, 'watch.move_to = None: after_verify = "move" needs a folder'),
        ({"station": {"timezone": "Mars/Olympus"}}, "station.timezone = 'Mars/Olympus': use an IANA zone name"),
        ({"s3": {"endpoint": "127.0.0.1:7480"}}, "s3.endpoint = '127.0.0.1:7480': use a URL with scheme and host"),
        ({"s3": {"bucket": "Evidence_Bucket"}}, "s3.bucket = 'Evidence_Bucket': use 3-63 lower-case letters"),
        ({"watch": {"stable_seconds": "2"}}, "watch.stable_seconds = '2': use a number of seconds between 0 and 3600"),
        ({"s3": {"part_size_mib": 1}}, "s3.part_size_mib = 1: use a whole number between 5 and 5120"),
        ({"calendar": {"overrides": {"2027-02-07": "maybe"}}}, "calendar.overrides.\"2027-02-07\" = 'maybe'"),
        ({"names": {"patterns": {"x": {"regex": "(?P<start>\\d{14})"}}}}, "names.patterns.x.regex"),
        ({"retention": {"evidence_years": "forever"}}, "retention.evidence_years = 'forever'"),
        ({"web": {"secure_cookies": "yes"}}, "web.secure_cookies = 'yes': use \"auto\" (Secure behind TLS)"),
        ({"web": {"login_attempts": 0}}, "web.login_attempts = 0: use a whole number between 1 and 1000"),
        (
            {"export": {"out_dir": "inbox/discs"}},
            "export.out_dir = '/srv/evidock/inbox/discs': choose a folder outside the watched folder",
        ),
    ],
)
def test_bad_values_name_key_value_and_fix(raw: dict[str, Any], expected: str) -> None:
    with pytest.raises((ConfigError, PolicyError)) as caught:
        _parse(raw)
    assert expected in str(caught.value)
    assert isinstance(caught.value, EvidockError)


def test_s3_keys_come_from_the_environment_for_a_remote_server() -> None:
    raw = {"s3": {"endpoint": "https://s3.bureau.example"}}
    with pytest.raises(ConfigError, match="EVIDOCK_S3_ACCESS_KEY / EVIDOCK_S3_SECRET_KEY are not set"):
        _parse(raw, env={"PATH": "/bin"})
    s = _parse(raw)
    assert (s.s3.access_key, s.s3.secure, s.s3.host) == ("k" * 8, True, "s3.bureau.example")


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        settings_mod.load(tmp_path / "nope.toml", {})
    broken = tmp_path / "broken.toml"
    broken.write_text("[station\nid = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        settings_mod.load(broken, {})


def test_the_database_url_comes_from_the_environment_when_set() -> None:
    """$EVIDOCK_DATABASE_URL wins over database.url (a station's password stays out of config.toml)."""
    raw = {"database": {"url": "sqlite:///var/station.db"}}
    assert _parse(raw).database_url == "sqlite:////srv/evidock/var/station.db"  # relative to the file
    url = "postgresql+psycopg://evidock:s3cret-pw@db.bureau.example:5432/evidock"
    s = _parse(raw, env={**ENV, "EVIDOCK_DATABASE_URL": url})
    assert s.database_url == url
    assert s.masked()["database.url"] == "postgresql+psycopg://evidock:***@db.bureau.example:5432/evidock"
    assert "s3cret-pw" not in str(s.masked())
    with pytest.raises(ConfigError, match=r"EVIDOCK_DATABASE_URL = '\(not a URL\)'"):
        _parse(raw, env={**ENV, "EVIDOCK_DATABASE_URL": "s3cret-pw@db"})
    with pytest.raises(ConfigError, match=r"database\.url = 'mysql'"):
        _parse({"database": {"url": "mysql://u:p@h/db"}})
