"""Settings: config.toml plus the environment, loaded once at the edge into one frozen object.

Every error names the key, the value found and the fix, because the person
reading it is usually setting up a dock PC with nobody to ask. Secrets (S3 keys,
the log signing key) come only from the environment, never from config.toml.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from chain.cosignature import parse_cosigner_vkey
from chain.errors import CheckpointError, EvidockError
from ingest.checking import CheckOptions
from ingest.filenames import BUILTIN_PATTERNS, NamePattern, PatternError
from ingest.pipeline import AfterVerify
from retention.policy import PERMANENT, RetentionPolicy
from storage.timestamping import tsa_chain_problem

CONFIG_ENV = "EVIDOCK_CONFIG"
ACCESS_KEY_ENV = "EVIDOCK_S3_ACCESS_KEY"
SECRET_KEY_ENV = "EVIDOCK_S3_SECRET_KEY"  # noqa: S105 - the variable's name, not a secret
SIGNING_KEY_ENV = "EVIDOCK_LOG_SIGNING_KEY"
WEBHOOK_URL_ENV = "EVIDOCK_ALERTS_WEBHOOK_URL"  # wins over alerts.webhook_url (a URL may carry a token)
DATABASE_URL_ENV = "EVIDOCK_DATABASE_URL"  # wins over database.url (a PostgreSQL URL carries a password)
S3_ENDPOINT_ENV = "EVIDOCK_S3_ENDPOINT"  # wins over s3.endpoint: `make run` names the server it started

# The local development server's keys (scripts/s3-up.sh). Used only when the
# endpoint is on loopback and the environment gives none.
DEV_ACCESS_KEY = "evidock-dev"
DEV_SECRET_KEY = "evidock-dev-secret-key-0123456789"  # noqa: S105 - throwaway loopback server


ENDPOINT_PATTERN = r"https?://[^/\s]+/?"  # scheme and host[:port], nothing after


class ConfigError(EvidockError):
    """config.toml or the environment is wrong; the message says how to fix it."""


class NodeRole(StrEnum):
    """``station.role``: what this node does in a bureau (docs/deployment.md, "One log, one signer")."""

    CENTRAL = "central"  # holds the signing key; signs checkpoints and runs the scheduled jobs while it leads
    STATION = "station"  # docks and appends to the shared catalog; holds no signing key


@dataclass(frozen=True)
class S3Settings:
    endpoint: str  # e.g. http://127.0.0.1:7480
    bucket: str
    region: str
    access_key: str
    secret_key: str
    part_size: int  # bytes per multipart part; an upload holds at most parallel_uploads parts
    parallel_uploads: int
    overridden_endpoint: str | None = None  # config.toml's s3.endpoint when $EVIDOCK_S3_ENDPOINT replaced it

    @property
    def endpoint_source(self) -> str:
        """Where ``endpoint`` comes from, said at start and by `config check`: evidence must not go elsewhere."""
        if self.overridden_endpoint is None:
            return "s3.endpoint"
        return f"${S3_ENDPOINT_ENV}, overriding s3.endpoint = {self.overridden_endpoint}"

    @property
    def secure(self) -> bool:
        return self.endpoint.startswith("https://")

    @property
    def host(self) -> str:
        return self.endpoint.split("://", 1)[1].rstrip("/")


@dataclass(frozen=True)
class WatchSettings:
    folders: tuple[Path, ...]  # one per dock slot
    ignore: tuple[str, ...]  # glob patterns of partial/temporary files
    stable_seconds: float  # size and mtime unchanged this long before a file is taken
    rescan_seconds: float  # periodic full rescan; inotify events get lost on some mounts
    after_verify: AfterVerify
    move_to: Path | None
    retry_seconds: float = 30.0  # after the object store or the catalog failed, wait this long before retrying
    parallel_files: int = 2  # files ingested at once by the service (docs/performance.md: the burst benchmark)


@dataclass(frozen=True)
class WitnessSettings:
    """One ``[[log.witnesses]]``: a witness another office runs (C2SP tlog-witness, docs/witness.md)."""

    name: str  # who runs it, as pages and the disc label show it, e.g. "区司法局 法制科"
    url: str  # its prefix: checkpoints go to POST <url>/add-checkpoint
    vkey: str  # its verifier key, <name>+<key id>+base64(0x04 ‖ key), as `evidock witness show` prints it


@dataclass(frozen=True)
class TimestampingSettings:
    """One ``[[log.timestamping]]``: an RFC 3161 time-stamping authority (TSA, 可信时间戳)."""

    name: str  # as the disc label shows it
    url: str  # its HTTP endpoint (RFC 3161 §3.4)
    chain: Path  # PEM file: the TSA certificate first, its root last
    chain_pem: bytes  # that file's contents, read (and checked) when the settings load


@dataclass(frozen=True)
class LogSettings:
    origin: str  # the log's name in checkpoints and the signing key's name
    key_file: Path  # the Ed25519 signing key (mode 0600), unless $EVIDOCK_LOG_SIGNING_KEY is set
    checkpoint_every_entries: int  # sign a checkpoint after this many new entries ...
    checkpoint_every_seconds: float  # ... or this long after the last one, if anything was added
    max_unanchored_seconds: float  # `verify` fails when an entry waits longer than this for a signed checkpoint
    witnesses: tuple[WitnessSettings, ...] = ()  # outside witnesses that cosign each new checkpoint
    witness_quorum: int = 0  # K: a checkpoint counts as witnessed with K cosignatures of the N witnesses
    timestamping: tuple[TimestampingSettings, ...] = ()  # TSAs that stamp each new checkpoint
    outside_timeout_seconds: float = 5.0  # seconds per request to a witness or a TSA
    max_uncosigned_seconds: float = 3600.0  # waiting longer for a quorum or a token: alert; verify fails


@dataclass(frozen=True)
class AlertSettings:
    """``[alerts]``: the art. 26 deadline check and where it reports."""

    check_every_minutes: int = 60  # minutes between checks; checks missed while down run once at start
    due_soon_working_days: int = 1  # working days left at or below which a label is "due soon"
    case_due_soon_days: int = 7  # calendar days before a case-file or archive due date to start alerting
    webhook_url: str | None = None  # JSON POST of every check's findings; None: the log only
    webhook_timeout_seconds: float = 10.0  # seconds


DAILY_JOB_AT = time(2, 30)  # local time of the daily retention job unless purge.daily_at says otherwise


@dataclass(frozen=True)
class PurgeSettings:
    """``[purge]``: the daily retention job (purge of expired recordings, renewal of permanent evidence)."""

    daily_at: time = DAILY_JOB_AT  # local time (station.timezone) of the daily job; missed runs run once at start
    apply: bool = True  # false: the daily job only logs what it would purge (like `evidock purge` without --apply)


@dataclass(frozen=True)
class AccessSettings:
    """``[access]``: approvals (art. 27, 29) and what `evidock audit anomalies` flags."""

    approval_expiry_hours: int = 72  # hours an approved request stays usable after the decision
    bulk_threshold: int = 20  # more distinct recordings than this by one person within an hour is "bulk"
    working_start: time = time(8, 30)  # local time (station.timezone) working hours begin, on working days
    working_end: time = time(17, 30)  # local time working hours end

    def is_working_time(self, moment: datetime, tz: ZoneInfo, is_working_day: Callable[[date], bool]) -> bool:
        local = moment.astimezone(tz)
        return is_working_day(local.date()) and self.working_start <= local.time() < self.working_end


@dataclass(frozen=True)
class WebSettings:
    """``[web]``: sessions and logins of the web pages (docs/web.md)."""

    secure_cookies: bool | None = None  # None ("auto"): Secure when the request came over https (a TLS proxy)
    session_idle_minutes: int = 30  # minutes without a request before a session ends
    session_hours: int = 12  # hours after login a session ends in any case
    login_attempts: int = 5  # failed logins in a row per (user name, client address), then a wait that doubles ...
    login_window_minutes: int = 15  # ... up to this many minutes; a pair quiet this long starts again
    trusted_proxies: tuple[str, ...] = ()  # addresses/networks whose X-Forwarded-For is believed; none by default


@dataclass(frozen=True)
class HealthSettings:
    """``[health]``: when ``/health`` says ``degraded`` (evidock.health)."""

    waiting_limit_minutes: int = 30  # a docked file waiting longer than this to be stored and released
    min_free_mib: int = 1024  # MiB free on the catalog's, the watch folders' or the release folder's disk


@dataclass(frozen=True)
class ExportSettings:
    """``[export]``: where disc images go when the web pages start an export (docs/export.md)."""

    out_dir: Path = Path("var/exports")  # created on first use; never inside a watched folder


@dataclass(frozen=True)
class PublicationSettings:
    """``[publication]``: who publishes and where the static feed goes (公示办法 art. 9; docs/decisions.md)."""

    authority: str | None = None  # 执法主体 as published, e.g. "市人社局"; publishing is refused until it is set
    feed_dir: Path = Path("var/feed")  # the static feed (HTML in Chinese and JSON) the bureau's website serves


@dataclass(frozen=True)
class DerivedSettings:
    """``[derived]``: playback proxies made in the background, how ffmpeg makes derived files (docs/derived.md)."""

    proxies: bool = True  # give recordings a browser cannot play an H.264/AAC proxy, after ingest
    poll_seconds: int = 30  # how often the service looks for recordings that need a proxy
    preset: str = "veryfast"  # x264 preset of proxies and redacted copies (speed against size)
    crf: int = 23  # x264 quality (lower: better and larger)
    threads: int = 2  # ffmpeg threads; fixed so a derived file is the same on every run
    max_height: int = 1080  # pixels; a taller original's proxy is scaled down (redacted copies keep the size)
    nice: int = 19  # ffmpeg's CPU priority: 19 uses only what ingest leaves


@dataclass(frozen=True)
class Settings:
    source: Path | None  # the config file, None when built in code
    station_id: str
    timezone: ZoneInfo
    watch: WatchSettings
    s3: S3Settings
    database_url: str
    retention: RetentionPolicy
    log: LogSettings
    checks: CheckOptions = field(default_factory=CheckOptions)
    name_patterns: tuple[NamePattern, ...] = BUILTIN_PATTERNS
    calendar_overrides: Mapping[date, bool] = field(default_factory=dict)
    calendar_published_years: frozenset[int] = frozenset()
    alerts: AlertSettings = AlertSettings()
    purge: PurgeSettings = PurgeSettings()
    access: AccessSettings = AccessSettings()
    web: WebSettings = WebSettings()
    export: ExportSettings = ExportSettings()
    health: HealthSettings = HealthSettings()
    role: NodeRole = NodeRole.CENTRAL  # a dock PC on its own is central too: it signs its own log
    publication: PublicationSettings = PublicationSettings()
    derived: DerivedSettings = DerivedSettings()

    def masked(self) -> dict[str, Any]:
        """The effective configuration with secrets masked, for `evidock config check`."""
        return {
            "config_file": str(self.source) if self.source else None,
            "station.id": self.station_id,
            "station.role": self.role.value,
            "station.timezone": str(self.timezone),
            "watch.folders": [str(p) for p in self.watch.folders],
            "watch.ignore": list(self.watch.ignore),
            "watch.stable_seconds": self.watch.stable_seconds,
            "watch.rescan_seconds": self.watch.rescan_seconds,
            "watch.after_verify": self.watch.after_verify.value,
            "watch.move_to": str(self.watch.move_to) if self.watch.move_to else None,
            "watch.retry_seconds": self.watch.retry_seconds,
            "watch.parallel_files": self.watch.parallel_files,
            "s3.endpoint": self.s3.endpoint,
            "s3.endpoint_source": self.s3.endpoint_source,
            "s3.bucket": self.s3.bucket,
            "s3.region": self.s3.region,
            "s3.access_key": _mask(self.s3.access_key),
            "s3.secret_key": _mask(self.s3.secret_key),
            "s3.part_size_mib": self.s3.part_size // (1024 * 1024),
            "s3.parallel_uploads": self.s3.parallel_uploads,
            "database.url": make_url(self.database_url).render_as_string(hide_password=True),
            "log.origin": self.log.origin,
            "log.key_file": str(self.log.key_file),
            "log.checkpoint_every_entries": self.log.checkpoint_every_entries,
            "log.checkpoint_every_seconds": self.log.checkpoint_every_seconds,
            "log.max_unanchored_seconds": self.log.max_unanchored_seconds,
            "log.witnesses": [{"name": w.name, "url": w.url, "vkey": w.vkey} for w in self.log.witnesses],
            "log.witness_quorum": self.log.witness_quorum,
            "log.timestamping": [{"name": t.name, "url": t.url, "chain": str(t.chain)} for t in self.log.timestamping],
            "log.outside_timeout_seconds": self.log.outside_timeout_seconds,
            "log.max_uncosigned_seconds": self.log.max_uncosigned_seconds,
            "retention.minimum_days": self.retention.minimum_days,
            "retention.evidence_years": self.retention.evidence_years,
            "retention.permanent_window_days": self.retention.permanent_window_days,
            "retention.permanent_renew_within_days": self.retention.permanent_renew_within_days,
            "checks": {
                "clock_tolerance_seconds": self.checks.clock_tolerance.total_seconds(),
                "clock_unverified_after_days": self.checks.unverified_after.days,
                "split_tolerance_seconds": self.checks.split_tolerance.total_seconds(),
                "overlap_tolerance_seconds": self.checks.overlap_tolerance.total_seconds(),
                "jump_threshold_seconds": self.checks.jump_threshold.total_seconds(),
                "deep_scan": self.checks.deep_scan,
                "device_timezone": str(self.checks.device_timezone or self.timezone),
            },
            "names.patterns": [p.name for p in self.name_patterns],
            "calendar.published_years": sorted(self.calendar_published_years),
            "calendar.overrides": {
                d.isoformat(): "workday" if w else "holiday" for d, w in self.calendar_overrides.items()
            },
            "alerts.check_every_minutes": self.alerts.check_every_minutes,
            "alerts.due_soon_working_days": self.alerts.due_soon_working_days,
            "alerts.case_due_soon_days": self.alerts.case_due_soon_days,
            "alerts.webhook_url": _mask_url(self.alerts.webhook_url),
            "alerts.webhook_timeout_seconds": self.alerts.webhook_timeout_seconds,
            "purge.daily_at": self.purge.daily_at.strftime("%H:%M"),
            "purge.apply": self.purge.apply,
            "web.secure_cookies": "auto" if self.web.secure_cookies is None else self.web.secure_cookies,
            "web.session_idle_minutes": self.web.session_idle_minutes,
            "web.session_hours": self.web.session_hours,
            "web.login_attempts": self.web.login_attempts,
            "web.login_window_minutes": self.web.login_window_minutes,
            "web.trusted_proxies": list(self.web.trusted_proxies),
            "export.out_dir": str(self.export.out_dir),
            "publication.authority": self.publication.authority,
            "publication.feed_dir": str(self.publication.feed_dir),
            "health.waiting_limit_minutes": self.health.waiting_limit_minutes,
            "health.min_free_mib": self.health.min_free_mib,
            "derived": {
                "proxies": self.derived.proxies,
                "poll_seconds": self.derived.poll_seconds,
                "preset": self.derived.preset,
                "crf": self.derived.crf,
                "threads": self.derived.threads,
                "max_height": self.derived.max_height,
                "nice": self.derived.nice,
            },
            "access.approval_expiry_hours": self.access.approval_expiry_hours,
            "access.bulk_threshold": self.access.bulk_threshold,
            "access.working_hours": (
                f"{self.access.working_start.strftime('%H:%M')}-{self.access.working_end.strftime('%H:%M')}"
            ),
        }


def _mask(secret: str) -> str:
    return secret[:3] + "***" if len(secret) > 6 else "***"


def _mask_url(url: str | None) -> str | None:
    """A webhook URL without its path and query, which often carry a token."""
    if url is None:
        return None
    if "://" not in url:
        return "***"
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}/***"


def find_config(explicit: Path | None) -> Path:
    """The config file: --config, then $EVIDOCK_CONFIG, then ./config.toml."""
    if explicit is not None:
        return explicit
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return Path(from_env)
    return Path("config.toml")


def load(path: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate config.toml; relative paths are relative to the file's folder."""
    env = os.environ if environ is None else environ
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{path}: no such config file; copy config.toml from the repository "
            f"or pass --config PATH (or set {CONFIG_ENV})"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return parse(raw, base=path.resolve().parent, source=path, environ=env)


def parse(raw: Mapping[str, Any], *, base: Path, source: Path | None, environ: Mapping[str, str]) -> Settings:
    r = _Reader(raw, source)
    station_id = r.text("station.id", default="dock-01")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", station_id):
        r.fail("station.id", station_id, "use 1-64 letters, digits, '.', '_' or '-'")
    tz_name = r.text("station.timezone", default="Asia/Shanghai")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        r.fail("station.timezone", tz_name, 'use an IANA zone name such as "Asia/Shanghai"')

    folders = r.text_list("watch.folders", default=["inbox"])
    if not folders:
        r.fail("watch.folders", folders, 'list at least one folder, e.g. folders = ["inbox"]')
    after = r.text("watch.after_verify", default="keep")
    try:
        after_verify = AfterVerify(after)
    except ValueError:
        r.fail("watch.after_verify", after, 'use "keep", "move" or "delete"')
    move_to_raw = r.optional_text("watch.move_to")
    if after_verify is AfterVerify.MOVE and not move_to_raw:
        r.fail("watch.move_to", move_to_raw, 'after_verify = "move" needs a folder, e.g. "released"')
    watch = WatchSettings(
        folders=tuple(_resolve(r, "watch.folders", base, f) for f in folders),
        ignore=tuple(
            r.text_list(
                "watch.ignore",
                default=["*.part", "*.tmp", "*.temp", "*.crdownload", ".*", "~*"],
            )
        ),
        stable_seconds=r.number("watch.stable_seconds", default=2.0, low=0.0, high=3600.0),
        rescan_seconds=r.number("watch.rescan_seconds", default=30.0, low=1.0, high=86400.0),
        after_verify=after_verify,
        move_to=_resolve(r, "watch.move_to", base, move_to_raw) if move_to_raw else None,
        retry_seconds=r.number("watch.retry_seconds", default=30.0, low=1.0, high=3600.0),
        parallel_files=r.integer("watch.parallel_files", default=2, low=1, high=16),
    )

    s3 = _s3(r, environ)

    db_url = _database_url(r, base, environ)

    evidence_years = r.raw("retention.evidence_years")
    if evidence_years is None:
        evidence_years = 30
    elif evidence_years != PERMANENT and type(evidence_years) is not int:
        r.fail("retention.evidence_years", evidence_years, f'use a number of years (e.g. 30) or "{PERMANENT}"')
    # RetentionPolicy itself refuses values below art. 27's floor, naming key, value and fix.
    retention = RetentionPolicy(
        minimum_days=r.integer("retention.minimum_days", default=92, low=0, high=100 * 366),
        evidence_years=evidence_years,
        permanent_window_days=r.integer("retention.permanent_window_days", default=365, low=2, high=100 * 366),
        permanent_renew_within_days=r.integer(
            "retention.permanent_renew_within_days", default=90, low=1, high=100 * 366
        ),
    )

    origin = r.text("log.origin", default="evidock.local/log")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,127}", origin):
        r.fail("log.origin", origin, "use letters, digits, '.', '_', '-' or '/' (no spaces, no '+')")
    every_seconds = r.number("log.checkpoint_every_seconds", default=300.0, low=1.0, high=86400.0)
    log_settings = LogSettings(
        origin=origin,
        key_file=_resolve(r, "log.key_file", base, r.text("log.key_file", default="var/log-signing.key")),
        checkpoint_every_entries=r.integer("log.checkpoint_every_entries", default=100, low=1, high=10**9),
        checkpoint_every_seconds=every_seconds,
        max_unanchored_seconds=_max_unanchored(r, every_seconds),
        **_outside_trust(r, base),
    )
    checks = CheckOptions(
        clock_tolerance=_seconds(r, "checks.clock_tolerance_seconds", 3.0, high=3600.0),
        unverified_after=timedelta(days=r.integer("checks.clock_unverified_after_days", default=1, low=1, high=3650)),
        name_time_tolerance=_seconds(r, "checks.name_time_tolerance_seconds", 2.0, high=86400.0),
        split_tolerance=_seconds(r, "checks.split_tolerance_seconds", 2.0, high=3600.0),
        overlap_tolerance=_seconds(r, "checks.overlap_tolerance_seconds", 1.5, high=3600.0),
        jump_threshold=_seconds(r, "checks.jump_threshold_seconds", 1.0, high=3600.0),
        deep_scan=r.boolean("checks.deep_scan", default=True),
        device_timezone=_device_timezone(r),
    )
    role = _role(r, db_url, log_settings.key_file, environ)
    patterns = _name_patterns(r)
    overrides, published = _calendar(r)
    alerts = _alerts(r, environ)
    purge = _purge(r)
    access = _access(r)
    return Settings(
        source=source,
        station_id=station_id,
        timezone=tz,
        watch=watch,
        s3=s3,
        database_url=db_url,
        retention=retention,
        log=log_settings,
        checks=checks,
        name_patterns=patterns,
        calendar_overrides=overrides,
        calendar_published_years=published,
        alerts=alerts,
        purge=purge,
        access=access,
        web=_web(r),
        export=_export(r, base, watch),
        publication=_publication(r, base, watch),
        health=HealthSettings(
            waiting_limit_minutes=r.integer("health.waiting_limit_minutes", default=30, low=1, high=7 * 24 * 60),
            min_free_mib=r.integer("health.min_free_mib", default=1024, low=0, high=1024**3),
        ),
        role=role,
        derived=_derived(r),
    )


X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


def _derived(r: _Reader) -> DerivedSettings:
    preset = r.text("derived.preset", default="veryfast")
    if preset not in X264_PRESETS:
        r.fail("derived.preset", preset, f"use an x264 preset: {', '.join(X264_PRESETS)}")
    return DerivedSettings(
        proxies=r.boolean("derived.proxies", default=True),
        poll_seconds=r.integer("derived.poll_seconds", default=30, low=1, high=24 * 3600),
        preset=preset,
        crf=r.integer("derived.crf", default=23, low=0, high=51),
        threads=r.integer("derived.threads", default=2, low=1, high=64),
        max_height=r.integer("derived.max_height", default=1080, low=144, high=4320),
        nice=r.integer("derived.nice", default=19, low=0, high=19),
    )


def _role(r: _Reader, db_url: str, key_file: Path, environ: Mapping[str, str]) -> NodeRole:
    """``station.role``; a station shares a PostgreSQL catalog and holds no signing key (only central nodes sign)."""
    value = r.text("station.role", default=NodeRole.CENTRAL.value)
    try:
        role = NodeRole(value)
    except ValueError:
        r.fail(
            "station.role",
            value,
            'use "station" (docks and appends to the shared catalog; holds no signing key) or "central" '
            "(signs checkpoints and runs the scheduled jobs; the default, and what a dock PC on its own is)",
        )
    if role is NodeRole.CENTRAL:
        return role
    if make_url(db_url).get_backend_name() != "postgresql":
        r.fail(
            "station.role",
            value,
            "a station appends to the bureau's shared PostgreSQL catalog, where a central node signs; with a "
            'SQLite catalog nothing would sign this log: set role = "central" for a dock PC on its own, or point '
            f"database.url (or {DATABASE_URL_ENV}) at the bureau's PostgreSQL",
        )
    if environ.get(SIGNING_KEY_ENV):
        r.fail(
            "station.role",
            value,
            f"a station holds no signing key, but {SIGNING_KEY_ENV} is set: unset it here (only the central "
            'node signs), or set role = "central"',
        )
    if key_file.exists():
        r.fail(
            "station.role",
            value,
            f"a station holds no signing key, but log.key_file {str(key_file)!r} exists: move it to the central "
            'node (it signs for every station), or set role = "central"',
        )
    return role


def _s3(r: _Reader, environ: Mapping[str, str]) -> S3Settings:
    """``[s3]``; ``$EVIDOCK_S3_ENDPOINT`` replaces ``s3.endpoint`` (the replaced value is kept, to be said)."""
    endpoint = r.text("s3.endpoint", default="http://127.0.0.1:7480")
    if not re.fullmatch(ENDPOINT_PATTERN, endpoint):
        r.fail("s3.endpoint", endpoint, 'use a URL with scheme and host, e.g. "http://127.0.0.1:7480"')
    overridden = None
    if environ.get(S3_ENDPOINT_ENV):
        overridden, endpoint = endpoint.rstrip("/"), environ[S3_ENDPOINT_ENV]
        if not re.fullmatch(ENDPOINT_PATTERN, endpoint):
            raise ConfigError(
                f"{S3_ENDPOINT_ENV}={endpoint!r} is not an S3 endpoint; "
                'use a URL with scheme and host, e.g. "http://127.0.0.1:7480", or unset it to use s3.endpoint'
            )
    bucket = r.text("s3.bucket", default="evidock")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
        r.fail("s3.bucket", bucket, "use 3-63 lower-case letters, digits, '.' or '-'")
    access_key, secret_key = _s3_keys(endpoint, environ)
    part_mib = r.integer("s3.part_size_mib", default=8, low=5, high=5 * 1024)
    return S3Settings(
        endpoint=endpoint.rstrip("/"),
        bucket=bucket,
        region=r.text("s3.region", default="us-east-1"),
        access_key=access_key,
        secret_key=secret_key,
        part_size=part_mib * 1024 * 1024,
        parallel_uploads=r.integer("s3.parallel_uploads", default=3, low=1, high=16),
        overridden_endpoint=overridden,
    )


def _export(r: _Reader, base: Path, watch: WatchSettings) -> ExportSettings:
    out_dir = _resolve(r, "export.out_dir", base, r.text("export.out_dir", default="var/exports"))
    for folder in watch.folders:
        if out_dir.resolve().is_relative_to(folder.resolve()):
            r.fail("export.out_dir", str(out_dir), f"choose a folder outside the watched folder {folder}")
    return ExportSettings(out_dir=out_dir)


def _publication(r: _Reader, base: Path, watch: WatchSettings) -> PublicationSettings:
    authority = r.optional_text("publication.authority")
    if authority is not None and (len(authority) > 128 or any(c in authority for c in "\n\r\t")):
        r.fail("publication.authority", authority, 'use the authority\'s name on one line, e.g. "市人社局"')
    feed_dir = _resolve(r, "publication.feed_dir", base, r.text("publication.feed_dir", default="var/feed"))
    for folder in watch.folders:
        if feed_dir.resolve().is_relative_to(folder.resolve()):
            r.fail("publication.feed_dir", str(feed_dir), f"choose a folder outside the watched folder {folder}")
    return PublicationSettings(authority=authority, feed_dir=feed_dir)


def _web(r: _Reader) -> WebSettings:
    secure = r.raw("web.secure_cookies")
    if secure is not None and secure != "auto" and not isinstance(secure, bool):
        r.fail("web.secure_cookies", secure, 'use "auto" (Secure behind TLS), true or false')
    return WebSettings(
        secure_cookies=None if secure in (None, "auto") else bool(secure),
        session_idle_minutes=r.integer("web.session_idle_minutes", default=30, low=1, high=24 * 60),
        session_hours=r.integer("web.session_hours", default=12, low=1, high=24 * 7),
        login_attempts=r.integer("web.login_attempts", default=5, low=1, high=1000),
        login_window_minutes=r.integer("web.login_window_minutes", default=15, low=1, high=24 * 60),
        trusted_proxies=_proxies(r),
    )


def _proxies(r: _Reader) -> tuple[str, ...]:
    """The reverse proxies whose ``X-Forwarded-For`` names the client (rate limits key on that address)."""
    given = r.text_list("web.trusted_proxies", default=[])
    for proxy in given:
        try:
            ipaddress.ip_network(proxy.strip(), strict=False)
        except ValueError:
            r.fail(
                "web.trusted_proxies",
                given,
                f"{proxy!r} is not an IP address or network: list your TLS proxy's address, e.g. "
                'trusted_proxies = ["127.0.0.1"] when it runs on this machine, or [] for no proxy',
            )
    return tuple(p.strip() for p in given)


def _access(r: _Reader) -> AccessSettings:
    hours = r.text("access.working_hours", default="08:30-17:30")
    match = re.fullmatch(r"(\d\d):(\d\d)-(\d\d):(\d\d)", hours)
    try:
        start = time(int(match[1]), int(match[2])) if match else None
        end = time(int(match[3]), int(match[4])) if match else None
    except ValueError:
        start = end = None
    if start is None or end is None or start >= end:
        r.fail("access.working_hours", hours, 'use local "HH:MM-HH:MM" with the start first, e.g. "08:30-17:30"')
    return AccessSettings(
        approval_expiry_hours=r.integer("access.approval_expiry_hours", default=72, low=1, high=24 * 90),
        bulk_threshold=r.integer("access.bulk_threshold", default=20, low=1, high=100_000),
        working_start=start,
        working_end=end,
    )


def _alerts(r: _Reader, environ: Mapping[str, str]) -> AlertSettings:
    url = environ.get(WEBHOOK_URL_ENV) or r.optional_text("alerts.webhook_url")
    if url is not None and not re.fullmatch(r"https?://[^/\s]+(/\S*)?", url):
        key = WEBHOOK_URL_ENV if environ.get(WEBHOOK_URL_ENV) else "alerts.webhook_url"
        r.fail(key, _mask_url(url), 'use an http(s) URL such as "https://alerts.example.gov.cn/evidock", or ""')
    return AlertSettings(
        check_every_minutes=r.integer("alerts.check_every_minutes", default=60, low=1, high=24 * 60),
        due_soon_working_days=r.integer("alerts.due_soon_working_days", default=1, low=0, high=30),
        case_due_soon_days=r.integer("alerts.case_due_soon_days", default=7, low=0, high=366),
        webhook_url=url,
        webhook_timeout_seconds=r.number("alerts.webhook_timeout_seconds", default=10.0, low=0.5, high=300.0),
    )


def _database_url(r: _Reader, base: Path, environ: Mapping[str, str]) -> str:
    """$EVIDOCK_DATABASE_URL as given, else database.url with a relative SQLite path relative to the file."""
    from_env = environ.get(DATABASE_URL_ENV)
    key = DATABASE_URL_ENV if from_env else "database.url"
    url = from_env or r.text("database.url", default="sqlite:///var/evidock.db")
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        r.fail(key, "(not a URL)", 'use "sqlite:///var/evidock.db" or "postgresql+psycopg://USER:PASSWORD@HOST/DB"')
    if backend not in {"sqlite", "postgresql"}:
        r.fail(key, backend, 'use "sqlite:///var/evidock.db" or "postgresql+psycopg://USER:PASSWORD@HOST/DB"')
    if not from_env and url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        url = "sqlite:///" + str(_resolve(r, "database.url", base, url.removeprefix("sqlite:///")))
    return url


def _purge(r: _Reader) -> PurgeSettings:
    at = r.text("purge.daily_at", default="02:30")
    try:
        daily_at = time.fromisoformat(at) if re.fullmatch(r"\d\d:\d\d", at) else None
    except ValueError:
        daily_at = None
    if daily_at is None:
        r.fail("purge.daily_at", at, 'use a local time "HH:MM", e.g. "02:30"')
    apply = r.raw("purge.apply")
    if apply is None:
        apply = True
    elif not isinstance(apply, bool):
        r.fail("purge.apply", apply, "use true (the daily job purges) or false (it only reports)")
    return PurgeSettings(daily_at=daily_at, apply=apply)


def _s3_keys(endpoint: str, environ: Mapping[str, str]) -> tuple[str, str]:
    access = environ.get(ACCESS_KEY_ENV, "")
    secret = environ.get(SECRET_KEY_ENV, "")
    if access and secret:
        return access, secret
    if re.match(r"https?://(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?/?$", endpoint):
        return access or DEV_ACCESS_KEY, secret or DEV_SECRET_KEY
    raise ConfigError(
        f"s3.endpoint = {endpoint!r} is not the local development server, and "
        f"{ACCESS_KEY_ENV} / {SECRET_KEY_ENV} are not set; export both (keys never go in config.toml)"
    )


def _name_patterns(r: _Reader) -> tuple[NamePattern, ...]:
    """[names.patterns.NAME] tables (regex, start_format, example); none given means the built-in three."""
    table = r.table("names.patterns")
    if not table:
        return BUILTIN_PATTERNS
    patterns = []
    for name, spec in table.items():
        key = f"names.patterns.{name}"
        if not isinstance(spec, Mapping) or not isinstance(spec.get("regex"), str):
            r.fail(key, spec, 'give a table with regex = "..." (named groups device, start; officer, seq optional)')
        try:
            patterns.append(
                NamePattern.compile(
                    name,
                    spec["regex"],
                    start_format=str(spec.get("start_format", "%Y%m%d%H%M%S")),
                    example=str(spec.get("example", "")),
                )
            )
        except PatternError as exc:
            r.fail(f"{key}.regex", spec["regex"], str(exc))
    return tuple(patterns)


def _calendar(r: _Reader) -> tuple[dict[date, bool], frozenset[int]]:
    overrides: dict[date, bool] = {}
    for day, kind in r.table("calendar.overrides").items():
        key = f'calendar.overrides."{day}"'
        try:
            parsed = date.fromisoformat(day)
        except ValueError:
            r.fail(key, day, 'use ISO dates as keys, e.g. "2027-02-07" = "workday"')
        if kind not in ("workday", "holiday"):
            r.fail(key, kind, 'use "workday" (调休 make-up day) or "holiday"')
        overrides[parsed] = kind == "workday"
    years = r.int_list("calendar.published_years", default=[])
    return overrides, frozenset(years)


UNANCHORED_MARGIN_SECONDS = 60.0  # beyond the service's cadence: a slow signing or a busy machine


def _max_unanchored(r: _Reader, every_seconds: float) -> float:
    """``log.max_unanchored_seconds``: never below what the service itself may take to sign new entries."""
    key = "log.max_unanchored_seconds"
    limit = r.number(key, default=max(900.0, every_seconds + UNANCHORED_MARGIN_SECONDS), low=1.0, high=7 * 86400.0)
    floor = every_seconds + UNANCHORED_MARGIN_SECONDS
    if limit < floor:
        r.fail(
            key,
            r.raw(key),
            f"the service signs new entries within log.checkpoint_every_seconds = {every_seconds:g} s, so "
            f"`evidock verify` would fail on a healthy log; use at least {floor:g} (or sign more often)",
        )
    return limit


def _outside_trust(r: _Reader, base: Path) -> dict[str, Any]:
    """``[[log.witnesses]]``, ``log.witness_quorum`` and ``[[log.timestamping]]`` (docs/witness.md)."""
    witnesses = tuple(_witness(r, n, entry) for n, entry in enumerate(r.table_list("log.witnesses"), start=1))
    for kind, values in (("name", [w.name for w in witnesses]), ("vkey", [w.vkey for w in witnesses])):
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            r.fail(f"log.witnesses[].{kind}", twice[0], f"each witness is listed once; remove the second {kind}")
    quorum_raw = r.raw("log.witness_quorum")
    if quorum_raw is not None and not witnesses:
        r.fail("log.witness_quorum", quorum_raw, "no [[log.witnesses]] are configured: add them, or remove the key")
    quorum = r.integer("log.witness_quorum", default=len(witnesses), low=1, high=max(1, len(witnesses)))
    timestamping = tuple(
        _timestamping(r, base, n, entry) for n, entry in enumerate(r.table_list("log.timestamping"), start=1)
    )
    return {
        "witnesses": witnesses,
        "witness_quorum": quorum if witnesses else 0,
        "timestamping": timestamping,
        "outside_timeout_seconds": r.number("log.outside_timeout_seconds", default=5.0, low=0.5, high=120.0),
        "max_uncosigned_seconds": r.number("log.max_uncosigned_seconds", default=3600.0, low=1.0, high=30 * 86400.0),
    }


def _witness(r: _Reader, number: int, entry: Mapping[str, Any]) -> WitnessSettings:
    key = f"log.witnesses[{number}]"
    name, url, vkey = entry.get("name"), entry.get("url"), entry.get("vkey")
    if not isinstance(name, str) or not name.strip() or "\n" in name:
        r.fail(f"{key}.name", name, 'name who runs the witness in one line, e.g. name = "区司法局 法制科"')
    if not isinstance(url, str) or not re.fullmatch(r"https?://[^/\s]+(/\S*)?", url):
        r.fail(f"{key}.url", url, 'use the witness\'s http(s) address, e.g. url = "https://witness.fazhi.example:7380"')
    if not isinstance(vkey, str):
        r.fail(f"{key}.vkey", vkey, "give the key `evidock witness show` prints on the witness's machine")
    try:
        parse_cosigner_vkey(vkey)
    except CheckpointError as exc:
        r.fail(
            f"{key}.vkey",
            vkey,
            f"{exc}; give the witness key `evidock witness show` prints (type 0x04, not the log's own key)",
        )
    return WitnessSettings(name=name.strip(), url=url.rstrip("/"), vkey=vkey.strip())


def _timestamping(r: _Reader, base: Path, number: int, entry: Mapping[str, Any]) -> TimestampingSettings:
    key = f"log.timestamping[{number}]"
    url, chain = entry.get("url"), entry.get("chain")
    if not isinstance(url, str) or not re.fullmatch(r"https?://[^/\s]+(/\S*)?", url):
        r.fail(f"{key}.url", url, 'use the TSA\'s RFC 3161 http(s) address, e.g. url = "https://tsa.example.cn/tsa"')
    if not isinstance(chain, str) or not chain:
        r.fail(f"{key}.chain", chain, 'give the PEM file of the TSA certificate and its chain, e.g. chain = "tsa.pem"')
    path = _resolve(r, f"{key}.chain", base, chain)
    try:
        pem = path.read_bytes()
    except OSError as exc:
        r.fail(f"{key}.chain", chain, f"cannot read {path} ({exc.strerror}); put the TSA's PEM chain there")
    problem = tsa_chain_problem(pem)
    if problem is not None:
        r.fail(f"{key}.chain", chain, f"{problem}; ask the TSA for its certificate and chain in PEM, TSA first")
    name = entry.get("name", url)
    if not isinstance(name, str) or not name.strip() or "\n" in name:
        r.fail(f"{key}.name", name, 'name the TSA in one line, e.g. name = "国家授时中心 可信时间戳"')
    return TimestampingSettings(name=name.strip(), url=url, chain=path, chain_pem=pem)


def _device_timezone(r: _Reader) -> ZoneInfo | None:
    """``[checks] device_timezone``: the zone of embedded times without one; unset, the station's."""
    name = r.optional_text("checks.device_timezone")
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        r.fail("checks.device_timezone", name, 'use an IANA zone name such as "Asia/Shanghai"')


def _seconds(r: _Reader, key: str, default: float, *, high: float) -> timedelta:
    return timedelta(seconds=r.number(key, default=default, low=0.0, high=high))


def _resolve(r: _Reader, key: str, base: Path, value: str) -> Path:
    if "\x00" in value:
        r.fail(key, value, "a path cannot hold a NUL character")
    try:
        path = Path(value).expanduser()
    except RuntimeError:  # "~user/..." of a user this machine does not know
        r.fail(key, value, "the ~user in this path is unknown here; give the folder without ~")
    return path if path.is_absolute() else base / path


class _Reader:
    """Typed access to nested TOML keys, failing with the key, the value and the fix."""

    def __init__(self, raw: Mapping[str, Any], source: Path | None) -> None:
        self._raw = raw
        self._where = str(source) if source else "config"

    def fail(self, key: str, value: object, fix: str) -> NoReturn:
        raise ConfigError(f"{self._where}: {key} = {value!r}: {fix}")

    def _get(self, key: str) -> object:
        node: object = self._raw
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        return node

    def raw(self, key: str) -> object:
        return self._get(key)

    def table(self, key: str) -> Mapping[str, Any]:
        value = self._get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(key, value, f"make [{key}] a table")
        return value

    def table_list(self, key: str) -> list[Mapping[str, Any]]:
        """An array of tables (``[[key]]``); none given is an empty list."""
        value = self._get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            self.fail(key, value, f"write each one as a [[{key}]] table")
        return list(value)

    def text(self, key: str, *, default: str) -> str:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, str) or not value:
            self.fail(key, value, f'use a non-empty string, e.g. {key.rsplit(".", maxsplit=1)[-1]} = "{default}"')
        return value

    def optional_text(self, key: str) -> str | None:
        value = self._get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            self.fail(key, value, "use a string")
        return value

    def text_list(self, key: str, *, default: list[str]) -> list[str]:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(key, value, f"use a list of strings, e.g. {key.rsplit('.', maxsplit=1)[-1]} = {default!r}")
        return list(value)

    def int_list(self, key: str, *, default: list[int]) -> list[int]:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, list) or not all(type(v) is int for v in value):
            self.fail(key, value, "use a list of years, e.g. published_years = [2026, 2027]")
        return list(value)

    def number(self, key: str, *, default: float, low: float, high: float) -> float:
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            self.fail(key, value, f"use a number of seconds between {low:g} and {high:g}")
        return float(value)

    def boolean(self, key: str, *, default: bool) -> bool:
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(key, value, "use true or false")
        return value

    def integer(self, key: str, *, default: int, low: int, high: int) -> int:
        value = self._get(key)
        if value is None:
            return default
        if type(value) is not int or not low <= value <= high:
            self.fail(key, value, f"use a whole number between {low} and {high}")
        return value
