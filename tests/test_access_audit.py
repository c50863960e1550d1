"""The audit trail and its anomalies, on a planted data set of accesses to real recordings.

The accesses go through the gate with a controlled clock (a Tuesday and a
Saturday in November 2026); one is appended behind the gate's back, as only
tampering could. `evidock audit anomalies` must find each planted anomaly and
nothing else.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from access.audit import AccessRow, AnomalyFacts, AnomalyKind, ApprovalFact, find_anomalies
from access.gate import Gate
from access.people import Person, Role
from chain.entries import EntryType
from evidock import settings as settings_mod
from evidock.app import checkpointer_for, open_app, retention_context, working_calendar
from evidock.cli import main
from evidock.keys import init_key
from evidock.settings import Settings
from retention import evidence, labelling
from storage.access_terms import Action, Category
from tests import media
from tests.conftest import add_person, dock, raw_config, station_env, write_config

SHANGHAI = ZoneInfo("Asia/Shanghai")
CASE_A = "京朝公(治)行罚决字[2026]21号"
CASE_B = "京朝公(治)行罚决字[2026]22号"
PEOPLE = {
    "c1": Person("c1", Role.CUSTODIAN),
    "c2": Person("c2", Role.CUSTODIAN),
    "o1": Person("o1", Role.OFFICER, "P4101"),  # recorded every recording of this data set
    "o2": Person("o2", Role.OFFICER, "P4999"),
    "a1": Person("a1", Role.AUDITOR),
}


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


@dataclass
class Planted:
    settings: Settings
    cfg: list[str]
    recordings: list[str]
    token: str  # the auditor's
    entries: dict[str, int]  # name of a planted access -> its log index
    bulk: list[int]


class Clock:
    def __init__(self) -> None:
        self.now = local(17, 9)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory, s3_env: dict[str, str]) -> Planted:
    tmp = tmp_path_factory.mktemp("audit")
    (tmp / "inbox").mkdir()
    raw = raw_config(tmp, f"t-{uuid.uuid4().hex[:20]}", s3_env["S3_ENDPOINT"], access={"bulk_threshold": 3})
    config = write_config(tmp / "config.toml", raw)
    settings = settings_mod.load(config, station_env(s3_env))
    calendar = working_calendar(settings)
    assert calendar.is_working_day(local(17, 9).date())
    assert not calendar.is_working_day(local(21, 10).date())  # a Saturday
    tokens = {name: add_person(settings, name, p.role, officer_id=p.officer_id) for name, p in PEOPLE.items()}
    vkey, _ = init_key(settings)
    clock = Clock()
    at: dict[str, int] = {}
    with open_app(settings) as evi:
        evi.log_key(vkey)
        ids = []
        for n in range(5):
            clip = media.clip(
                tmp / "inbox" / f"CAM41_P4101_2026111608{n:02d}00_{n + 1:04d}.mp4",
                seconds=1,
                size="320x240",
                mark=f"a{n}",
            )
            ids.append(dock(evi, clip))
        ctx = retention_context(evi)
        labelling.label(ctx, ids[:2], case_number=CASE_A, parties=["张三"], handler="c1", by="c1", now=local(16, 9))
        labelling.label(ctx, [ids[2]], case_number=CASE_B, parties=["李四"], handler="c1", by="c1", now=local(16, 9))
        evidence.add(ctx, [ids[0]], case_number=CASE_A, period="1", by="c1", now=local(16, 10))

        gate = Gate(catalog=evi.catalog, journal=evi.journal, store=evi.store, clock=clock)

        def metadata(name: str, who: str, rec: int, when: datetime) -> None:
            clock.now = when
            at[name] = gate.read_metadata(PEOPLE[who], ids[rec], reason="case review").entry

        def view(name: str, who: str, rec: int, when: datetime) -> None:
            clock.now = when
            content = gate.open_content(PEOPLE[who], ids[rec], action=Action.VIEW, reason="case review")
            assert b"".join(content.chunks())
            at[name] = content.entry

        def approved(name: str, rec: int, action: Action, when: datetime, **asked: str) -> None:
            clock.now = when
            made = gate.request(
                PEOPLE["c1"],
                [ids[rec]],
                action=action,
                reason="court evidence",
                category=Category(asked.get("category", "internal")),
                document_ref=asked.get("document"),
            )
            clock.now = when + timedelta(minutes=5)
            gate.decide(PEOPLE["c2"], made.id, approve=True, reason="approved by the head (负责人)")
            clock.now = when + timedelta(minutes=10)
            at[name] = gate.download(PEOPLE["c1"], ids[rec], request_id=made.id, out=tmp / f"{name}.mp4").entry

        metadata("normal metadata", "c1", 1, local(17, 9))
        clock.now = local(17, 9, 5)
        at["normal list"] = gate.record_listing(
            PEOPLE["c1"], command="recordings list", query={"device": "CAM41"}, recordings=ids[1:3], reason="search"
        )
        view("normal view", "o2", 2, local(17, 9, 10))
        metadata("own, not evidence", "o1", 1, local(17, 9, 20))
        view("own evidence", "o1", 0, local(17, 9, 30))
        approved("approved download", 1, Action.DOWNLOAD, local(17, 10))
        for n in range(4):
            metadata(f"bulk {n}", "o2", n, local(17, 11, 5 * n))
        # Behind the gate's back: a download with no approval, appended straight to the log.
        with evi.catalog.begin() as conn:
            at["no approval"] = evi.journal.append(
                conn,
                EntryType.ACCESS,
                recording=ids[4],
                body={
                    "actor": "o2",
                    "role": "officer",
                    "action": "download",
                    "reason": "just looking",
                    "approver": "c2",
                    "requester_category": "internal",
                    "document_ref": None,
                },
                time=local(17, 13),
            )
        approved("export", 4, Action.EXPORT, local(17, 14), category="court", document="(2026)京0105刑初31号")
        metadata("late evening", "c2", 3, local(17, 22, 15))
        metadata("saturday", "c1", 2, local(21, 10))
        checkpointer_for(evi).make(evi.now())
    bulk = [at[f"bulk {n}"] for n in range(4)]
    return Planted(settings, ["--config", str(config)], ids, tokens["a1"], at, bulk)


@pytest.fixture
def auditor(planted: Planted, monkeypatch: pytest.MonkeyPatch, s3_env: dict[str, str]) -> list[str]:
    monkeypatch.setenv("EVIDOCK_S3_ACCESS_KEY", s3_env["S3_ACCESS_KEY"])
    monkeypatch.setenv("EVIDOCK_S3_SECRET_KEY", s3_env["S3_SECRET_KEY"])
    monkeypatch.setenv("EVIDOCK_USER", "a1")
    monkeypatch.setenv("EVIDOCK_TOKEN", planted.token)
    return planted.cfg


def _json(capsys: pytest.CaptureFixture[str], cfg: list[str], *args: str) -> list[dict[str, object]]:
    capsys.readouterr()
    assert main([*cfg, *args, "--json"]) == 0, capsys.readouterr().err
    loaded = json.loads(capsys.readouterr().out)
    assert isinstance(loaded, list)
    return loaded


pytestmark = pytest.mark.s3


def test_anomalies_finds_each_planted_one_and_nothing_else(
    planted: Planted, auditor: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    found = _json(capsys, auditor, "audit", "anomalies", "--since", "2026-11-17", "--until", "2026-11-22")
    at = planted.entries
    assert sorted((str(a["kind"]), int(str(a["entry"]))) for a in found) == sorted(
        [
            (AnomalyKind.OWN_EVIDENCE.value, at["own evidence"]),
            (AnomalyKind.BULK.value, planted.bulk[-1]),
            (AnomalyKind.NO_APPROVAL.value, at["no approval"]),
            (AnomalyKind.EXPORT.value, at["export"]),
            (AnomalyKind.OUTSIDE_HOURS.value, at["late evening"]),
            (AnomalyKind.OUTSIDE_HOURS.value, at["saturday"]),
        ]
    )
    (bulk,) = (a for a in found if a["kind"] == "bulk")
    assert bulk["entries"] == planted.bulk
    assert bulk["actor"] == "o2"
    (tampered,) = (a for a in found if a["kind"] == "no_approval")
    assert "no approval named" in str(tampered["detail"])

    # Each row names its entry, and the entry's inclusion proof can be fetched.
    proof = json.loads(_proof(capsys, auditor, at["own evidence"]))
    assert proof["index"] == at["own evidence"]
    assert proof["checkpoint"].startswith("evidock.local/log\n")

    capsys.readouterr()
    assert main([*auditor, "audit", "anomalies", "--since", "2026-11-17", "--until", "2026-11-22", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 6
    assert {r["kind"] for r in rows} == {k.value for k in AnomalyKind}


def _proof(capsys: pytest.CaptureFixture[str], cfg: list[str], entry: int) -> str:
    capsys.readouterr()
    assert main([*cfg, "log", "proof", "--entry", str(entry), "--json"]) == 0
    return capsys.readouterr().out


def test_audit_access_by_recording_user_case_and_time(
    planted: Planted, auditor: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    at, rec = planted.entries, planted.recordings

    def entries(*args: str) -> list[int]:
        return [int(str(r["entry"])) for r in _json(capsys, auditor, "audit", "access", *args)]

    about_one = [at["normal metadata"], at["normal list"], at["own, not evidence"], at["approved download"]]
    assert entries("--recording", rec[1][:12]) == sorted([*about_one, planted.bulk[1]])
    assert entries("--user", "o2") == sorted([at["normal view"], *planted.bulk, at["no approval"]])
    of_case_a = [*about_one, at["own evidence"], planted.bulk[0], planted.bulk[1]]
    assert entries("--case", CASE_A) == sorted(of_case_a)
    assert entries("--since", "2026-11-17T11:00", "--until", "2026-11-17T12:00") == planted.bulk

    rows = _json(capsys, auditor, "audit", "access", "--recording", rec[1][:12], "--user", "c1")
    download = next(r for r in rows if r["action"] == "download")
    assert download["approver"] == "c2"
    assert download["requester_category"] == "internal"
    assert isinstance(download["approval"], int)
    listing = next(r for r in rows if r["action"] == "list")
    assert listing["listed"] == 2

    capsys.readouterr()
    assert main([*auditor, "audit", "access", "--user", "o1", "--csv"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["entry"], r["action"]) for r in table] == [
        (str(at["own, not evidence"]), "metadata"),
        (str(at["own evidence"]), "view"),
    ]
    assert list(table[0]) == [
        *list(AccessRow.__dataclass_fields__)[:10],
        "requester_category",
        "document_ref",
        "request",
        "listed",
    ]

    # Each audit query is itself an ACCESS entry (action "audit"); the proof fetched above is a "query".
    rows = _json(capsys, auditor, "audit", "access", "--user", "a1")
    assert {r["action"] for r in rows} <= {"audit", "query"}
    assert sum(r["action"] == "audit" for r in rows) >= 4


def test_the_audit_is_for_auditors(
    planted: Planted, auditor: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token = add_person(planted.settings, "c9", Role.CUSTODIAN)
    monkeypatch.setenv("EVIDOCK_USER", "c9")
    monkeypatch.setenv("EVIDOCK_TOKEN", token)
    for command in (["audit", "access"], ["audit", "anomalies"]):
        capsys.readouterr()
        assert main([*auditor, *command]) == 1
        assert "c9 (custodian) may not read the audit trail" in capsys.readouterr().err


# -- the pure rules -------------------------------------------------------------------------------------


def _row(
    entry: int,
    when: datetime,
    actor: str = "o2",
    recording: str | None = "r0",
    *,
    action: str = "metadata",
    approver: str | None = None,
    approval: int | None = None,
    request: int | None = None,
) -> AccessRow:
    return AccessRow(
        entry=entry,
        time=when,
        station="dock",
        recording=recording,
        actor=actor,
        role="officer",
        action=action,
        reason="r",
        approver=approver,
        approval=approval,
        category="internal",
        document_ref=None,
        request=request,
        listed=0,
    )


def _always(_: datetime) -> bool:
    return True


def test_bulk_is_more_than_n_distinct_recordings_within_an_hour_once_per_burst() -> None:
    t0 = local(17, 9)
    rows = [_row(i, t0 + timedelta(minutes=10 * i), recording=f"r{i % 3}") for i in range(6)]  # 3 distinct
    assert find_anomalies(rows, AnomalyFacts(), is_working_time=_always, bulk_threshold=3) == []
    rows = [_row(i, t0 + timedelta(minutes=5 * i), recording=f"r{i}") for i in range(6)]  # 6 distinct in 25 min
    (burst,) = find_anomalies(rows, AnomalyFacts(), is_working_time=_always, bulk_threshold=3)
    assert (burst.kind, burst.entry, burst.entries) == (AnomalyKind.BULK, 3, (0, 1, 2, 3))
    later = [_row(10 + i, t0 + timedelta(hours=2, minutes=i), recording=f"s{i}") for i in range(4)]
    assert [
        a.entry for a in find_anomalies(rows + later, AnomalyFacts(), is_working_time=_always, bulk_threshold=3)
    ] == [
        3,
        13,
    ]


def test_a_download_must_match_an_unexpired_unused_approval_of_someone_else() -> None:
    t0 = local(17, 9)
    approval = ApprovalFact(
        entry=1,
        time=t0,
        recording="r0",
        approver="c2",
        action="download",
        decision="approved",
        request=7,
        requested_by="o2",
        expires=t0 + timedelta(hours=72),
    )
    facts = AnomalyFacts(approvals={1: approval})

    def problems(*rows: AccessRow) -> list[str]:
        return [a.detail for a in find_anomalies(list(rows), facts, is_working_time=_always, bulk_threshold=99)]

    def download(entry: int, when: datetime, actor: str = "o2", recording: str = "r0", approval: int = 1) -> AccessRow:
        return _row(entry, when, actor, recording, action="download", approver="c2", approval=approval, request=7)

    assert problems(download(2, t0)) == []
    assert problems(download(2, t0 + timedelta(hours=73))) == [
        "download without a matching approval: the approval had expired"
    ]
    assert problems(download(2, t0), download(3, t0)) == [
        "download without a matching approval: the approval was used before (single-use)"
    ]
    assert problems(download(2, t0, actor="c2")) == ["download without a matching approval: self-approved"]
    assert problems(download(2, t0, recording="r1")) == [
        "download without a matching approval: the approval is for another recording"
    ]
    assert problems(download(2, t0, approval=9)) == [
        "download without a matching approval: entry 9 is not an APPROVAL entry"
    ]
