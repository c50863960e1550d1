"""The catalog as a projection of the log: complete by construction, and every proven column tamper-checked.

One real station (real S3 server, real ffmpeg clips, SQLite) is built once with
at least one row in every projected table. Then each proven column of each
projected table (read from ``storage.projection.PROJECTED``, so a new column is
a new case here) is changed in a copy of the catalog, as someone with database
access would, and ``evidock verify`` must name the table and the column.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import JSON, BigInteger, Boolean, Date, Integer, String, Text, func, select

from access.people import Person, Role, add_user, disable_user, issue_token, set_role
from chain.entries import EntryType
from evidock import settings as settings_mod
from evidock.app import App, checkpointer_for, open_app, retention_context
from evidock.keys import init_key
from evidock.settings import Settings
from evidock.verify import verify
from evidock.verify_report import Report
from ingest.checking import add_clock_report, explain
from ingest.clock import ClockReport
from ingest.pipeline import Pipeline
from ingest.watcher import look
from retention import evidence, labelling, lifecycle
from retention.purge import purge
from storage import findings as findings_db
from storage import journal, schema
from storage.access_terms import Action, Category
from storage.projection import NOT_PROJECTED, PROJECTED, unclassified
from storage.schema import UTCDateTime, log_entries, metadata
from tests import media
from tests.cases.world import decisions_through_every_step
from tests.conftest import raw_config, sqlite_only, station_env, write_config
from tests.test_retention_labels import ingest

pytestmark = pytest.mark.s3

CASE = "京朝公(治)行罚决字[2026]31号"


@dataclass
class World:
    settings: Settings
    vkey: str
    db: Path
    kept: str  # labelled, evidence set and released, its case closed and done
    purged: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, s3_env: dict[str, str]) -> World:
    return make_world(tmp_path_factory.mktemp("projection"), s3_env)


def make_world(tmp: Path, s3_env: dict[str, str], *, since_migrations: bool = True) -> World:
    """A station with a row in every projected table (also the catalog ``tests/test_migrations.py`` upgrades).

    ``since_migrations=False`` leaves out what evidock learnt after the baseline migration (case decisions,
    derived files), so the world is one a pre-migration evidock could have made.
    """
    (tmp / "inbox").mkdir()
    config = write_config(tmp / "config.toml", raw_config(tmp, f"t-{uuid.uuid4().hex[:20]}", s3_env["S3_ENDPOINT"]))
    settings = settings_mod.load(config, station_env(s3_env))
    vkey, _ = init_key(settings)
    with open_app(settings) as evi:
        evi.log_key(vkey)
        kept = ingest(evi, tmp, "CAM01_P1001_20250110080000_0001.mp4", retain_for=timedelta(seconds=1))
        purged = ingest(evi, tmp, "CAM01_P1001_20250110090000_0002.mp4", retain_for=timedelta(seconds=1))
        ctx = retention_context(evi)
        now = datetime.now(UTC)
        labelling.label(ctx, [kept], case_number=CASE, parties=["张三", "王五"], handler="李四", by="c", now=now)
        evidence.add(ctx, [kept], case_number=CASE, period="30", by="c", now=now)
        evidence.release(ctx, kept, reason="判决生效", by="c", approved_by="d", now=now)
        lifecycle.close(ctx, CASE, closed_on=date(2025, 3, 1), by="c", now=now)
        lifecycle.done(ctx, CASE, case_file_on=date(2025, 3, 10), archived_on=None, by="c", now=now)
        docked = datetime(2025, 1, 10, 1, 0, 5, 250_000, tzinfo=UTC)
        report = ClockReport(device="CAM01", device_time=docked + timedelta(seconds=5), station_time=docked)
        with evi.catalog.begin() as conn:
            add_clock_report(
                conn,
                evi.journal,
                report,
                station=settings.station_id,
                source="cli",
                by="c",
                now=evi.now(),
                options=settings.checks,
            )
            first = findings_db.listing(conn, open_only=True)[0]
            explain(conn, evi.journal, first.id, text="电池更换", author="li.si", now=evi.now())
        _people(evi)
        _requests_and_a_search(evi, tmp, kept, purged)
        if since_migrations:
            decisions_through_every_step(evi, CASE, kept)
            _derived_files(evi, tmp, kept)
        time.sleep(1.2)  # the one-second locks pass on the server's own clock
        purge(ctx, now=datetime.now(UTC) + timedelta(days=100), apply=True)
        checkpointer_for(evi).make(evi.now())
    return World(settings, vkey, Path(settings.database_url.removeprefix("sqlite:///")), kept, purged)


def _people(evi: App) -> None:
    """Users added (the first by the bootstrap), a role changed, tokens issued, a user disabled (tokens revoked)."""
    admin = Person("root", Role.ADMIN)
    with evi.catalog.begin() as conn:
        j = evi.journal
        add_user(conn, journal=j, actor=None, name="root", role=Role.ADMIN, display_name="王管理", time=evi.now())
        for name, role, officer in (
            ("c1", Role.CUSTODIAN, None),
            ("c2", Role.CUSTODIAN, None),
            ("x1", Role.OFFICER, "P1001"),
        ):
            add_user(conn, journal=j, actor=admin, name=name, role=role, officer_id=officer, time=evi.now())
            issue_token(conn, journal=j, actor=admin, name=name, time=evi.now())
        set_role(conn, journal=j, actor=admin, name="x1", role=Role.AUDITOR, time=evi.now())
        disable_user(conn, journal=j, actor=admin, name="x1", reason="调离", time=evi.now())


def _requests_and_a_search(evi: App, tmp: Path, kept: str, purged: str) -> None:
    """A request approved and used (a download), one left pending (a party's), and a search listing two recordings."""
    gate = evi.gate()
    c1, c2 = Person("c1", Role.CUSTODIAN), Person("c2", Role.CUSTODIAN)
    used = gate.request(
        c1,
        [kept],
        action=Action.DOWNLOAD,
        reason="法院调取",
        category=Category.COURT,
        document_ref="(2026)京0105刑初31号",
        requester="北京市朝阳区人民法院 张法官",
    )
    gate.decide(c2, used.id, approve=True, reason="负责人批准")
    gate.download(c1, kept, request_id=used.id, out=tmp / "copy.mp4")
    gate.request(
        c1,
        [kept],
        action=Action.COPY,
        reason="当事人申请",
        category=Category.PARTY,
        document_ref="申请书1号",
        party="张三",
    )
    gate.record_listing(
        c1, command="recordings list", query={"device": "CAM01"}, recordings=[kept, purged], reason="查找录像"
    )
    gate.read_metadata(c1, kept, reason="核对")  # the listing's entry is not the last: a moved row lands on another


def _derived_files(evi: App, tmp: Path, kept: str) -> None:
    """A playback proxy (of an HEVC recording) and a redacted copy (of ``kept``, for the party's pending request)."""
    clip = media.hevc_clip(tmp / "inbox" / "CAM02_P1002_20250110100000_0001.mp4", seconds=1, mark=str(tmp))
    file = look(clip.parent, clip, ())
    assert file is not None
    kept_long = replace(evi.pipeline().options, retain_until=lambda _end: datetime.now(UTC) + timedelta(days=200))
    Pipeline(store=evi.store, catalog=evi.catalog, journal=evi.journal, options=kept_long).ingest(file)  # not purged
    assert evi.proxy_worker().run() == 1
    c1, c2 = Person("c1", Role.CUSTODIAN), Person("c2", Role.CUSTODIAN)
    with evi.catalog.read() as conn:
        party = conn.execute(select(schema.access_requests.c.id).where(schema.access_requests.c.party.is_not(None)))
        request = int(party.scalar_one())
    desk = evi.redaction_desk()
    spec = {
        "audio": [{"from_ms": 0, "to_ms": 500, "sound": "mute"}],
        "video": [{"from_ms": 0, "to_ms": 500, "box": [8, 8, 32, 32]}],
    }
    draft = desk.new(c1, kept, spec, reason="遮挡路人", request=request)
    desk.submit(c1, draft.id)
    desk.decide(c2, draft.id, approve=True, reason="已核对")
    desk.render(c1, draft.id)


def _verify_copy(world: World, tmp_path: Path, tamper: str, *params: object) -> Report:
    """``tamper`` (SQL) run on a copy of the catalog, as a database user would (no foreign keys), then verify."""
    copy = tmp_path / "tampered.db"
    with sqlite3.connect(world.db) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with sqlite3.connect(copy) as raw:
        changed = raw.execute(tamper, params).rowcount
    assert changed == 1, f"the tampering {tamper!r} changed {changed} rows"
    settings = replace(world.settings, database_url=f"sqlite:///{copy}")
    with open_app(settings, ensure_bucket=False) as evi:
        return verify(evi, world.vkey)


def test_the_untouched_world_verifies_and_fills_every_projected_table(world: World) -> None:
    with open_app(world.settings, ensure_bucket=False) as evi:
        report = verify(evi, world.vkey)
        with evi.catalog.read() as conn:
            counts = {
                p.table.name: conn.execute(select(func.count()).select_from(p.table)).scalar_one() for p in PROJECTED
            }
    assert report.ok, report.failures
    assert all(counts.values()), f"every projected table needs a row for the tamper suite: {counts}"
    assert report.checked["catalog_rows"] >= sum(counts.values()) - counts["access_results"]  # results: by digest
    people = {name: counts[name] for name in ("users", "user_tokens", "user_events")}
    assert people == {"users": 4, "user_tokens": 3, "user_events": 9}  # 4 added, 3 tokens, a role set, a disable
    assert {name: counts[name] for name in ("access_requests", "access_grants")} == {
        "access_requests": 2,
        "access_grants": 2,
    }
    assert counts["access_results"] >= 1  # one search, proven by its entry's count and SHA-256


def test_every_table_and_column_has_a_place_in_the_projection() -> None:
    """A new table or column fails here until it is proven from an entry or declared operational (with why)."""
    assert unclassified() == []
    names = {t.name for t in metadata.sorted_tables}
    assert {p.table.name for p in PROJECTED} | set(NOT_PROJECTED) == names
    assert not {p.table.name for p in PROJECTED} & set(NOT_PROJECTED)
    for projected in PROJECTED:
        assert set(projected.key) <= set(projected.proven), f"{projected.table.name}: the key must be proven"


def _forged(column: object, current: object) -> object:
    """A different value of the column's kind, as SQLite holds it."""
    kind = column.type  # type: ignore[attr-defined]
    if isinstance(kind, UTCDateTime):
        return "2001-02-03 04:05:06.000000"
    if isinstance(kind, Date):
        return "2001-02-03"
    if isinstance(kind, JSON):
        value = json.loads(current) if isinstance(current, str) else None
        if isinstance(value, dict):
            return json.dumps(value | {"forged": 1})
        return json.dumps([*(value if isinstance(value, list) else []), "forged"])
    if isinstance(kind, Integer | BigInteger | Boolean):  # far enough not to take another row's number (ids are unique)
        number = current if isinstance(current, int) else 0
        return 1 - number if isinstance(kind, Boolean) else number + 1000
    assert isinstance(kind, String | Text), f"no forgery for {kind!r}: add one"
    return f"{current or ''}X"


CASES = [(p.table.name, column, column in p.key) for p in PROJECTED for column in p.proven]
DIGESTED = {p.table.name: p.key[0] for p in PROJECTED if p.digested}  # table -> the column naming its entry


@sqlite_only  # the tampering is SQL on a copy of the SQLite file; verify reads every database alike
@pytest.mark.parametrize(("table", "column", "is_key"), CASES, ids=[f"{t}.{c}" for t, c, _ in CASES])
def test_a_changed_column_is_named_by_verify(
    world: World, tmp_path: Path, table: str, column: str, is_key: bool
) -> None:
    with sqlite3.connect(world.db) as raw:
        raw.row_factory = sqlite3.Row
        row = raw.execute(f'SELECT rowid AS tampered_rowid, * FROM "{table}" ORDER BY rowid LIMIT 1').fetchone()  # noqa: S608  # names from the schema
    forged = _forged(metadata.tables[table].c[column], row[column])
    tamper = f'UPDATE "{table}" SET "{column}" = ? WHERE rowid = ?'  # noqa: S608  # names from the schema
    report = _verify_copy(world, tmp_path, tamper, forged, row["tampered_rowid"])
    named = [f for f in report.failures if f.subject.startswith(f"{table} ")]
    if table in DIGESTED:  # its entry proves the rows as a whole: the entry's rows (and any it was moved to) differ
        group = DIGESTED[table]
        touched = {row[group], forged if column == group else row[group]}
        assert {f.subject for f in named} == {f"{table} {group}={g}" for g in touched}, report.failures
    elif is_key:  # the row no longer matches its entry: one row missing, one unexplained
        assert {f.check for f in named} >= {"catalog_row_missing", "catalog_row_unexplained"}, report.failures
    else:
        assert any(f.check == "catalog_mismatch" and f", column {column}:" in f.message for f in named), report.failures


@sqlite_only
def test_a_deleted_label_row_is_named(world: World, tmp_path: Path) -> None:
    report = _verify_copy(world, tmp_path, "DELETE FROM labels WHERE recording = ?", world.kept)
    (failure,) = [f for f in report.failures if f.subject.startswith("labels ")]
    assert failure.check == "catalog_row_missing"
    assert "says this row exists" in failure.message


@sqlite_only
def test_a_deleted_clock_report_is_named(world: World, tmp_path: Path) -> None:
    report = _verify_copy(world, tmp_path, "DELETE FROM clock_reports")
    assert [f.check for f in report.failures if f.subject.startswith("clock_reports ")] == ["catalog_row_missing"]


@sqlite_only
def test_a_forged_label_row_no_entry_made_is_named(world: World, tmp_path: Path) -> None:
    report = _verify_copy(
        world,
        tmp_path,
        "INSERT INTO labels (recording, case_number, parties, handler, labelled_by, labelled_at, entry) "
        "VALUES (?, 'forged', '[]', 'x', 'x', '2026-01-01 00:00:00.000000', 9999)",
        world.purged,
    )
    assert ("catalog_row_unexplained", "labels entry=9999") in {(f.check, f.subject) for f in report.failures}


@sqlite_only
def test_a_party_name_changed_is_caught_without_printing_it(world: World, tmp_path: Path) -> None:
    report = _verify_copy(world, tmp_path, """UPDATE labels SET parties = '["赵六", "王五"]'""")
    (failure,) = [f for f in report.failures if f.subject.startswith("labels ")]
    assert ", column parties:" in failure.message
    assert "赵六" not in failure.message
    assert "names withheld" in failure.message


def test_the_log_entries_hold_what_the_new_columns_need(world: World) -> None:
    """CLOCK and CASE entries exist and carry their facts (the timeline and the case dates rest on them)."""
    with open_app(world.settings, ensure_bucket=False) as evi, evi.catalog.read() as conn:
        kinds = [journal.entry_at(conn, i).type for i in range(journal.size(conn))]
    assert kinds.count(EntryType.CLOCK) == 1
    assert kinds.count(EntryType.CASE) == 2


def test_a_request_is_logged_when_made_and_names_stay_committed(world: World) -> None:
    """One REQUEST entry per recording asked for, naming the request; requester and party only as commitments."""
    with open_app(world.settings, ensure_bucket=False) as evi, evi.catalog.read() as conn:
        logged = [journal.entry_at(conn, i) for i in range(journal.size(conn))]
        numbers = sorted(conn.execute(select(schema.access_requests.c.id)).scalars())
        raw = b"".join(bytes(d) for d in conn.execute(select(log_entries.c.data)).scalars())
    asked = [e for e in logged if e.type is EntryType.REQUEST]
    assert sorted(int(str(e.body["request"])) for e in asked) == numbers
    assert {e.recording for e in asked} == {world.kept}
    assert all(str(e.body["requester"]).startswith("sha256:") for e in asked)
    assert [str(e.body["party"])[:7] for e in asked].count("sha256:") == 1  # the party request only
    assert "法院调取".encode() in raw  # the reason is in clear: the search below can find text
    for name in ("北京市朝阳区人民法院", "张三", "王管理"):
        assert name.encode() not in raw


@sqlite_only
def test_a_token_added_in_the_database_alone_is_named(world: World, tmp_path: Path) -> None:
    """Someone with database access gives themself a token: no USER entry issued it."""
    report = _verify_copy(
        world,
        tmp_path,
        "INSERT INTO user_tokens (user, digest, created_at, created_by) "
        "VALUES ('c1', ?, '2026-01-01 00:00:00.000000', 'root')",
        "0" * 64,
    )
    named = [(f.check, f.subject) for f in report.failures if f.subject.startswith("user_tokens ")]
    assert named == [("catalog_row_unexplained", "user_tokens id=4")]


@sqlite_only
def test_a_role_raised_in_the_database_alone_is_named(world: World, tmp_path: Path) -> None:
    report = _verify_copy(world, tmp_path, "UPDATE users SET role = 'admin' WHERE name = 'c1'")
    (failure,) = report.failures
    assert (failure.check, failure.subject) == ("catalog_mismatch", "users name=c1")
    assert "column role: the catalog has 'admin', entry" in failure.message
    assert failure.message.endswith("says 'custodian'")


@sqlite_only
def test_a_requester_changed_is_caught_without_printing_it(world: World, tmp_path: Path) -> None:
    report = _verify_copy(
        world, tmp_path, "UPDATE access_requests SET requester = '李律师' WHERE requester IS NOT NULL AND party IS NULL"
    )
    (failure,) = report.failures
    assert ", column requester:" in failure.message
    assert "李律师" not in failure.message
    assert "names withheld" in failure.message


@sqlite_only
def test_a_party_added_where_the_entry_has_none_is_caught_without_printing_it(world: World, tmp_path: Path) -> None:
    report = _verify_copy(world, tmp_path, "UPDATE access_requests SET party = '李四' WHERE party IS NULL")
    (failure,) = report.failures
    assert ", column party: the catalog has '(names withheld" in failure.message
    assert "李四" not in failure.message
    assert failure.message.endswith("says None")


@sqlite_only
def test_the_results_of_a_search_deleted_are_named(world: World, tmp_path: Path) -> None:
    with sqlite3.connect(world.db) as raw:
        (listing,) = {e for (e,) in raw.execute("SELECT entry FROM access_results")}
    report = _verify_copy(world, tmp_path, "DELETE FROM access_results WHERE recording = ?", world.kept)
    (failure,) = report.failures
    assert (failure.check, failure.subject) == ("catalog_mismatch", f"access_results entry={listing}")
    assert "column recording: the catalog has '1 rows" in failure.message
    assert "says '2 rows" in failure.message
