"""The catalog as a projection of the log: rebuild the tables from the entries alone, and compare.

Every fact a person sees, searches or exports is written in the same
transaction as the entry that records it. This module replays the entries in
log order and says what each table must therefore hold; :func:`differences`
compares that with the rows and names table, row, column, entry index and
both values for each difference. ``evidock verify`` runs it over the whole
log; a disc export runs it before it uses a fact.

Completeness is by construction, not by a list to remember: ``TABLES`` names
every table on the catalog's metadata, and each column is either *proven*
(rebuilt here and compared) or *operational* with the reason it is not
evidence (never shown as fact nor exported). A column added to a table
without a place in ``TABLES`` fails ``tests/test_projection.py``, and the
tamper suite changes every proven column of a real catalog and expects
``verify`` to name it.

Times: entries carry whole seconds, while some rows keep the microseconds of
the same moment; a time is compared to the precision the log gives it. Names
the log holds only as salted commitments are compared by opening them with
the salts in ``log_salts``, and never printed. The recordings a search listed
are proven per search, by their number and SHA-256 (``Projected.digested``).
People and access requests are replayed in :mod:`storage.projection_access`; decisions, legal
reviews and publications in :mod:`storage.projection_cases`.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from chain.entries import Entry, EntryType, JsonValue, commit, decode
from storage import projection_access, projection_cases, projection_derived, schema
from storage.projected import SURROGATE, Committed, Expected, Projected, Second, logged_time
from storage.projection_access import AccessReplay, access_shapes_a_table, digest_of
from storage.projection_cases import DecisionReplay
from storage.projection_derived import DerivedReplay
from storage.schema import (
    checkpoint_cosignatures,
    checkpoint_timestamps,
    checkpoints,
    log_entries,
    log_head,
    log_nodes,
    log_salts,
    metadata,
    receipts,
    recordings,
)

Keep = Callable[[str, Mapping[str, Any]], bool]
"""Which rows a comparison looks at: ``keep(table name, row)``."""

# -- what each table is ------------------------------------------------------------------

PROJECTED: tuple[Projected, ...] = (
    Projected(recordings, ("id",)),
    Projected(schema.labels, ("entry",), {"id": SURROGATE}, personal=frozenset({"parties"})),
    Projected(schema.cases, ("case_number",)),
    Projected(schema.evidence, ("hold_entry",), {"id": SURROGATE}),
    Projected(
        schema.purges,
        ("recording",),
        {
            "state": "progress of the deletion; whether versions are left is checked against the object store",
            "purged_at": "when the deletion finished; checked against the object store, not a logged fact",
            "error": "the object store's last refusal, for the operator",
        },
    ),
    Projected(schema.findings, ("key",), {"id": SURROGATE}),
    Projected(schema.clock_reports, ("entry",), {"id": SURROGATE}),
    *projection_access.TABLES,
    *projection_cases.TABLES,
    *projection_derived.TABLES,
)

NOT_PROJECTED: Mapping[str, str] = {
    log_head.name: "the log itself: its size is checked against the entries",
    log_entries.name: "the log itself: entries are checked against the signed checkpoints",
    log_nodes.name: "the log's Merkle nodes: each is rebuilt from the entries and compared",
    log_salts.name: "salts of commitments: a wrong salt fails the commitment it opens",
    checkpoints.name: "a local copy of the signed checkpoints; verify trusts only those locked in the object store",
    checkpoint_cosignatures.name: "a local copy of the witnesses' cosignatures; verify checks those locked beside each "
    "checkpoint in the object store",
    checkpoint_timestamps.name: "a local copy of the timestamp tokens; verify checks those locked beside each "
    "checkpoint in the object store",
    receipts.name: "ingest progress of each docked file (a state machine); the recording it made is proven",
    schema.alert_runs.name: "a record of each alert check run, for `evidock status`; not evidence",
    **projection_derived.NOT_PROJECTED,
}


def unclassified() -> list[str]:
    """Tables and columns with no place in the projection: each is a gap in what verify proves."""
    known = {p.table.name: p for p in PROJECTED}
    gaps = []
    for table in metadata.sorted_tables:
        if table.name in NOT_PROJECTED:
            continue
        projected = known.get(table.name)
        if projected is None:
            gaps.append(table.name)
            continue
        named = [*projected.operational, *projected.personal]
        gaps += [f"{table.name}.{name}" for name in named if name not in table.columns]
    return gaps


# -- the replay -------------------------------------------------------------------------


class Replay(DerivedReplay, AccessReplay, DecisionReplay):
    """Feed entries in log order with :meth:`apply`; ``rows`` then holds every projected table's rows."""

    def __init__(self) -> None:
        super().__init__(PROJECTED)
        self._labels: dict[str, list[Expected]] = {}  # recording -> its labels, oldest first
        self._handlers: dict[EntryType, Callable[[int, Entry], None]] = {
            EntryType.INGEST: self._ingest,
            EntryType.LABEL: self._label,
            EntryType.HOLD: self._hold,
            EntryType.RETENTION: self._retention,
            EntryType.PURGE: self._purge,
            EntryType.FINDING: self._finding,
            EntryType.EXPLANATION: self._explanation,
            EntryType.CLOCK: self._clock,
            EntryType.CASE: self._case,
            **self._access_handlers(),
            **self._decision_handlers(),
            **self._derived_handlers(),
        }

    def ingested(self) -> dict[tuple[str, str], int]:
        """(object key, version id) of every original an INGEST entry stored -> that entry's index."""
        return {
            (str(row.values["object_key"]), str(row.values["version_id"])): int(row.values["ingest_entry"])
            for row in self.rows[recordings.name].values()
        }

    @property
    def types(self) -> frozenset[EntryType]:
        """The entry types that shape some table (the others need not be decoded)."""
        return frozenset(self._handlers)

    def needs(self, kind: str, data: bytes) -> bool:
        """Whether the entry of type ``kind`` with bytes ``data`` may shape some table (the others need no decoding)."""
        if kind == EntryType.ACCESS:
            return access_shapes_a_table(data)
        return kind in self._handlers

    def apply(self, index: int, entry: Entry) -> None:
        handler = self._handlers.get(entry.type)
        if handler is not None:
            handler(index, entry)

    def _ingest(self, index: int, entry: Entry) -> None:
        body = entry.body
        self._put(
            recordings,
            (entry.recording,),
            index,
            {
                "id": entry.recording,
                "size": body.get("size"),
                "object_key": body.get("object_key"),
                "version_id": body.get("version_id"),
                "retain_until": logged_time(body.get("retain_until")),
                "original_name": display_name(body),
                "station": entry.station,
                "device": body.get("device"),
                "officer": body.get("officer"),
                "seq": body.get("sequence"),
                "start_raw": logged_time(body.get("start_raw")),
                "end_raw": logged_time(body.get("end_raw")),
                "duration_ms": body.get("duration_ms"),
                "kind": body.get("kind"),
                "media": body.get("media"),
                "notes": body.get("notes"),
                "ingested_at": Second(entry.timestamp),
                "ingest_entry": index,
            },
        )

    def _label(self, index: int, entry: Entry) -> None:
        body = entry.body
        parties = body.get("parties")
        row = Expected(
            {
                "recording": entry.recording,
                "case_number": body.get("case_number"),
                "parties": _parties(index, parties),
                "handler": body.get("handler"),
                "labelled_by": body.get("by"),
                "labelled_at": Second(entry.timestamp),
                "entry": index,
            },
            index,
        )
        self.rows[schema.labels.name][(index,)] = row
        self._labels.setdefault(str(entry.recording), []).append(row)
        self._open_case(index, entry)

    def _open_case(self, index: int, entry: Entry) -> None:
        number = entry.body.get("case_number")
        if (number,) not in self.rows[schema.cases.name]:
            moment = Second(entry.timestamp)
            by = entry.body.get("by")
            self._put(
                schema.cases,
                (number,),
                index,
                {"case_number": number, "opened_at": moment, "updated_at": moment, "updated_by": by}
                | dict.fromkeys(_CASE_DATES),
            )

    def _case(self, index: int, entry: Entry) -> None:
        body = entry.body
        self._open_case(index, entry)
        wanted = _CASE_DATES if body.get("action") == "close" else ("case_file_done_on", "archived_on")
        dates = {name: _day(body.get(name)) for name in wanted if body.get(name) is not None}
        self._change(
            schema.cases,
            (body.get("case_number"),),
            index,
            updated_at=Second(entry.timestamp),
            updated_by=body.get("by"),
            **dates,
        )

    def _hold(self, index: int, entry: Entry) -> None:
        body = entry.body
        if body.get("action") == "set":
            self._retention(index, entry)  # schema.evidence.extend_designations: the other active holds follow
            self._put(
                schema.evidence,
                (index,),
                index,
                {
                    "recording": entry.recording,
                    "case_number": body.get("case_number"),
                    "period": body.get("period"),
                    "retain_until": logged_time(body.get("retain_until")),
                    "added_at": Second(entry.timestamp),
                    "added_by": body.get("by"),
                    "hold_entry": index,
                }
                | dict.fromkeys(("released_at", "released_by", "approved_by", "release_reason", "release_entry")),
            )
            self._open_case(index, entry)
            return
        released = body.get("cases")
        names = set(released) if isinstance(released, list) else set()
        for row in self._active_holds(entry.recording):
            if row.values["case_number"] in names:
                row.values.update(
                    released_at=Second(entry.timestamp),
                    released_by=body.get("by"),
                    approved_by=body.get("approved_by"),
                    release_reason=body.get("reason"),
                    release_entry=index,
                )
                row.entry = index

    def _active_holds(self, recording: str | None) -> list[Expected]:
        return [
            row
            for row in self.rows[schema.evidence.name].values()
            if row.values["recording"] == recording and row.values["released_at"] is None
        ]

    def _retention(self, index: int, entry: Entry) -> None:
        until = logged_time(entry.body.get("retain_until"))
        for row in self._active_holds(entry.recording):
            if until is not None and (
                row.values["retain_until"] is None or row.values["retain_until"] < until
            ):  # Second orders
                row.values["retain_until"] = until
                row.entry = index

    def _purge(self, index: int, entry: Entry) -> None:
        body = entry.body
        self._put(
            schema.purges,
            (entry.recording,),
            index,
            {
                "recording": entry.recording,
                "object_key": body.get("object_key"),
                "version_id": body.get("version_id"),
                "size": body.get("size"),
                "ended_at": logged_time(body.get("ended_at")),
                "retain_until": logged_time(body.get("retain_until")),
                "labels": [_label_json(row.values) for row in self._labels.get(str(entry.recording), [])],
                "reason": body.get("reason"),
                "purge_entry": index,
                "decided_at": Second(entry.timestamp),
            },
        )

    def _finding(self, index: int, entry: Entry) -> None:
        body = entry.body
        key = (body.get("finding_id"),)
        if body.get("status") == "withdrawn":
            self._change(schema.findings, key, index, status="withdrawn")
            return
        facts = {name: body.get(name) for name in _FINDING_FACTS} | {"key": body.get("finding_id")}
        values = {
            "kind": body.get("kind"),
            "device": body.get("device"),
            "recordings": body.get("recordings"),
            "start": _moment(body.get("start")),
            "end": _moment(body.get("end")),
            "length_ms": body.get("length_ms"),
            "facts": facts,
            "status": "open",
            "entry": index,
        }
        if not self._change(schema.findings, key, index, **values):
            self._put(
                schema.findings,
                key,
                index,
                {"key": key[0], "found_at": Second(entry.timestamp)} | values | dict.fromkeys(_EXPLANATION_COLUMNS),
            )

    def _explanation(self, index: int, entry: Entry) -> None:
        body = entry.body
        self._change(
            schema.findings,
            (body.get("finding_id"),),
            index,
            status="explained",
            explained_at=Second(entry.timestamp),
            explained_by=body.get("author"),
            explanation=body.get("explanation"),
            voice_in=body.get("voice_in"),
            voice_at_ms=body.get("voice_at_ms"),
            explanation_entry=index,
        )

    def _clock(self, index: int, entry: Entry) -> None:
        body = entry.body
        self._put(
            schema.clock_reports,
            (index,),
            index,
            {
                "device": body.get("device"),
                "device_time": _moment(body.get("device_time")),
                "station_time": _moment(body.get("station_time")),
                "offset_ms": body.get("offset_ms"),
                "source": body.get("source"),
                "station": entry.station,
                "recording": entry.recording,
                "received_at": Second(entry.timestamp),
                "entry": index,
            },
        )


_CASE_DATES = ("closed_on", "case_file_due", "archive_due", "case_file_done_on", "archived_on")
_FINDING_FACTS = (
    "kind",
    "recordings",
    "device",
    "start",
    "end",
    "length_ms",
    "stream",
    "position_ms",
    "check",
    "detail",
    "message",
    "message_zh",
)
_EXPLANATION_COLUMNS = (
    "explained_at",
    "explained_by",
    "explanation",
    "voice_in",
    "voice_at_ms",
    "explanation_entry",
)


def display_name(body: Mapping[str, JsonValue]) -> str | None:
    """The file name as the catalog shows it: the exact bytes, undecodable ones as ``\\xff`` escapes."""
    raw = body.get("original_name_b64")
    if isinstance(raw, str):
        return base64.b64decode(raw).decode("utf-8", "backslashreplace")
    name = body.get("original_name")
    return name if isinstance(name, str) else None


def _label_json(values: Mapping[str, Any]) -> dict[str, Any]:
    """A label as the purge tombstone keeps it (``schema.labels.Label.as_json``)."""
    return {
        "recording": values["recording"],
        "case_number": values["case_number"],
        "parties": values["parties"],
        "handler": values["handler"],
        "labelled_by": values["labelled_by"],
        "labelled_at": values["labelled_at"].moment.isoformat(),
        "entry": values["entry"],
    }


def _parties(index: int, parties: object) -> Committed:
    """A LABEL's parties: each committed, its salt under ``schema.party_field(position)``."""
    held = tuple(str(p) for p in parties) if isinstance(parties, list) else ()
    return Committed(index, held, tuple(schema.party_field(i) for i in range(len(held))))


def _moment(value: object) -> datetime | None:
    """A finding's time: RFC 3339 UTC, milliseconds when not zero."""
    if not isinstance(value, str):
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _day(value: object) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else None


def replay_log(conn: Connection, *, batch: int = 5000) -> Replay:
    """The projection of the whole log as the database holds it (only the entry types that shape tables are read).

    For a check before use (a disc export): the entries themselves are proven
    against the signed checkpoints by ``evidock verify`` and on the disc.
    """
    replay = Replay()
    types = [t.value for t in replay.types]
    last = -1
    while True:
        rows = conn.execute(
            select(log_entries.c.idx, log_entries.c.type, log_entries.c.data)
            .where(log_entries.c.type.in_(types), log_entries.c.idx > last)
            .order_by(log_entries.c.idx)
            .limit(batch)
        ).all()
        if not rows:
            return replay
        for idx, kind, data in rows:
            if replay.needs(kind, bytes(data)):
                replay.apply(int(idx), decode(bytes(data)))
        last = int(rows[-1][0])


def case_members(replay: Replay, case_number: str) -> set[str]:
    """Every recording a LABEL entry ever put in ``case_number`` (as ``cases.labels.recordings_of_case`` reads it)."""
    return {
        str(row.values["recording"])
        for row in replay.rows[schema.labels.name].values()
        if row.values["case_number"] == case_number
    }


def about_recordings(recording_ids: Collection[str], devices: Collection[str | None], case_number: str) -> Keep:
    """A ``keep`` for :func:`differences`: the rows about these recordings, their devices' clocks and the case."""
    ids, clocks = set(recording_ids), {d for d in devices if d is not None}

    def keep(table: str, row: Mapping[str, Any]) -> bool:
        if table == recordings.name:
            return bool(row["id"] in ids)
        if table == schema.findings.name:
            return bool(ids & set(row["recordings"] or ()))
        if table == schema.clock_reports.name:
            return bool(row["device"] in clocks)
        if table == schema.cases.name:
            return bool(row["case_number"] == case_number)
        return bool(row.get("recording") in ids)

    return keep


# -- the comparison -----------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """One way the catalog is not what the log says."""

    kind: str  # "mismatch", "missing" (the log has the row, the table not) or "unexplained" (no entry made it)
    table: str
    row: str  # the row's key, e.g. "entry=12"
    column: str | None
    entry: int | None  # the entry index that shaped the row, if any
    catalog: object = None
    logged: object = None

    @property
    def message(self) -> str:
        where = f"table {self.table}, row {self.row}"
        if self.kind == "missing":
            return f"{where}: entry {self.entry} says this row exists; the catalog has no such row"
        if self.kind == "unexplained":
            return f"{where}: no entry in the log made this row"
        return (
            f"{where}, column {self.column}: the catalog has {_shown(self.catalog)}, "
            f"entry {self.entry} says {_shown(self.logged)}"
        )


def differences(
    conn: Connection,
    replay: Replay,
    *,
    keep: Callable[[str, Mapping[str, Any]], bool] | None = None,
) -> Iterator[Difference]:
    """Compare the catalog with the replay; ``keep(table, row)``: only rows it accepts (e.g. one export's)."""
    salts = _Salts(conn)
    for projected in PROJECTED:
        name = projected.table.name
        wanted = replay.rows[name]
        if projected.digested:  # search results: proven per search by count and SHA-256 (no export uses them)
            if keep is None:
                yield from _digest_differences(conn, projected, wanted, None)
            continue
        columns = projected.proven
        actual: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in conn.execute(select(projected.table)):
            mapping = dict(row._mapping)
            actual[tuple(mapping[k] for k in projected.key)] = mapping
        if keep is not None:
            wanted = {k: v for k, v in wanted.items() if keep(name, v.values)}
            actual = {k: v for k, v in actual.items() if keep(name, v)}
        for key in sorted(set(wanted) | set(actual), key=repr):
            label = ", ".join(f"{k}={v}" for k, v in zip(projected.key, key, strict=True))
            expected = wanted.get(key)
            found = actual.get(key)
            if expected is None:
                yield Difference("unexplained", name, label, None, None)
                continue
            if found is None:
                yield Difference("missing", name, label, None, expected.entry)
                continue
            for column in columns:
                logged = expected.values.get(column)
                stored = found[column]
                if not _same(logged, stored, salts):
                    withheld = _committed(logged) or column in projected.personal
                    shown = "(names withheld: the entry holds commitments)" if withheld else stored
                    yield Difference("mismatch", name, label, column, expected.entry, shown, _visible(logged))


def _digest_differences(
    conn: Connection,
    projected: Projected,
    wanted: Mapping[tuple[Any, ...], Expected],
    keys: set[tuple[Any, ...]] | None,
) -> Iterator[Difference]:
    """The rows of each entry against that entry's count and SHA-256 of them, read in order (no table in memory)."""
    name = projected.table.name
    group, member = (projected.table.c[k] for k in projected.key)
    seen: set[tuple[Any, ...]] = set()
    rows = conn.execute(select(group, member).order_by(group, member))
    for key, members in itertools.groupby(rows, key=lambda row: (row[0],)):
        seen.add(key)
        if keys is not None and key not in keys:
            continue
        label = f"{group.name}={key[0]}"
        expected = wanted.get(key)
        if expected is None:
            yield Difference("unexplained", name, label, None, None)
            continue
        found = digest_of([str(m) for _, m in members])
        if found != expected.values:
            shown, logged = (f"{d['count']} rows, SHA-256 {d['sha256']}" for d in (found, expected.values))
            yield Difference("mismatch", name, label, member.name, expected.entry, shown, logged)
    for key in sorted(set(wanted) - seen):
        if keys is None or key in keys:
            yield Difference("missing", name, f"{group.name}={key[0]}", None, wanted[key].entry)


class _Salts:
    """The salts of commitments (``log_salts``), read once per entry when a comparison needs them."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._cache: dict[int, dict[str, bytes]] = {}

    def of(self, entry: int) -> dict[str, bytes]:
        if entry not in self._cache:
            rows = self._conn.execute(select(log_salts.c.field, log_salts.c.salt).where(log_salts.c.entry == entry))
            self._cache[entry] = {f: bytes(s) for f, s in rows}
        return self._cache[entry]


def _same(logged: object, stored: object, salts: _Salts) -> bool:
    compare = _COMPARE.get(type(logged))
    if compare is not None:
        return compare(logged, stored, salts)
    if isinstance(logged, bool) or isinstance(stored, bool):
        return type(logged) is type(stored) and logged == stored
    return logged == stored


def _same_committed(logged: Any, stored: object, salts: _Salts) -> bool:
    """Each clear name opens its commitment with the salt kept beside the entry."""
    names = [stored] if logged.single else stored
    if not isinstance(names, list) or len(names) != len(logged.commitments):
        return False
    opened = salts.of(logged.entry)
    for name, commitment, field in zip(names, logged.commitments, logged.fields, strict=True):
        salt = opened.get(field)
        if not isinstance(name, str) or salt is None or len(salt) != 32 or commit(name, salt) != commitment:
            return False
    return True


def _same_second(logged: Any, stored: object, _salts: _Salts) -> bool:
    return isinstance(stored, datetime) and stored.replace(microsecond=0) == logged.moment


def _same_moment(logged: Any, stored: object, _salts: _Salts) -> bool:
    """A measured time, kept to the millisecond."""
    return isinstance(stored, datetime) and _to_ms(stored) == _to_ms(logged)


def _same_day(logged: Any, stored: object, _salts: _Salts) -> bool:
    return isinstance(stored, date) and not isinstance(stored, datetime) and stored == logged


def _same_object(logged: Any, stored: object, salts: _Salts) -> bool:
    return (
        isinstance(stored, dict)
        and set(logged) == set(stored)
        and all(_same(logged[k], stored[k], salts) for k in logged)
    )


def _same_list(logged: Any, stored: object, salts: _Salts) -> bool:
    return (
        isinstance(stored, list | tuple)
        and len(stored) == len(logged)
        and all(_same(a, b, salts) for a, b in zip(logged, stored, strict=True))
    )


_COMPARE: Mapping[type, Callable[[Any, object, _Salts], bool]] = {
    Committed: _same_committed,
    Second: _same_second,
    datetime: _same_moment,
    date: _same_day,
    dict: _same_object,
    list: _same_list,
    tuple: _same_list,
}


def _to_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _committed(value: object) -> bool:
    """Whether a logged value holds personal data as commitments (then the catalog's clear value is not printed)."""
    if isinstance(value, Committed):
        return True
    if isinstance(value, dict):
        return any(_committed(v) for v in value.values())
    if isinstance(value, list):
        return any(_committed(v) for v in value)
    return False


def _visible(value: object) -> object:
    """What to print for a logged value: a commitment is shown as such, never as a name."""
    if isinstance(value, Committed):
        shown = [f"committed {c[:15]}…" for c in value.commitments]
        return shown[0] if value.single else shown
    if isinstance(value, Second):
        return value.moment
    if isinstance(value, dict):
        return {k: _visible(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_visible(v) for v in value]
    return value


def _shown(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "…"
