"""The catalog's schema: every table on one ``metadata``, and the column types and widths they share.

Defined here, below everything else in ``storage``, so that the catalog can
create the whole schema without importing the modules that use the tables
(they import this one; nothing here imports them). The queries live with
their subject: ``storage.journal`` (the log), ``storage.recordings``,
``storage.receipts``, ``storage.findings``, ``storage.tombstones``,
``storage.status``; the case register and labels in ``cases``; people,
requests and the audit trail in ``access``.

A change to a table here needs its migration in ``storage/migrations/versions``
(``python -m storage.migrations "what changes"`` drafts it; ``tests/test_migrations.py``
fails without it). Written against SQLAlchemy Core with portable SQL only, so the small case
(SQLite on a dock PC) and the large case (one PostgreSQL shared by many
stations) run the same code.

The case tables are the catalog's *view* of the log (LABEL, CASE, HOLD,
RETENTION, PURGE entries), each row written in the same transaction as its
entry, so the two never disagree::

    labels       one row per LABEL entry; never updated (the latest one wins)
    cases        one row per case number: when it closed and what is due
    evidence     one row per designation as evidence; released rows stay
    case_decisions, legal_reviews, review_opinions, publications, publication_exclusions
                 a case's decision, its legal review and its publication (DECISION, REVIEW,
                 PUBLICATION entries; docs/decisions.md)
    alert_runs   one row per alert check, for `evidock status`
    purges       tombstones: a recording whose objects were (or are being) deleted

The ``recordings`` row of a purged recording is kept: the log's INGEST entry
still describes it, and ``evidock verify`` compares the two. ``purges`` says
which rows no longer have an object (``state = 'purged'``, ``purged_at`` set).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

NAME_LENGTH = 64  # characters of a user name (login)
PERSON_LENGTH = 128  # characters of a person's name, display name, officer or staff id, outside requester or party
DOCUMENT_LENGTH = 256  # characters of a document reference (文号)
CASE_NUMBER_LENGTH = 128  # characters; e.g. 京朝公(治)行罚决字[2026]1号


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every database.

    SQLite keeps no zone; storing naive UTC and re-attaching UTC on the way out
    keeps the rule "stored in UTC" true everywhere and refuses naive input.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} refused: evidock stores aware UTC times")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

# -- the log -----------------------------------------------------------------

log_head = Table(
    "log_head",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1
    Column("size", BigInteger, nullable=False),
)

log_entries = Table(
    "log_entries",
    metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("type", String(16), nullable=False),
    Column("recording", String(64), nullable=True),
    Column("time", UTCDateTime(), nullable=False),
    Column("station", String(64), nullable=False),
    Column("data", LargeBinary, nullable=False),  # canonical bytes: what the leaf hashes
    Index("ix_log_entries_recording", "recording", "idx"),
    Index("ix_log_entries_type", "type", "idx"),
)

log_nodes = Table(
    "log_nodes",
    metadata,
    Column("level", Integer, nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    PrimaryKeyConstraint("level", "idx"),
)

log_salts = Table(
    "log_salts",
    metadata,
    Column("entry", BigInteger, ForeignKey("log_entries.idx"), nullable=False),
    Column("field", String(64), nullable=False),
    Column("salt", LargeBinary(32), nullable=False),
    PrimaryKeyConstraint("entry", "field"),
)


def party_field(position: int) -> str:
    """The ``log_salts.field`` of the salt for ``parties[position]`` of a LABEL entry."""
    return f"parties[{position}]"


checkpoints = Table(
    "checkpoints",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("object_key", String(256), nullable=True),
    Column("version_id", String(128), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

# Outside trust for each checkpoint (storage.outside_trust): what the locked objects beside it hold, for
# the pages, metrics and alerts. `evidock verify` reads the objects themselves.
checkpoint_cosignatures = Table(
    "checkpoint_cosignatures",
    metadata,
    Column("size", BigInteger, nullable=False),
    Column("witness", String(512), nullable=False),  # the witness's verifier key, as configured
    Column("line", Text, nullable=False),  # its cosignature line (C2SP tlog-cosignature)
    Column("cosigned_at", UTCDateTime(), nullable=False),  # the time in the cosignature
    Column("object_key", String(256), nullable=False),
    Column("version_id", String(128), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("size", "witness"),
)

checkpoint_timestamps = Table(
    "checkpoint_timestamps",
    metadata,
    Column("size", BigInteger, nullable=False),
    Column("tsa", String(64), nullable=False),  # the TSA certificate's fingerprint (storage.timestamping)
    Column("gen_time", UTCDateTime(), nullable=False),  # RFC 3161 genTime
    Column("serial", String(64), nullable=False),  # the token's serial number, decimal (up to 160 bits)
    Column("reply", LargeBinary, nullable=False),  # the TimeStampResp, DER
    Column("object_key", String(256), nullable=False),
    Column("version_id", String(128), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("size", "tsa"),
)

# -- recordings ----------------------------------------------------------------

recordings = Table(
    "recordings",
    metadata,
    Column("id", String(64), primary_key=True),  # SHA-256 hex of the original bytes
    Column("size", BigInteger, nullable=False),
    Column("object_key", String(256), nullable=False),
    Column("version_id", String(128), nullable=False),
    Column("retain_until", UTCDateTime(), nullable=False),
    Column("original_name", Text, nullable=False),  # display form; raw bytes in receipts
    Column("station", String(64), nullable=False),
    Column("device", String(128), nullable=True),
    Column("officer", String(128), nullable=True),
    Column("seq", Integer, nullable=True),
    Column("start_raw", UTCDateTime(), nullable=True),  # device clock, as recorded
    Column("end_raw", UTCDateTime(), nullable=True),
    Column("duration_ms", BigInteger, nullable=True),
    Column("kind", String(16), nullable=False),  # video, audio, photo, other
    Column("media", JSON, nullable=False),  # container, codecs, resolution, ...
    Column("notes", JSON, nullable=False),  # e.g. "not media", "name did not match"
    Column("ingested_at", UTCDateTime(), nullable=False),
    Column("ingest_entry", BigInteger, ForeignKey("log_entries.idx"), nullable=False),
    Index("ix_recordings_device_start", "device", "start_raw"),
    Index("ix_recordings_officer_start", "officer", "start_raw"),  # `recordings list --officer` (bench/bureau.py)
)

receipts = Table(
    "receipts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("station", String(64), nullable=False),
    Column("folder", LargeBinary, nullable=False),  # watch folder, raw path bytes
    Column("rel_path", LargeBinary, nullable=False),  # path under it, raw bytes (may be non-UTF-8)
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("inode", BigInteger, nullable=False),  # with size and mtime: the dock copy is unchanged
    Column("state", String(16), nullable=False),
    Column("staging_key", String(256), nullable=False),
    Column("staging_version", String(128), nullable=True),
    Column("sha256", String(64), nullable=True),
    Column("version_id", String(128), nullable=True),
    Column("recording", String(64), ForeignKey("recordings.id"), nullable=True),
    Column("duplicate", Integer, nullable=False, default=0),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("error", Text, nullable=True),
    UniqueConstraint("station", "folder", "rel_path", "size", "mtime_ns", name="uq_receipt_file"),
    Index("ix_receipts_state", "state"),
)


# -- findings and clock reports (storage.findings) -------------------------------------

findings = Table(
    "findings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(512), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("device", String(128), nullable=True, index=True),
    Column("recordings", JSON, nullable=False),
    Column("start", UTCDateTime(), nullable=True, index=True),
    Column("end", UTCDateTime(), nullable=True),
    Column("length_ms", BigInteger, nullable=True),
    Column("facts", JSON, nullable=False),  # Finding.as_json(): messages, detail, stream, position
    Column("status", String(16), nullable=False, index=True),  # open, explained, withdrawn
    Column("found_at", UTCDateTime(), nullable=False),
    Column("entry", BigInteger, nullable=False),  # the FINDING log entry
    Column("explained_at", UTCDateTime(), nullable=True),
    Column("explained_by", String(128), nullable=True),
    Column("explanation", Text, nullable=True),
    Column("voice_in", String(64), nullable=True),  # recording holding the spoken statement
    Column("voice_at_ms", BigInteger, nullable=True),
    Column("explanation_entry", BigInteger, nullable=True),
)

clock_reports = Table(
    "clock_reports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device", String(128), nullable=False, index=True),
    Column("device_time", UTCDateTime(), nullable=False),
    Column("station_time", UTCDateTime(), nullable=False),
    Column("offset_ms", BigInteger, nullable=False),  # device - station
    Column("source", String(16), nullable=False),  # sidecar, cli, api
    Column("station", String(64), nullable=False),
    Column("recording", String(64), nullable=True),  # the sidecar file, stored like any docked file
    Column("received_at", UTCDateTime(), nullable=False),
    Column("entry", BigInteger, ForeignKey("log_entries.idx"), nullable=False, unique=True),  # its CLOCK entry
)

# -- cases (the cases package) ------------------------------------------------------------

labels = Table(
    "labels",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recording", String(64), ForeignKey("recordings.id"), nullable=False),
    Column("case_number", String(CASE_NUMBER_LENGTH), nullable=False),  # 案号
    # 当事人, in clear for the custodian; the LABEL entry holds only salted commitments
    Column("parties", JSON, nullable=False),
    Column("handler", String(PERSON_LENGTH), nullable=False),  # 承办人
    Column("labelled_by", String(PERSON_LENGTH), nullable=False),
    Column("labelled_at", UTCDateTime(), nullable=False),  # the LABEL entry's time
    Column("entry", BigInteger, ForeignKey("log_entries.idx"), nullable=False, unique=True),
    Index("ix_labels_recording", "recording", "entry"),
    Index("ix_labels_case", "case_number"),
)

cases = Table(
    "cases",
    metadata,
    Column("case_number", String(CASE_NUMBER_LENGTH), primary_key=True),  # 案号
    Column("opened_at", UTCDateTime(), nullable=False),  # first linked to a recording or closed
    Column("closed_on", Date, nullable=True),  # local date the enforcement ended (执法行为终结之日)
    Column("case_file_due", Date, nullable=True),  # closed_on + 30 days (art. 26)
    Column("archive_due", Date, nullable=True),  # 31 March of the next year (art. 26)
    Column("case_file_done_on", Date, nullable=True),  # the case file (案卷) was formed
    Column("archived_on", Date, nullable=True),  # handed over to the archive
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", String(PERSON_LENGTH), nullable=False),
)

evidence = Table(
    "evidence",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recording", String(64), ForeignKey("recordings.id"), nullable=False),
    Column("case_number", String(CASE_NUMBER_LENGTH), nullable=False),
    Column("period", String(16), nullable=False),  # whole years ("30") or "permanent" (永久)
    Column("retain_until", UTCDateTime(), nullable=False),  # read back from the server
    Column("added_at", UTCDateTime(), nullable=False),
    Column("added_by", String(PERSON_LENGTH), nullable=False),
    Column("hold_entry", BigInteger, ForeignKey("log_entries.idx"), nullable=False),
    Column("released_at", UTCDateTime(), nullable=True),
    Column("released_by", String(PERSON_LENGTH), nullable=True),
    Column("approved_by", String(PERSON_LENGTH), nullable=True),
    Column("release_reason", Text, nullable=True),
    Column("release_entry", BigInteger, ForeignKey("log_entries.idx"), nullable=True),
    Index("ix_evidence_recording", "recording"),
    Index("ix_evidence_case", "case_number"),
)

# -- decisions, legal review and publication (cases.decisions, cases.review, cases.publication) ------------
# One row per case with a decision; every change is a DECISION entry. Personal data (the party's name, ID
# number, phone, address, and the decision texts, which name people) is in clear here for the people who
# handle the case and in the entries only as commitments (salt fields named as the columns, texts "text").

case_decisions = Table(
    "case_decisions",
    metadata,
    Column("case_number", String(CASE_NUMBER_LENGTH), primary_key=True),  # 案号
    Column("action_type", String(16), nullable=False),  # cases.terms.ActionType: permit, penalty, ...
    Column("party_kind", String(16), nullable=False),  # individual | organisation
    Column("party_minor", Boolean, nullable=False),  # 未成年人 (公示办法 art. 10(1))
    Column("party_name", String(PERSON_LENGTH), nullable=False),  # 当事人; committed in the entry
    Column("party_id_number", String(64), nullable=True),  # 身份证号 / 统一社会信用代码; committed
    Column("party_phone", String(64), nullable=True),  # committed
    Column("party_address", Text, nullable=True),  # committed
    Column("parties_count", Integer, nullable=False),  # parties and interested persons concerned (art. 6(4), 14)
    Column("proposed_text", Text, nullable=True),  # 拟作出的决定; committed
    Column("proposed_fine_fen", BigInteger, nullable=True),  # whole fen (分)
    Column("proposed_measures", JSON, nullable=True),  # cases.terms.Measure codes
    Column("proposed_at", UTCDateTime(), nullable=True),
    Column("proposed_by", String(PERSON_LENGTH), nullable=True),
    Column("proposed_entry", BigInteger, nullable=True),  # the DECISION entry of the current proposal
    Column("major", Boolean, nullable=False),  # 重大行政执法决定 (art. 5-7, 14)
    Column("major_grounds", JSON, nullable=False),  # cases.major.Ground codes
    Column("marked_major_by", String(PERSON_LENGTH), nullable=True),
    Column("marked_major_reason", Text, nullable=True),
    Column("final_text", Text, nullable=True),  # the decision as made; committed
    Column("final_document", String(DOCUMENT_LENGTH), nullable=True),  # 决定书文号
    Column("final_on", Date, nullable=True),  # 决定日期 (local)
    Column("final_at", UTCDateTime(), nullable=True),  # when it was recorded
    Column("final_by", String(PERSON_LENGTH), nullable=True),
    Column("final_review", BigInteger, nullable=True),  # the completed legal review it rests on (a major case)
    Column("publish_due_on", Date, nullable=True),  # 公示办法 art. 9: 7 or 20 working days after final_on
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", String(PERSON_LENGTH), nullable=False),
)

legal_reviews = Table(
    "legal_reviews",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),  # the index of its submit entry
    Column("case_number", String(CASE_NUMBER_LENGTH), nullable=False, index=True),
    Column("proposal_entry", BigInteger, nullable=False),  # the DECISION propose entry under review
    Column("submitted_at", UTCDateTime(), nullable=False),
    Column("submitted_by", String(PERSON_LENGTH), nullable=False),
    Column("proposal", Text, nullable=False),  # 办理建议及理由 (art. 8(1)); committed
    Column("legal_basis", Text, nullable=False),  # 依据 (art. 8(1))
    Column("documents", JSON, nullable=False),  # case file documents: [{title, sha256, size}] (art. 8(2))
    Column("recordings", JSON, nullable=False),  # the case's recordings (their INGEST entries prove them)
    Column("other_evidence", Text, nullable=True),  # art. 8(3); committed
    Column("received_at", UTCDateTime(), nullable=False),  # when the latest materials arrived
    Column("state", String(16), nullable=False),  # cases.terms.ReviewState
    Column("missing", Text, nullable=True),  # what the last completeness check found missing
    Column("checked_by", String(PERSON_LENGTH), nullable=True),
    Column("checked_at", UTCDateTime(), nullable=True),
    Column("started_on", Date, nullable=True),  # local date the complete submission arrived: the clock's start
    Column("due_on", Date, nullable=True),  # art. 12: 5 working days later (+5 once extended)
    Column("extended_by", String(PERSON_LENGTH), nullable=True),  # the head who approved the extension
    Column("extension_reason", Text, nullable=True),
    Column("rereview_reason", Text, nullable=True),  # the unit's written request (art. 11); committed
    Column("rereview_at", UTCDateTime(), nullable=True),
    Column("escalated_at", UTCDateTime(), nullable=True),  # put to the head (art. 11)
    Column("head", String(PERSON_LENGTH), nullable=True),  # the head (行政负责人) who decided
    Column("head_decision", Text, nullable=True),  # committed
    Column("done_at", UTCDateTime(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", String(PERSON_LENGTH), nullable=False),
)

review_opinions = Table(
    "review_opinions",
    metadata,
    Column("entry", BigInteger, primary_key=True, autoincrement=False),  # its REVIEW opinion entry
    Column("review", BigInteger, nullable=False, index=True),
    Column("case_number", String(CASE_NUMBER_LENGTH), nullable=False),
    Column("round", Integer, nullable=False),  # 1, or 2 for the re-review (复审)
    Column("reviewer", String(PERSON_LENGTH), nullable=False),
    Column("points", JSON, nullable=False),  # the nine points of art. 9: {point: ok | problem | na}
    Column("opinion", String(16), nullable=False),  # art. 10: cases.terms.Opinion
    Column("reasons", Text, nullable=False),  # committed
    Column("given_at", UTCDateTime(), nullable=False),
    Column("due_on", Date, nullable=False),  # the deadline it was given against
)

publications = Table(
    "publications",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),  # the index of its publish entry
    Column("case_number", String(CASE_NUMBER_LENGTH), nullable=False, index=True),
    Column("mode", String(16), nullable=False),  # document | summary (公示办法 art. 9)
    Column("document", String(DOCUMENT_LENGTH), nullable=False),  # 决定书文号
    Column("decided_on", Date, nullable=False),
    Column("due_on", Date, nullable=False),  # 7 or 20 working days after the decision
    Column("published_at", UTCDateTime(), nullable=False),
    Column("published_by", String(PERSON_LENGTH), nullable=False),
    Column("content", JSON, nullable=False),  # exactly what the feed shows: identity and property data removed
    Column("withdrawn_at", UTCDateTime(), nullable=True),  # 撤下 (art. 9, para. 3)
    Column("withdrawn_by", String(PERSON_LENGTH), nullable=True),
    Column("withdrawal_document", String(DOCUMENT_LENGTH), nullable=True),  # the judgment or review decision
    Column("withdrawal_reason", Text, nullable=True),
)

publication_exclusions = Table(
    "publication_exclusions",
    metadata,
    Column("entry", BigInteger, primary_key=True, autoincrement=False),  # its PUBLICATION exclude entry
    Column("case_number", String(CASE_NUMBER_LENGTH), nullable=False, index=True),
    Column("ground", String(32), nullable=False),  # 公示办法 art. 10: cases.terms.Exclusion
    Column("reason", Text, nullable=False),  # committed
    Column("excluded_by", String(PERSON_LENGTH), nullable=False),
    Column("approved_by", String(PERSON_LENGTH), nullable=False),  # the second person
    Column("excluded_at", UTCDateTime(), nullable=False),
)

alert_runs = Table(
    "alert_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ran_at", UTCDateTime(), nullable=False),
    Column("due_soon", Integer, nullable=False),  # recordings whose label is due soon
    Column("overdue", Integer, nullable=False),  # recordings whose label is overdue
    Column("cases_due", Integer, nullable=False),  # case files or archive handovers due soon or overdue
    Column("summary", Text, nullable=False),
    Column("webhook", Text, nullable=True),  # "sent", "not configured" or the failure
)

purges = Table(
    "purges",
    metadata,
    Column("recording", String(64), ForeignKey("recordings.id"), primary_key=True),  # SHA-256 hex
    Column("object_key", String(256), nullable=False),
    Column("version_id", String(128), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("ended_at", UTCDateTime(), nullable=False),
    Column("retain_until", UTCDateTime(), nullable=False),  # the latest the catalog knew
    Column("labels", JSON, nullable=False),  # every label the recording had, oldest first
    Column("reason", Text, nullable=False),
    Column("purge_entry", BigInteger, ForeignKey("log_entries.idx"), nullable=False, unique=True),
    Column("decided_at", UTCDateTime(), nullable=False),  # the PURGE entry's time
    Column("state", String(16), nullable=False),  # see PurgeState
    Column("purged_at", UTCDateTime(), nullable=True),  # every version gone from the object store
    Column("error", Text, nullable=True),  # what the server refused, if it did
)


# -- people and access (the access package) ----------------------------------------------

users = Table(
    "users",
    metadata,
    Column("name", String(NAME_LENGTH), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("officer_id", String(PERSON_LENGTH), nullable=True, index=True),  # 警号 as in recordings.officer
    Column("display_name", String(PERSON_LENGTH), nullable=True),
    Column("password_hash", Text, nullable=True),  # argon2id PHC string
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=False),
    Column("disabled_at", UTCDateTime(), nullable=True),
    Column("disabled_by", String(NAME_LENGTH), nullable=True),
)

user_tokens = Table(
    "user_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user", String(NAME_LENGTH), ForeignKey("users.name"), nullable=False, index=True),
    Column("digest", String(64), nullable=False, unique=True),  # SHA-256 hex of the token; the token is not kept
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(NAME_LENGTH), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
)

user_events = Table(
    "user_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", UTCDateTime(), nullable=False),
    Column("actor", String(NAME_LENGTH), nullable=False),  # "(bootstrap)" for the first admin
    Column("user", String(NAME_LENGTH), nullable=False),
    Column("event", String(16), nullable=False),  # add, set-role, disable, token
    Column("detail", Text, nullable=False),
)
"""Changes to users, for listing; each row is also a USER log entry (:func:`_event`), which is what proves it."""

access_requests = Table(
    "access_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("requested_by", String(NAME_LENGTH), ForeignKey("users.name"), nullable=False),
    Column("action", String(16), nullable=False),  # copy, download, export
    Column("reason", Text, nullable=False),  # 事由
    Column("category", String(16), nullable=False),
    Column("document_ref", String(DOCUMENT_LENGTH), nullable=True),  # 文号, 律师调查令 number
    Column("requester", String(PERSON_LENGTH), nullable=True),  # the outside requester; committed in entries
    Column("party", String(PERSON_LENGTH), nullable=True),  # category party: whose recordings
    Column("created_at", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False),  # pending, approved, denied
    Column("decided_by", String(NAME_LENGTH), nullable=True),
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("decision_reason", Text, nullable=True),
    Column("expires_at", UTCDateTime(), nullable=True),
)

access_grants = Table(
    "access_grants",
    metadata,
    Column("request", Integer, ForeignKey("access_requests.id"), nullable=False),
    Column("recording", String(64), ForeignKey("recordings.id"), nullable=False),
    Column("approval_entry", BigInteger, ForeignKey("log_entries.idx"), nullable=True),
    Column("used_at", UTCDateTime(), nullable=True),
    Column("access_entry", BigInteger, ForeignKey("log_entries.idx"), nullable=True),
    PrimaryKeyConstraint("request", "recording"),
)

access_results = Table(
    "access_results",
    metadata,
    Column("entry", BigInteger, ForeignKey("log_entries.idx"), nullable=False),
    Column("recording", String(64), nullable=False),
    PrimaryKeyConstraint("entry", "recording"),
    Index("ix_access_results_recording", "recording", "entry"),
)
"""The recordings a LIST entry showed; the entry holds their count and a SHA-256 over the sorted ids."""


# -- derived files: playback proxies and redacted copies (storage.derived, the derived package) -------------

derived_files = Table(
    "derived_files",
    metadata,
    Column("entry", BigInteger, ForeignKey("log_entries.idx"), primary_key=True, autoincrement=False),  # DERIVED
    Column("recording", String(64), ForeignKey("recordings.id"), nullable=False),  # the original, untouched
    Column("kind", String(16), nullable=False),  # proxy, redacted
    Column("sha256", String(64), nullable=False),  # of the derived bytes
    Column("size", BigInteger, nullable=False),
    Column("object_key", String(256), nullable=False),  # derived/<original>/<hex>: never an original's key
    Column("version_id", String(128), nullable=False),
    Column("retain_until", UTCDateTime(), nullable=True),  # its COMPLIANCE lock (none if the original's had passed)
    Column("ffmpeg", String(256), nullable=False),  # `ffmpeg -version`'s first line
    Column("arguments", JSON, nullable=False),  # the exact ffmpeg arguments, {input} and {output} as placeholders
    Column("redaction", Integer, nullable=True),  # the redaction it renders
    Column("spec_sha256", String(64), nullable=True),
    Column("requested_by", String(NAME_LENGTH), nullable=False),
    Column("approved_by", String(NAME_LENGTH), nullable=True),
    Column("made_at", UTCDateTime(), nullable=False),  # the DERIVED entry's time
    Index("ix_derived_files_recording", "recording", "kind"),
)
"""One row per DERIVED entry; purged with the original (``purges`` says when its objects went)."""

redactions = Table(
    "redactions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("recording", String(64), ForeignKey("recordings.id"), nullable=False),
    Column("request", Integer, nullable=True),  # the party's access request (art. 29) it serves
    Column("spec", JSON, nullable=True),  # what to mute and blur; null for a no-third-parties statement
    Column("spec_sha256", String(64), nullable=True),
    Column("state", String(24), nullable=False),  # draft, submitted, approved, rejected, rendered, no-third-parties
    Column("reason", Text, nullable=False),  # why (事由); for no-third-parties, the approver's statement
    Column("created_by", String(NAME_LENGTH), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("submitted_by", String(NAME_LENGTH), nullable=True),
    Column("submitted_at", UTCDateTime(), nullable=True),
    Column("decided_by", String(NAME_LENGTH), nullable=True),  # the second custodian
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("decision_reason", Text, nullable=True),
    Column("derived_entry", BigInteger, ForeignKey("log_entries.idx"), nullable=True),  # the rendered copy
    Index("ix_redactions_recording", "recording", "id"),
)
"""Each change is a REDACTION entry (or, for ``rendered``, the DERIVED entry) in the same transaction."""

proxy_jobs = Table(
    "proxy_jobs",
    metadata,
    Column("recording", String(64), ForeignKey("recordings.id"), primary_key=True),
    Column("state", String(16), nullable=False),  # not-needed, waiting, running, done, failed
    Column("reason", Text, nullable=False),  # why a browser cannot play the original (or that it can)
    Column("station", String(64), nullable=True),  # the station working on it
    Column("progress_ms", BigInteger, nullable=False),  # of duration_ms transcoded
    Column("duration_ms", BigInteger, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("error", Text, nullable=True),
    Column("object_key", String(256), nullable=True),  # uploaded, its DERIVED entry not yet written
    Column("version_id", String(128), nullable=True),
    Column("entry", BigInteger, nullable=True),  # the DERIVED entry once done
)
"""The background proxy work per recording: progress for the pages, not evidence (the DERIVED entry is)."""
