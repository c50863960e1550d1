"""The access gate on real recordings in the real S3 server: one ACCESS entry per read, fail closed,
approvals (two persons, expiry, single use), roles, party disclosures, hostile input, and no other path
to the bytes.
"""

from __future__ import annotations

import ast
import json
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import func, select

from access.errors import AccessNotRecorded, NotPermitted
from access.people import Person
from chain.entries import EntryType, decode
from evidock import settings as settings_mod
from evidock.app import open_app, retention_context
from evidock.cli import main
from evidock.keys import init_key
from evidock.settings import Settings
from retention import labelling
from storage import journal, schema
from storage.access_terms import Action, Category, RequestStatus
from storage.errors import StorageError
from storage.journal import Journal
from storage.objects import ObjectStore
from storage.schema import access_grants, log_entries, user_tokens
from tests import media
from tests.conftest import (
    REPO,
    add_people,
    allow_log_writes,
    dock,
    raw_config,
    refuse_log_writes,
    staff,
    station_env,
    write_config,
)

pytestmark = pytest.mark.s3

Act = Callable[[str], None]  # make the CLI act as this user

CASE_A = "京朝公(治)行罚决字[2026]7号"
CASE_B = "京朝公(治)行罚决字[2026]8号"
PEOPLE = staff("P3101")  # root, c1, c2, o1 (officer P3101), a1, s1


@dataclass
class World:
    settings: Settings
    cfg: list[str]
    tmp: Path
    tokens: dict[str, str]
    recordings: list[str]  # 0: 张三+李四 (case A), 1: 李四 (case B), 2: 王五+张三 (case A), 3: unlabelled

    def person(self, name: str) -> Person:
        role, officer = PEOPLE[name]
        return Person(name, role, officer)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, s3_env: dict[str, str]) -> World:
    tmp = tmp_path_factory.mktemp("access")
    (tmp / "inbox").mkdir()
    (tmp / "out").mkdir()
    config = write_config(tmp / "config.toml", raw_config(tmp, f"t-{uuid.uuid4().hex[:20]}", s3_env["S3_ENDPOINT"]))
    settings = settings_mod.load(config, station_env(s3_env))
    ids = []
    vkey, _ = init_key(settings)
    with open_app(settings) as evi:
        evi.log_key(vkey)
        for n in range(4):
            clip = media.clip(
                tmp / "inbox" / f"CAM31_P3101_2026112009{n:02d}00_{n + 1:04d}.mp4",
                seconds=1,
                size="320x240",
                mark=f"gate{n}",
            )
            ids.append(dock(evi, clip))
        ctx = retention_context(evi)
        for rec, case, parties in (
            (ids[0], CASE_A, ["张三", "李四"]),
            (ids[1], CASE_B, ["李四"]),
            (ids[2], CASE_A, ["王五", "张三"]),
        ):
            labelling.label(ctx, [rec], case_number=case, parties=parties, handler="赵六", by="c1", now=evi.now())
    tokens = add_people(settings, PEOPLE)
    return World(settings, ["--config", str(config)], tmp, tokens, ids)


@pytest.fixture
def as_(world: World, monkeypatch: pytest.MonkeyPatch, s3_env: dict[str, str]) -> Act:
    monkeypatch.setenv("EVIDOCK_S3_ACCESS_KEY", s3_env["S3_ACCESS_KEY"])
    monkeypatch.setenv("EVIDOCK_S3_SECRET_KEY", s3_env["S3_SECRET_KEY"])
    monkeypatch.delenv("EVIDOCK_PASSWORD", raising=False)

    def act(name: str) -> None:
        monkeypatch.setenv("EVIDOCK_USER", name)
        monkeypatch.setenv("EVIDOCK_TOKEN", world.tokens[name])

    return act


def _run(world: World, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([*world.cfg, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _log_size(world: World) -> int:
    with open_app(world.settings, ensure_bucket=False) as evi, evi.catalog.read() as conn:
        return journal.size(conn)


def _entries(world: World, start: int, kind: EntryType = EntryType.ACCESS) -> list[tuple[int, object, object, object]]:
    """(index, actor, action, recording) of the entries of ``kind`` from ``start`` on."""
    with open_app(world.settings, ensure_bucket=False) as evi, evi.catalog.read() as conn:
        rows = conn.execute(
            select(log_entries.c.idx, log_entries.c.data)
            .where(log_entries.c.idx >= start, log_entries.c.type == kind.value)
            .order_by(log_entries.c.idx)
        ).all()
    found: list[tuple[int, object, object, object]] = []
    for idx, data in rows:
        entry = decode(bytes(data))
        found.append((int(idx), entry.body.get("actor"), entry.body.get("action"), entry.recording))
    return found


def _approved(world: World, as_: Act, requester: str, recordings: list[str], action: str, **asked: str) -> int:
    """A request by ``requester`` approved by the other custodian (through the gate, not the CLI:
    the CLI of requests and approvals is shown in the approval test); the CLI then acts as ``requester``."""
    act = as_
    with open_app(world.settings, ensure_bucket=False) as evi:
        gate = evi.gate()
        made = gate.request(
            world.person(requester),
            recordings,
            action=Action(action),
            reason=asked.pop("reason", "for a test"),
            category=Category(asked.pop("category", "internal")),
            document_ref=asked.pop("document", None),
            party=asked.pop("party", None),
        )
        assert not asked
        approver = world.person("c2" if requester != "c2" else "c1")
        decided = gate.decide(approver, made.id, approve=True, reason="批准")
        assert decided.status is RequestStatus.APPROVED
        if made.category is Category.PARTY:  # art. 29: the originals only with the approver's statement
            for rec in made.grants:
                evi.redaction_desk().no_third_parties(approver, made.id, rec.recording, statement="无第三人")
    act(requester)
    return made.id


def _counts(world: World) -> dict[str, int]:
    with open_app(world.settings, ensure_bucket=False) as evi, evi.catalog.read() as conn:
        counts = {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in (schema.users, user_tokens, schema.access_requests, access_grants)
        }
        counts["log"] = journal.size(conn)
        counts["used"] = int(
            conn.execute(
                select(func.count()).select_from(access_grants).where(access_grants.c.used_at.is_not(None))
            ).scalar_one()
        )
    return counts


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".evidock-part"))


# -- one ACCESS entry per read ---------------------------------------------------------------


def test_every_read_makes_exactly_one_access_entry(world: World, as_: Act, capsys: pytest.CaptureFixture[str]) -> None:
    act = as_
    rng = random.Random(20261126)  # noqa: S311 - a reproducible test sequence, not a secret
    ops = ["show", "list", "view", "stream", "get", "findings", "timeline", "incidents", "log", "bad", "refused"]
    expected: list[tuple[object, object, object]] = []
    start = _log_size(world)
    outs = world.tmp / "out"
    sequence = ops * 2 + [rng.choice(ops) for _ in range(6)]  # every kind of read, in a random order
    rng.shuffle(sequence)
    for step, op in enumerate(sequence):
        rec = rng.choice(world.recordings)
        reader = rng.choice(["c1", "o1", "a1"])
        if op == "show":
            act(reader)
            code, out, err = _run(world, capsys, "recordings", "show", rec[:10], "--reason", f"step {step}", "--json")
            assert code == 0, err
            assert json.loads(out)["id"] == rec
            expected.append((reader, "metadata", rec))
        elif op == "list":
            act(reader)
            code, out, err = _run(world, capsys, "recordings", "list", "--device", "CAM31", "--json")
            assert code == 0, err
            assert len(json.loads(out)) == 4
            expected.append((reader, "list", None))
        elif op in ("view", "stream"):
            viewer = rng.choice(["c1", "o1"])
            with open_app(world.settings, ensure_bucket=False) as evi:
                content = evi.gate().open_content(
                    world.person(viewer), rec, action=Action(op), reason=f"step {step}: review"
                )
                assert sum(len(c) for c in content.chunks()) > 0
            expected.append((viewer, op, rec))
        elif op == "get":
            requester = rng.choice(["c1", "o1"])
            kind = rng.choice(["copy", "download", "export"])
            number = _approved(world, act, requester, [rec[:12]], kind, reason=f"step {step}")
            target = outs / f"step{step}.mp4"
            code, out, err = _run(
                world, capsys, "recordings", "get", rec[:12], "--request", str(number), "--out", str(target), "--json"
            )
            assert code == 0, err
            assert json.loads(out)["sha256"] == rec
            expected.append((requester, kind, rec))
        elif op in ("findings", "timeline", "incidents", "log"):
            act(reader)
            command = {
                "findings": ["findings", "list", "--json"],
                "timeline": ["timeline", "--device", "CAM31", "--date", "2026-11-20", "--json"],
                "incidents": ["incidents", "--date", "2026-11-20", "--json"],
                "log": ["log", "entry", "1", "--json"],
            }[op]
            code, _, err = _run(world, capsys, *command)
            assert code == 0, err
            expected.append((reader, "query", None))
        elif op == "bad":  # an unknown recording: an error, and no entry
            act(reader)
            code, _, err = _run(world, capsys, "recordings", "show", "0123456789ab")
            assert (code, err) == (1, "error: no recording 0123456789ab\n")
        else:  # refused by role: no entry
            with open_app(world.settings, ensure_bucket=False) as evi, pytest.raises(NotPermitted):
                evi.gate().open_content(world.person("a1"), rec, action=Action.VIEW, reason="curious")
    logged = [(actor, action, rec) for _, actor, action, rec in _entries(world, start)]
    assert logged == expected
    assert {action for _, action, _ in expected} >= {"metadata", "list", "view", "stream", "query"}
    assert _leftovers(outs) == []


def test_reports_are_queries_on_the_record(world: World, as_: Act, capsys: pytest.CaptureFixture[str]) -> None:
    """Deadlines, compliance, alerts and status name recordings, officers and cases: each is logged."""
    start = _log_size(world)
    commands = [["deadlines", "--device", "CAM31"], ["compliance", "--month", "2026-11"], ["alerts"], ["status"]]
    for reader, command in zip(["c1", "a1", "c1", "a1"], commands, strict=True):
        as_(reader)
        code, _, err = _run(world, capsys, *command, "--json")
        assert code == 0, err
    as_("o1")  # an officer has no reports permission: refused, and nothing logged
    code, _, err = _run(world, capsys, "compliance", "--json")
    assert (code, err) == (
        1,
        "error: o1 (officer) may not read deadlines, compliance, alerts and status; "
        "allowed roles: custodian, auditor, legal\n",  # the legal reviewer reads review deadlines
    )
    logged = [(actor, action) for _, actor, action, _ in _entries(world, start)]
    assert logged == [("c1", "query"), ("a1", "query"), ("c1", "query"), ("a1", "query")]
    with open_app(world.settings, ensure_bucket=False) as evi, evi.catalog.read() as conn:
        rows = conn.execute(
            select(log_entries.c.data).where(log_entries.c.idx >= start).order_by(log_entries.c.idx)
        ).scalars()
        bodies = [decode(bytes(data)).body for data in rows]
    # the query itself is on the record, options included
    assert [b["command"] for b in bodies] == ["deadlines", "compliance", "alerts", "status"]
    assert bodies[0]["query"] == {"device": "CAM31", "as_json": "True"}


# -- fail closed -------------------------------------------------------------------------------


def test_a_failing_log_write_serves_no_bytes(
    world: World, as_: Act, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    act = as_
    rec = world.recordings[3]
    number = _approved(world, act, "c1", [rec[:12]], "download", reason="fail-closed test")
    target = world.tmp / "out" / "fail-closed.mp4"
    reads: list[str] = []
    real_stream = ObjectStore._stream

    def counting(store: ObjectStore, version: object) -> Iterator[bytes]:
        reads.append(str(version))
        return real_stream(store, version)  # type: ignore[arg-type]  # the real StoredVersion

    monkeypatch.setattr(ObjectStore, "_stream", counting)
    before = _counts(world)

    # 1. The database refuses every log write (a trigger: a real failure of the catalog, no mock).
    with open_app(world.settings, ensure_bucket=False) as evi, evi.catalog.begin() as conn:
        refuse_log_writes(conn)
    try:
        code, out, err = _run(
            world, capsys, "recordings", "get", rec[:12], "--request", str(number), "--out", str(target)
        )
        assert code == 1
        assert "could not be written to the log, so nothing was read (fail closed)" in err
        assert "disk full" in err
        code, out, err = _run(world, capsys, "recordings", "show", rec[:12])
        assert (code, out) == (1, "")
        assert "fail closed" in err
        with open_app(world.settings, ensure_bucket=False) as evi, pytest.raises(AccessNotRecorded):
            evi.gate().open_content(world.person("o1"), rec, action=Action.STREAM, reason="watch")
    finally:
        with open_app(world.settings, ensure_bucket=False) as evi, evi.catalog.begin() as conn:
            allow_log_writes(conn)

    # 2. The journal itself raises.
    def broken(*_args: object, **_kwargs: object) -> int:
        raise StorageError("catalog transaction failed: disk I/O error")

    monkeypatch.setattr(Journal, "append", broken)
    code, out, err = _run(world, capsys, "recordings", "get", rec[:12], "--request", str(number), "--out", str(target))
    assert code == 1
    assert "fail closed" in err
    monkeypatch.undo()

    assert reads == [], "no object was read"
    assert not target.exists()
    assert _leftovers(target.parent) == []
    assert _counts(world) == before, "nothing changed: the grant is still unused"

    # The log works again: the same approval serves the copy, once.
    act("c1")
    code, out, err = _run(world, capsys, "recordings", "get", rec[:12], "--request", str(number), "--out", str(target))
    assert code == 0, err
    assert target.read_bytes()
    assert _counts(world)["used"] == before["used"] + 1


def test_no_other_path_to_the_bytes() -> None:
    """Object GETs live in storage/objects.py; content for people leaves only through access/gate.py."""
    reads = {"get_object", "fget_object", "_stream", "select_object_content", "presigned_get_object"}
    reads |= {"get_presigned_url", "read_small", "read_into"}
    allowed = {
        "storage/objects.py": reads,
        "access/gate.py": {"_stream"},  # the gate
        "derived/making.py": {"read_into"},  # the original read to derive a file from it; never given to a person
        "storage/checkpoints.py": {"read_small"},  # signed checkpoints: system documents of <= 1 MiB
        "evidock/verify.py": {"read_small"},
    }
    found: list[str] = []
    for package in ("chain", "storage", "access", "cases", "ingest", "retention", "derived", "evidock", "bench"):
        for path in sorted((REPO / package).rglob("*.py")):
            relative = path.relative_to(REPO).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                    continue
                name = node.func.attr
                raw_get = (
                    name in ("_execute", "_url_open")
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and node.args[0].value == "GET"
                    and any(k.arg == "object_name" for k in node.keywords)
                    and not _subresource_query(node)
                )
                if (name in reads or raw_get) and name not in allowed.get(relative, set()):
                    found.append(f"{relative}:{node.lineno}: {name}")
    assert found == []
    # Inside objects.py, only the integrity reads use the stream, and only the stream GETs.
    callers = _callers(REPO / "storage" / "objects.py")
    assert callers["_stream"] == {"read_small", "fixity_sha256", "read_into"}
    assert callers["get_object"] == {"_stream"}


def _subresource_query(node: ast.Call) -> bool:
    """A raw GET of ?retention or ?legal-hold or ?uploads: facts about an object, not its bytes."""
    for keyword in node.keywords:
        if keyword.arg == "query_params" and isinstance(keyword.value, ast.Dict):
            keys = {k.value for k in keyword.value.keys if isinstance(k, ast.Constant)}
            return bool(keys & {"retention", "legal-hold", "uploads", "tagging"})
    return False


def _callers(path: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(function, ast.FunctionDef):
            for node in ast.walk(function):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                    found.setdefault(node.func.attr, set()).add(function.name)
    return found


# -- approvals ------------------------------------------------------------------------------------


def test_self_approval_expired_and_reused_approvals_are_refused(
    world: World, as_: Act, capsys: pytest.CaptureFixture[str]
) -> None:
    act = as_
    rec = world.recordings[1]
    act("c1")
    code, out, err = _run(
        world, capsys, "access", "request", rec[:12], "--action", "copy", "--reason", "trial", "--json"
    )
    assert code == 0, err
    number = str(json.loads(out)["id"])
    before = _counts(world)
    code, _, err = _run(world, capsys, "access", "approve", number, "--reason", "I approve my own")
    assert code == 1
    assert "two-person rule" in err
    assert _counts(world) == before
    # An officer cannot approve either; another custodian can, once.
    act("o1")
    code, _, err = _run(world, capsys, "access", "approve", number, "--reason", "ok")
    assert code == 1
    assert "may not approve or deny access requests" in err
    act("c2")
    assert _run(world, capsys, "access", "approve", number, "--reason", "ok")[0] == 0
    code, _, err = _run(world, capsys, "access", "deny", number, "--reason", "changed my mind")
    assert code == 1
    assert "is approved already; a decision is final" in err
    approvals = _entries(world, before["log"], EntryType.APPROVAL)
    assert [(a[3]) for a in approvals] == [rec]

    # Only the requester may use it, and only for the approved action.
    target = world.tmp / "out" / "approved.mp4"
    code, _, err = _run(world, capsys, "recordings", "get", rec[:12], "--request", number, "--out", str(target))
    assert code == 1
    assert "only the requester may use it" in err
    act("c1")
    code, _, err = _run(
        world, capsys, "recordings", "get", world.recordings[0][:12], "--request", number, "--out", str(target)
    )
    assert code == 1
    assert "is not in request" in err

    # Expired: 73 hours later (approval_expiry_hours = 72), refused before any byte.
    size = _log_size(world)
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=73), tick=False):
        code, _, err = _run(world, capsys, "recordings", "get", rec[:12], "--request", number, "--out", str(target))
    assert code == 1
    assert "expired" in err
    assert not target.exists()
    assert _log_size(world) == size

    # In time: served once; the second use is refused.
    code, out, err = _run(world, capsys, "recordings", "get", rec[:12], "--request", number, "--out", str(target))
    assert code == 0, err
    assert "ACCESS entry" in out
    second = world.tmp / "out" / "again.mp4"
    code, _, err = _run(world, capsys, "recordings", "get", rec[:12], "--request", number, "--out", str(second))
    assert code == 1
    assert "single-use" in err
    assert not second.exists()

    # A denied request serves nothing.
    code, out, err = _run(world, capsys, "access", "request", rec[:12], "--action", "export", "--reason", "x", "--json")
    denied = str(json.loads(out)["id"])
    act("c2")
    assert _run(world, capsys, "access", "deny", denied, "--reason", "no letter")[0] == 0
    act("c1")
    code, _, err = _run(world, capsys, "recordings", "get", rec[:12], "--request", denied, "--out", str(second))
    assert code == 1
    assert "is denied, not approved" in err


def test_a_copy_is_written_atomically_and_never_over_a_file(
    world: World, as_: Act, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    act = as_
    rec = world.recordings[2]
    number = str(_approved(world, act, "o1", [rec[:12]], "download", reason="atomic"))
    target = world.tmp / "out" / "exists.mp4"
    target.write_bytes(b"someone else's file")
    before = _counts(world)
    code, _, err = _run(world, capsys, "recordings", "get", rec[:12], "--request", number, "--out", str(target))
    assert code == 1
    assert "never overwrites" in err
    assert target.read_bytes() == b"someone else's file"
    assert _counts(world) == before, "refused before the gate: no entry, the approval unused"

    # The stored bytes do not match the recording's SHA-256: the temp file goes, no file appears.
    real_stream = ObjectStore._stream

    def tampered(store: ObjectStore, version: object) -> Iterator[bytes]:
        for chunk in real_stream(store, version):  # type: ignore[arg-type]  # the real StoredVersion
            yield chunk[:-1] + bytes([chunk[-1] ^ 1])

    monkeypatch.setattr(ObjectStore, "_stream", tampered)
    fresh = world.tmp / "out" / "tampered.mp4"
    code, _, err = _run(world, capsys, "recordings", "get", rec[:12], "--request", number, "--out", str(fresh))
    assert code == 1
    assert "does not match it" in err
    assert not fresh.exists()
    assert _leftovers(fresh.parent) == []
    monkeypatch.undo()


# -- roles --------------------------------------------------------------------------------------------


def test_an_auditor_reads_the_trail_and_verifies_but_never_content(
    world: World, as_: Act, capsys: pytest.CaptureFixture[str]
) -> None:
    act = as_
    rec = world.recordings[0]
    number = str(_approved(world, act, "c1", [rec[:12]], "copy", reason="auditor test"))
    before = _counts(world)
    act("a1")
    target = world.tmp / "out" / "auditor.mp4"
    code, _, err = _run(world, capsys, "recordings", "get", rec[:12], "--request", number, "--out", str(target))
    assert code == 1
    assert "a1 (auditor) may not ask for and receive copies" in err
    code, _, err = _run(world, capsys, "access", "request", rec[:12], "--action", "copy", "--reason", "look")
    assert code == 1
    assert "may not ask for" in err
    with open_app(world.settings, ensure_bucket=False) as evi:
        for action in (Action.VIEW, Action.STREAM):
            with pytest.raises(NotPermitted, match="may not view or stream recordings"):
                evi.gate().open_content(world.person("a1"), rec, action=action, reason="look")
    assert _counts(world) == before
    assert not target.exists()

    code, out, err = _run(world, capsys, "audit", "access", "--recording", rec[:12], "--json")
    assert code == 0, err
    assert all(r["recording"] in (rec, None) for r in json.loads(out))
    code, out, err = _run(world, capsys, "verify", "--json")
    assert code == 0, out + err
    assert json.loads(out)["ok"] is True

    # Neither a station nor an admin reads recordings.
    for name in ("s1", "root"):
        act(name)
        code, _, err = _run(world, capsys, "recordings", "show", rec[:12])
        assert code == 1
        assert "may not read recordings' metadata" in err


# -- art. 29: the party concerned ----------------------------------------------------------------------


def test_a_party_request_never_returns_third_party_fields(
    world: World, as_: Act, capsys: pytest.CaptureFixture[str]
) -> None:
    act = as_
    mine, theirs, also_mine = world.recordings[0], world.recordings[1], world.recordings[2]
    party = ["--category", "party", "--party", "张三", "--document", "申请书 2026-031", "--reason", "当事人申请"]
    asked = {"category": "party", "party": "张三", "document": "申请书 2026-031", "reason": "当事人申请"}
    act("c1")
    before = _counts(world)
    code, out, err = _run(world, capsys, "access", "request", mine[:12], theirs[:12], "--action", "copy", *party)
    assert code == 1
    assert f"recording {theirs[:12]} is not labelled with the party named" in err
    assert "李四" not in out + err
    assert _counts(world) == before
    code, _, err = _run(
        world,
        capsys,
        "access",
        "request",
        mine[:12],
        "--action",
        "copy",
        "--category",
        "party",
        "--document",
        "x",
        "--reason",
        "no party named",
    )
    assert code == 1
    assert "--party names the party concerned" in err

    outputs = []
    code, out, err = _run(world, capsys, "access", "request", mine[:12], also_mine[:12], "--action", "copy", *party)
    assert code == 0, err
    outputs.append(out + err)
    number = out.split()[1].rstrip(":")
    act("c2")
    code, out, err = _run(
        world, capsys, "access", "approve", number, "--reason", "本人申请, 已核实身份",
        "--no-third-parties", "画面和声音中只有当事人和执法人员",
    )  # fmt: skip
    assert code == 0, err
    outputs.append(out + err)
    act("c1")
    for command in (["access", "show", number, "--json"], ["access", "show", number], ["access", "list"]):
        code, out, err = _run(world, capsys, *command)
        assert code == 0, err
        outputs.append(out + err)
    delivered = []
    for as_json in (True, False):
        if not as_json:  # a second request for the text output: an approval serves each recording once
            number = str(_approved(world, act, "c1", [mine, also_mine], "copy", **asked))
        for rec in (mine, also_mine):
            target = world.tmp / "out" / f"party-{rec[:8]}-{as_json}.mp4"
            args = ["recordings", "get", rec[:12], "--request", number, "--out", str(target)]
            code, out, err = _run(world, capsys, *args, *(["--json"] if as_json else []))
            assert code == 0, err
            outputs.append(out + err)
            if as_json:
                delivered.append(json.loads(out)["disclosed"])
    assert [d["parties"] for d in delivered] == [["张三"], ["张三"]]
    assert {d["case_number"] for d in delivered} == {CASE_A}
    for text in outputs:
        assert "李四" not in text
        assert "王五" not in text
    assert any("张三" in text for text in outputs)

    # The ACCESS entries commit the requester; no name is in the log in clear.
    with open_app(world.settings, ensure_bucket=False) as evi, evi.catalog.read() as conn:
        data = b"".join(bytes(d) for (d,) in conn.execute(select(log_entries.c.data)))
    for name in ("张三", "李四", "王五"):
        assert name.encode() not in data

    # A court, by contrast, gets the whole label.
    number = str(_approved(world, act, "c1", [mine], "copy", category="court", document="(2026)京0105刑初12号"))
    target = world.tmp / "out" / "court.mp4"
    code, out, err = _run(
        world, capsys, "recordings", "get", mine[:12], "--request", number, "--out", str(target), "--json"
    )
    assert code == 0, err
    assert json.loads(out)["disclosed"]["parties"] == ["张三", "李四"]


# -- hostile input ------------------------------------------------------------------------------


def test_hostile_input_gets_a_clear_error_and_changes_nothing(
    world: World, as_: Act, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    act = as_
    rec = world.recordings[0][:12]
    act("c1")
    before = _counts(world)
    huge = "x" * 1_000_000
    cases = [
        (["access", "request", rec, "--action", "copy", "--reason", huge], "reason (事由) is 1000000 characters long"),
        (["recordings", "show", rec, "--reason", huge], "reason (事由) is 1000000 characters long"),
        (["access", "request", rec, "--action", "copy", "--reason", "\x1b[31mred\x07"], "control character U+001B"),
        (
            [
                "access",
                "request",
                rec,
                "--action",
                "copy",
                "--category",
                "court",
                "--reason",
                "r",
                "--document",
                "abc\u202edcba",
            ],
            "control character U+202E",
        ),
        (["access", "request", rec, "--action", "copy", "--reason", "   "], "reason (事由) is empty"),
        (["access", "request", "abcdef123456", "--action", "copy", "--reason", "r"], "no recording abcdef123456"),
        (
            ["access", "request", "x'; DROP TABLE access_requests; --", "--action", "copy", "--reason", "r"],
            "is not valid: give the SHA-256",
        ),
        (["recordings", "show", "1' OR '1'='1"], "is not valid: give the SHA-256"),
        (["access", "request", rec, "--action", "view", "--reason", "r"], "--action 'view' is not one of"),
        (["access", "request", rec, "--action", "copy", "--category", "press", "--reason", "r"], "--category 'press'"),
        (["access", "request", rec, "--action", "copy", "--category", "lawyer", "--reason", "r"], "律师调查令"),
        (["access", "approve", "999999", "--reason", "r"], "no access request 999999"),
        (["access", "show", "999999"], "no access request 999999"),
        (["audit", "access", "--since", "yesterday'; --"], "is not a date or time"),
        (["users", "add", "x", "--role", "admin' OR 1=1"], "is unknown: use one of"),
    ]
    for args, message in cases:
        code, out, err = _run(world, capsys, *args)
        assert code == 1, args
        assert out == ""
        assert err.startswith("error: "), err[:200]
        assert err.count("\n") == 1, err[:200]
        assert len(err) < 400, "the error never echoes the hostile text"
        assert message in err, (args[:3], err)
    monkeypatch.setenv("EVIDOCK_USER", "admin' OR '1'='1")
    code, _, err = _run(world, capsys, "recordings", "show", rec)
    assert code == 1
    assert "is unknown or disabled" in err
    assert _counts(world) == before

    # SQL-looking text where text belongs is just text: stored verbatim, nothing executed.
    act("c1")
    sql = "'); DROP TABLE access_requests; --"
    code, out, err = _run(world, capsys, "access", "request", rec, "--action", "copy", "--reason", sql, "--json")
    assert code == 0, err
    assert json.loads(out)["reason"] == sql
    after = _counts(world)
    assert after["access_requests"] == before["access_requests"] + 1
    assert after["log"] == before["log"] + 1  # its REQUEST entry, the reason in it verbatim
