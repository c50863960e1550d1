"""People and roles: the first admin, users managed by admins only, argon2id passwords, hashed tokens.

A command run by a person needs ``EVIDOCK_USER`` and ``EVIDOCK_TOKEN``; tests act
as someone with ``tests.conftest.act_as``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from evidock import settings as settings_mod
from evidock.app import open_app
from evidock.cli import main
from evidock.settings import ConfigError, Settings
from storage import access
from tests.conftest import act_as, use

pytestmark = pytest.mark.s3


@pytest.fixture
def cli(config_file: Path, s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("EVIDOCK_S3_ACCESS_KEY", s3_env["S3_ACCESS_KEY"])
    monkeypatch.setenv("EVIDOCK_S3_SECRET_KEY", s3_env["S3_SECRET_KEY"])
    for name in ("EVIDOCK_USER", "EVIDOCK_TOKEN", "EVIDOCK_PASSWORD", "EVIDOCK_NEW_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return ["--config", str(config_file)]


def _json(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    loaded = json.loads(capsys.readouterr().out)
    assert isinstance(loaded, dict)
    return loaded


def test_the_first_user_is_an_admin_and_then_only_admins_manage_users(
    cli: list[str], settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*cli, "users", "add", "wang.wu", "--role", "custodian"]) == 1
    assert "the first user must be an admin" in capsys.readouterr().err

    assert main([*cli, "users", "add", "root", "--role", "admin", "--json"]) == 0
    root = _json(capsys)
    assert root["role"] == "admin"
    assert str(root["token"]).startswith("evk_")

    # A second bootstrap is refused: users exist now.
    assert main([*cli, "users", "add", "eve", "--role", "admin"]) == 1
    assert "who is acting?" in capsys.readouterr().err

    use(monkeypatch, "root", str(root["token"]))
    assert main([*cli, "users", "add", "王五", "--role", "custodian", "--officer-id", "P1001", "--json"]) == 0
    custodian = _json(capsys)
    assert main([*cli, "users", "add", "zhao", "--role", "officer"]) == 0
    assert "API token (shown once" in capsys.readouterr().out

    # A custodian cannot manage users.
    use(monkeypatch, "王五", str(custodian["token"]))
    assert main([*cli, "users", "add", "mallory", "--role", "admin"]) == 1
    assert "may not manage users" in capsys.readouterr().err
    assert main([*cli, "users", "set-role", "王五", "admin"]) == 1
    capsys.readouterr()

    use(monkeypatch, "root", str(root["token"]))
    assert main([*cli, "users", "set-role", "zhao", "auditor"]) == 0
    assert capsys.readouterr().out == "zhao is now auditor\n"
    assert main([*cli, "users", "list", "--json"]) == 0
    listed = {u["name"]: u for u in json.loads(capsys.readouterr().out)}
    assert {n: u["role"] for n, u in listed.items()} == {"root": "admin", "王五": "custodian", "zhao": "auditor"}
    assert listed["王五"]["officer_id"] == "P1001"
    assert listed["root"]["created_by"] == "(bootstrap)"

    # The last admin can be neither demoted nor disabled.
    assert main([*cli, "users", "set-role", "root", "custodian"]) == 1
    assert "last active admin" in capsys.readouterr().err
    assert main([*cli, "users", "disable", "root", "--reason", "test"]) == 1
    assert "last active admin" in capsys.readouterr().err

    # A user may issue themself a new token; only an admin issues one for someone else.
    use(monkeypatch, "王五", str(custodian["token"]))
    assert main([*cli, "users", "token", "zhao"]) == 1
    assert "may not manage users" in capsys.readouterr().err
    assert main([*cli, "users", "token", "王五", "--json"]) == 0
    second = _json(capsys)["token"]
    use(monkeypatch, "王五", str(second))
    assert main([*cli, "access", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    use(monkeypatch, "root", str(root["token"]))

    # Disabling revokes the tokens: the custodian is refused from then on.
    assert main([*cli, "users", "disable", "王五", "--reason", "transferred to another unit"]) == 0
    for token in (custodian["token"], second):
        use(monkeypatch, "王五", str(token))
        assert main([*cli, "access", "list"]) == 1
        assert "is unknown or disabled, or the token/password is wrong" in capsys.readouterr().err


def test_passwords_are_argon2id_and_tokens_are_stored_hashed(
    cli: list[str], settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*cli, "users", "add", "root", "--role", "admin", "--json"]) == 0
    token = str(_json(capsys)["token"])
    use(monkeypatch, "root", token)
    monkeypatch.setenv("EVIDOCK_NEW_PASSWORD", "short")
    assert main([*cli, "users", "add", "li", "--role", "auditor", "--password"]) == 1
    assert "use at least 12" in capsys.readouterr().err
    monkeypatch.setenv("EVIDOCK_NEW_PASSWORD", "correct horse battery staple")
    assert main([*cli, "users", "add", "li", "--role", "auditor", "--password"]) == 0
    capsys.readouterr()

    with open_app(settings, ensure_bucket=False) as evi, evi.catalog.read() as conn:
        stored = conn.execute(select(access.users.c.password_hash).where(access.users.c.name == "li")).scalar_one()
        digests = list(conn.execute(select(access.user_tokens.c.digest)).scalars())
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert "correct horse" not in stored
    assert token not in digests
    assert len(digests) == 1
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    for path in database.parent.glob(database.name + "*"):  # the file and its WAL
        assert token.encode() not in path.read_bytes()

    monkeypatch.delenv("EVIDOCK_TOKEN")
    monkeypatch.setenv("EVIDOCK_USER", "li")
    monkeypatch.setenv("EVIDOCK_PASSWORD", "correct horse battery staple")
    assert main([*cli, "users", "list", "--json"]) == 0  # auditors may list users
    capsys.readouterr()
    monkeypatch.setenv("EVIDOCK_PASSWORD", "wrong horse battery staple")
    assert main([*cli, "users", "list"]) == 1
    assert "token/password is wrong" in capsys.readouterr().err
    # No password and no terminal: refused, never asked on the command line.
    monkeypatch.delenv("EVIDOCK_PASSWORD")
    assert main([*cli, "users", "list"]) == 1
    assert "no terminal to ask for the password" in capsys.readouterr().err
    # Someone else's token does not work for another name.
    use(monkeypatch, "li", token)
    assert main([*cli, "users", "list"]) == 1
    capsys.readouterr()


def test_user_names_are_checked(cli: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("wang wu", "bad\nname", "x" * 65, "", "(bootstrap)"):
        assert main([*cli, "users", "add", bad, "--role", "admin"]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ")
        assert err.count("\n") == 1
    assert main([*cli, "users", "add", "root", "--role", "superuser"]) == 1
    assert "role 'superuser' is unknown" in capsys.readouterr().err


PERSON_COMMANDS = [
    ["recordings", "list"],
    ["recordings", "show", "abcdef12"],
    ["recordings", "get", "abcdef12", "--request", "1", "--out", "x.mp4"],
    ["findings", "list"],
    ["timeline", "--device", "CAM01", "--date", "2026-11-20"],
    ["incidents", "--date", "2026-11-20"],
    ["log", "entry", "0"],
    ["log", "proof", "--entry", "0"],
    ["verify"],
    ["users", "list"],
    ["access", "list"],
    ["access", "request", "abcdef12", "--action", "copy", "--reason", "r"],
    ["access", "approve", "1", "--reason", "r"],
    ["audit", "access"],
    ["audit", "anomalies"],
]


# Custody, explanations, clock reports and the art. 26 reports act as the authenticated person.
NEWLY_GATED = {
    "label": ["label", "abcdef12", "--case", "C1", "--party", "P", "--handler", "H"],
    "evidence add": ["evidence", "add", "abcdef12", "--case", "C1"],
    "evidence release": ["evidence", "release", "abcdef12", "--reason", "r", "--approved-by", "zhao.liu"],
    "case close": ["case", "close", "C1", "--date", "2026-11-20"],
    "case done": ["case", "done", "C1", "--case-file", "2026-11-21"],
    "findings explain": ["findings", "explain", "1", "--text", "battery"],
    "clock report": ["clock", "report", "--device", "CAM01", "--device-time", "08:00:00"],
    "deadlines": ["deadlines"],
    "compliance": ["compliance"],
    "status": ["status"],
    "alerts": ["alerts"],
    "purge": ["purge"],
}
PERSON_COMMANDS += list(NEWLY_GATED.values())


@pytest.mark.parametrize("command", NEWLY_GATED.values(), ids=NEWLY_GATED.keys())
def test_custody_and_report_commands_refuse_without_a_person(
    cli: list[str], command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*cli, *command]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: who is acting? set EVIDOCK_USER")
    assert error.count("\n") == 1, "one line"


@pytest.mark.parametrize(
    ("role", "refused"),
    [
        ("officer", ["label", "evidence add", "case close", "purge", "status", "clock report"]),
        ("auditor", ["label", "evidence release", "case done", "findings explain", "purge", "clock report"]),
        ("station", ["label", "deadlines", "findings explain", "alerts"]),
        ("admin", ["label", "compliance", "findings explain", "clock report", "purge"]),
    ],
)
def test_custody_and_report_commands_need_the_permission(
    *,
    cli: list[str],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    role: str,
    refused: list[str],
) -> None:
    act_as(settings, monkeypatch, f"someone.{role}", role)
    for name in refused:
        assert main([*cli, *NEWLY_GATED[name]]) == 1, name
        error = capsys.readouterr().err
        assert error.startswith(f"error: someone.{role} ({role}) may not "), (name, error)
        assert error.count("\n") == 1, "one line"


def test_nothing_works_anonymously(cli: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    for command in PERSON_COMMANDS:
        assert main([*cli, *command]) == 1, command
        assert capsys.readouterr().err.startswith("error: who is acting? set EVIDOCK_USER"), command


@pytest.mark.parametrize(
    ("key", "value", "fix"),
    [
        ("working_hours", "17:30-08:30", 'use local "HH:MM-HH:MM" with the start first'),
        ("working_hours", "8-17", 'use local "HH:MM-HH:MM"'),
        ("approval_expiry_hours", 0, "use a whole number between 1 and 2160"),
        ("bulk_threshold", "many", "use a whole number between 1 and 100000"),
    ],
)
def test_bad_access_settings_name_the_key_the_value_and_the_fix(key: str, value: object, fix: str) -> None:
    with pytest.raises(ConfigError, match=f"access.{key} = {value!r}: {fix}"):
        settings_mod.parse({"access": {key: value}}, base=Path("/tmp"), source=None, environ={})


def test_access_settings_defaults() -> None:
    access_settings = settings_mod.parse({}, base=Path("/tmp"), source=None, environ={}).access
    assert (access_settings.approval_expiry_hours, access_settings.bulk_threshold) == (72, 20)
    assert str(access_settings.working_start) == "08:30:00"
