"""People and roles: the first admin, users managed by admins only, argon2id passwords, hashed tokens.

A command run by a person needs ``EVIDOCK_USER`` and ``EVIDOCK_TOKEN``; tests act
as someone with ``tests.conftest.act_as``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, func, select

from access.errors import NotPermitted
from access.people import Person, Role, add_user, disable_user, issue_token, list_users, set_role
from chain.entries import Entry, EntryType, JsonValue, decode, format_time
from chain.errors import EntryError
from evidock import settings as settings_mod
from evidock.app import App, open_app
from evidock.cli import main
from evidock.keys import init_key
from evidock.settings import ConfigError, Settings
from storage import journal, schema
from storage.journal import Journal
from storage.schema import log_entries, metadata
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
        stored = conn.execute(select(schema.users.c.password_hash).where(schema.users.c.name == "li")).scalar_one()
        digests = list(conn.execute(select(schema.user_tokens.c.digest)).scalars())
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert "correct horse" not in stored
    assert token not in digests
    assert len(digests) == 1
    if settings.database_url.startswith("sqlite:///"):
        database = Path(settings.database_url.removeprefix("sqlite:///"))
        for path in database.parent.glob(database.name + "*"):  # the file and its WAL
            assert token.encode() not in path.read_bytes()
    with open_app(settings, ensure_bucket=False) as evi, evi.catalog.read() as conn:  # every row of every table
        for table in metadata.sorted_tables:
            assert all(token not in repr(tuple(row)) for row in conn.execute(select(table))), table.name

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


# -- user changes are in the log (USER entries, docs/log-format.md §2.4) ----------------------------


def _log_state(evi: App) -> tuple[int, int]:
    """The log's size and the number of ``user_events`` rows."""
    with evi.catalog.read() as conn:
        events = conn.execute(select(func.count()).select_from(schema.user_events)).scalar_one()
        return journal.size(conn), int(events)


def _changes_since(evi: App, state: tuple[int, int]) -> tuple[list[Entry], list[dict[str, Any]]]:
    """The log entries and ``user_events`` rows written after ``state``."""
    size, events = state
    with evi.catalog.read() as conn:
        data = conn.execute(select(log_entries.c.data).where(log_entries.c.idx >= size).order_by(log_entries.c.idx))
        rows = conn.execute(select(schema.user_events).order_by(schema.user_events.c.id).offset(events))
        return [decode(bytes(d)) for (d,) in data], [dict(r._mapping) for r in rows]


def test_every_user_change_is_one_user_entry_in_the_same_transaction(settings: Settings) -> None:
    moments = iter(datetime(2026, 11, 26, 1, minute, 7, 250_000, tzinfo=UTC) for minute in range(10))
    admin = Person("root", Role.ADMIN)
    with open_app(settings, ensure_bucket=False) as evi:

        def change(write: Callable[[Connection, datetime], object], body: dict[str, JsonValue]) -> None:
            """``write`` appends exactly one USER entry with ``body`` and one matching ``user_events`` row."""
            state, now = _log_state(evi), next(moments)
            with evi.catalog.begin() as conn:
                write(conn, now)
            (entry,), (row,) = _changes_since(evi, state)
            assert entry.type is EntryType.USER
            assert (entry.recording, entry.prev, entry.station) == (None, None, settings.station_id)
            assert entry.body["event_id"] == row["id"]  # the entry names its row: verify matches the two
            assert {k: v for k, v in entry.body.items() if k != "event_id"} == body
            assert entry.time == format_time(now)  # the event time is the entry time
            assert row["time"] == now
            assert (row["actor"], row["user"], row["event"], row["detail"]) == (
                body["actor"],
                body["user"],
                body["action"],
                body["detail"],
            )

        j = evi.journal
        change(
            lambda conn, now: add_user(conn, journal=j, actor=None, name="root", role=Role.ADMIN, time=now),
            {
                "action": "add",
                "user": "root",
                "actor": "(bootstrap)",
                "role": "admin",
                "detail": "role=admin",
                "officer_id": None,
                "display_name": None,
            },
        )
        change(
            lambda conn, now: add_user(
                conn, journal=j, actor=admin, name="王五", role=Role.CUSTODIAN, officer_id="P1001", time=now
            ),
            {
                "action": "add",
                "user": "王五",
                "actor": "root",
                "role": "custodian",
                "detail": "role=custodian, officer id P1001",
                "officer_id": "P1001",
                "display_name": None,
            },
        )
        change(
            lambda conn, now: issue_token(conn, journal=j, actor=admin, name="王五", time=now),
            {
                "action": "token",
                "user": "王五",
                "actor": "root",
                "role": "custodian",
                "detail": "new API token",
                "token_id": 1,  # the user_tokens row, never the token
            },
        )
        change(
            lambda conn, now: set_role(conn, journal=j, actor=admin, name="王五", role=Role.ADMIN, time=now),
            {"action": "set-role", "user": "王五", "actor": "root", "role": "admin", "detail": "custodian -> admin"},
        )
        change(
            lambda conn, now: disable_user(
                conn, journal=j, actor=admin, name="王五", reason="transferred to another unit", time=now
            ),
            {
                "action": "disable",
                "user": "王五",
                "actor": "root",
                "role": "admin",
                "detail": "transferred to another unit",
            },
        )

        # A refused change writes neither the event row nor an entry: root is the last active admin now.
        state = _log_state(evi)
        with pytest.raises(NotPermitted, match="last active admin"), evi.catalog.begin() as conn:
            set_role(conn, journal=j, actor=admin, name="root", role=Role.CUSTODIAN, time=next(moments))
        with pytest.raises(NotPermitted, match="last active admin"), evi.catalog.begin() as conn:
            disable_user(conn, journal=j, actor=admin, name="root", reason="test", time=next(moments))
        assert _changes_since(evi, state) == ([], [])

        # The entry fails after the change and its event row were written: all of it rolls back.
        with pytest.raises(EntryError, match="station"), evi.catalog.begin() as conn:
            add_user(conn, journal=Journal(""), actor=admin, name="zhao", role=Role.OFFICER, time=next(moments))
        assert _changes_since(evi, state) == ([], [])
        with evi.catalog.read() as conn:
            assert [u.name for u in list_users(conn)] == ["root", "王五"]


def test_no_token_reaches_the_log_and_a_log_with_user_entries_verifies(
    cli: list[str], settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    vkey, _ = init_key(settings)
    with open_app(settings) as evi:  # makes the bucket the checkpoints go to
        evi.log_key(vkey)
    assert main([*cli, "users", "add", "root", "--role", "admin", "--json"]) == 0
    tokens = [str(_json(capsys)["token"])]
    use(monkeypatch, "root", tokens[0])
    assert main([*cli, "users", "add", "zhao", "--role", "officer", "--json"]) == 0
    tokens.append(str(_json(capsys)["token"]))
    assert main([*cli, "log", "checkpoint", "--new"]) == 0
    capsys.readouterr()
    assert main([*cli, "users", "token", "zhao", "--json"]) == 0
    tokens.append(str(_json(capsys)["token"]))
    assert main([*cli, "users", "set-role", "zhao", "auditor"]) == 0
    assert main([*cli, "users", "disable", "zhao", "--reason", "left the unit"]) == 0
    capsys.readouterr()

    with open_app(settings, ensure_bucket=False) as evi, evi.catalog.read() as conn:
        logged = [bytes(d) for (d,) in conn.execute(select(log_entries.c.data).order_by(log_entries.c.idx))]
        details = list(conn.execute(select(schema.user_events.c.detail)).scalars())
    users = [decode(d) for d in logged if decode(d).type is EntryType.USER]
    # The CLI's `users add` issues the new user's token in the same transaction: add, then token.
    assert [(e.body["action"], e.body["user"], e.body["actor"], e.body["role"]) for e in users] == [
        ("add", "root", "(bootstrap)", "admin"),
        ("token", "root", "(bootstrap)", "admin"),
        ("add", "zhao", "root", "officer"),
        ("token", "zhao", "root", "officer"),
        ("token", "zhao", "root", "officer"),
        ("set-role", "zhao", "root", "auditor"),
        ("disable", "zhao", "root", "auditor"),
    ]
    for token in tokens:
        digest = hashlib.sha256(token.encode()).digest()
        for secret in (token, digest.hex(), digest.hex().upper(), base64.b64encode(digest).decode()):
            assert not any(secret.encode() in data for data in logged)
            assert not any(secret in detail for detail in details)
        assert not any(digest in data for data in logged)

    # `evidock verify` over a log holding USER entries (some after the last checkpoint), run by the admin.
    assert main([*cli, "verify", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert report["checked"]["entries"] == len(logged)
