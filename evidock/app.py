"""Wiring: build the store, catalog, journal and pipeline from the settings."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from access.gate import Gate
from access.requests import AccessPolicy
from chain.checkpoint import parse_vkey
from chain.cosignature import parse_cosigner_vkey
from chain.entries import EntryType
from derived.ffmpeg import RunOptions
from derived.making import Maker
from derived.proxies import ProxyWorker
from derived.recipes import EncodeOptions
from derived.redaction import RedactionDesk
from evidock.keys import load_signer, load_vkey
from evidock.settings import Settings
from ingest.pipeline import AfterVerify, Pipeline, PipelineOptions
from retention.calendar import WorkingCalendar
from retention.context import AlertOptions, RetentionContext
from retention.policy import Category, retain_until
from storage.catalog import Catalog
from storage.checkpoints import Checkpointer, CheckpointReader, RejectedCheckpoint
from storage.journal import Journal
from storage.objects import ObjectStore
from storage.outside_trust import OutsideTrust, Policy, Tsa, Witness
from storage.timestamping import load_chain

log = logging.getLogger(__name__)


@dataclass
class App:
    settings: Settings
    store: ObjectStore
    catalog: Catalog
    journal: Journal

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    def log_key(self, vkey: str) -> int:
        """A KEY entry: from here on, checkpoints are signed by this key."""
        with self.catalog.begin() as conn:
            return self.journal.append(
                conn, EntryType.KEY, recording=None, body={"action": "add", "vkey": vkey}, time=self.now()
            )

    def gate(self) -> Gate:
        """The access gate: every read of a recording by a person goes through it (access.gate)."""
        return Gate(
            catalog=self.catalog,
            journal=self.journal,
            store=self.store,
            policy=AccessPolicy(approval_expiry=timedelta(hours=self.settings.access.approval_expiry_hours)),
            clock=self.now,
        )

    def maker(self) -> Maker:
        """Makes derived files (playback proxies, redacted copies) of this catalog's originals (derived.making)."""
        return Maker(
            catalog=self.catalog,
            journal=self.journal,
            store=self.store,
            run_options=RunOptions(nice=self.settings.derived.nice),
            clock=self.now,
        )

    def encode_options(self) -> EncodeOptions:
        d = self.settings.derived
        return EncodeOptions(preset=d.preset, crf=d.crf, threads=d.threads, max_height=d.max_height)

    def proxy_worker(self) -> ProxyWorker:
        """The background maker of playback proxies (derived.proxies), run by the service's scheduler."""
        return ProxyWorker(self.maker(), self.settings.station_id, self.encode_options())

    def redaction_desk(self) -> RedactionDesk:
        """Redaction for the party concerned (art. 29): draft, preview, submit, approve, render (derived.redaction)."""
        return RedactionDesk(self.gate(), self.maker(), self.encode_options())

    def pipeline(self, *, after_verify: AfterVerify | None = None) -> Pipeline:
        s = self.settings

        def retention_for(ended_at: datetime) -> datetime:
            return retain_until(ended_at, s.retention, Category.ORDINARY, now=ended_at, tz=s.timezone)

        return Pipeline(
            store=self.store,
            catalog=self.catalog,
            journal=self.journal,
            options=PipelineOptions(
                station=s.station_id,
                retain_until=retention_for,
                patterns=s.name_patterns,
                timezone=s.timezone,
                checks=s.checks,
                after_verify=after_verify or s.watch.after_verify,
                move_to=s.watch.move_to,
            ),
        )


def checkpointer_for(evi: App, *, on_rejected: Callable[[RejectedCheckpoint], None] | None = None) -> Checkpointer:
    """Signs with the station's key; checkpoints are kept as long as evidence is."""
    s = evi.settings

    def keep_until(now: datetime) -> datetime:
        return retain_until(now, s.retention, Category.EVIDENCE, now=now, tz=s.timezone)

    return Checkpointer(
        store=evi.store,
        catalog=evi.catalog,
        signer=load_signer(s),
        origin=s.log.origin,
        retain_until=keep_until,
        on_rejected=on_rejected,
    )


def trust_policy(settings: Settings) -> Policy:
    """The outside witnesses, their quorum and the TSAs of config.toml (checked when the settings loaded)."""
    s = settings.log
    return Policy(
        witnesses=tuple(Witness(w.name, w.url, parse_cosigner_vkey(w.vkey)) for w in s.witnesses),
        quorum=s.witness_quorum,
        tsas=tuple(Tsa(t.name, t.url, tuple(load_chain(t.chain_pem)), t.chain_pem) for t in s.timestamping),
        timeout=s.outside_timeout_seconds,
        max_wait=timedelta(seconds=s.max_uncosigned_seconds),
    )


def outside_trust_for(evi: App) -> OutsideTrust:
    """Gathers witness cosignatures and timestamp tokens for checkpoints (a no-op when none are configured)."""
    return OutsideTrust(store=evi.store, catalog=evi.catalog, policy=trust_policy(evi.settings))


def checkpoint_reader(evi: App) -> CheckpointReader:
    """Reads the stored checkpoints with the verifier key alone (proofs need no signing key)."""
    verifier = parse_vkey(load_vkey(evi.settings))
    return CheckpointReader(store=evi.store, verifier=verifier, origin=evi.settings.log.origin)


def connect_store(settings: Settings) -> ObjectStore:
    s3 = settings.s3
    return ObjectStore.connect(
        host=s3.host,
        access_key=s3.access_key,
        secret_key=s3.secret_key,
        bucket=s3.bucket,
        region=s3.region,
        secure=s3.secure,
        part_size=s3.part_size,
        parallel_uploads=s3.parallel_uploads,
        parallel_files=settings.watch.parallel_files,
    )


@contextmanager
def open_app(settings: Settings, *, ensure_bucket: bool = True) -> Iterator[App]:
    """Everything a command needs; the bucket is created (with Object Lock) if missing."""
    store = connect_store(settings)
    if ensure_bucket:
        store.ensure_bucket()
    catalog = Catalog.open(settings.database_url)
    journal = Journal(settings.station_id)
    try:
        yield App(settings, store, catalog, journal)
    finally:
        catalog.close()
        if journal.appended:
            _appended[(settings.database_url, settings.s3.endpoint, settings.s3.bucket)] = settings


_appended: dict[tuple[str, str, str], Settings] = {}
"""The logs this process appended to (by database and bucket), for ``take_appended``."""


def take_appended() -> list[Settings]:
    """The logs appended to since the last call, each once (evidock.anchoring signs them before exit)."""
    taken = list(_appended.values())
    _appended.clear()
    return taken


def working_calendar(settings: Settings) -> WorkingCalendar:
    """The art. 26 working-day calendar: the holidays package plus config.toml's [calendar]."""
    return WorkingCalendar(overrides=settings.calendar_overrides, published_years=settings.calendar_published_years)


def working_time(settings: Settings) -> Callable[[datetime], bool]:
    """Whether a moment falls in working hours ([access] working_hours) on a working day (调休 included)."""
    calendar = working_calendar(settings)

    def is_working_time(moment: datetime) -> bool:
        return settings.access.is_working_time(moment, settings.timezone, calendar.is_working_day)

    return is_working_time


def retention_context(evi: App) -> RetentionContext:
    """What the retention commands and scheduled jobs work with (labels, evidence, alerts, purge)."""
    s = evi.settings
    return RetentionContext(
        catalog=evi.catalog,
        journal=evi.journal,
        store=evi.store,
        calendar=working_calendar(s),
        policy=s.retention,
        tz=s.timezone,
        alerts=AlertOptions(
            due_soon_working_days=s.alerts.due_soon_working_days,
            case_due_soon_days=s.alerts.case_due_soon_days,
            webhook_url=s.alerts.webhook_url,
            webhook_timeout_seconds=s.alerts.webhook_timeout_seconds,
        ),
        purge_apply=s.purge.apply,
        now=evi.now,
    )
