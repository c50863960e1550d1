"""Alerts: art. 26 labels due soon or overdue, case files and archive handovers due, and the decision deadlines.

``check`` looks at the catalog at ``now``: every unlabelled recording whose
deadline is near (``alerts.due_soon_working_days``) or past, and every closed
case whose case-file or archive date is within ``alerts.case_due_soon_days``
or past and not done; and every legal review (法制审核办法 art. 12) and
publication (公示办法 art. 9) due soon or overdue (``retention.decision_dues``).
``notify`` tells people: a log line (warning when
anything is overdue), a JSON POST to ``alerts.webhook_url`` if configured, and
a row in ``alert_runs`` whose summary `evidock status` shows. A webhook that
fails is logged and recorded, never raised: the check itself must not die
because a chat server is down.

The scheduler (``retention.jobs``) runs ``run`` every ``alerts.check_every_minutes``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Final

from cases.register import all_cases
from retention.compliance import CaseDue, case_dues, track
from retention.context import RetentionContext
from retention.deadlines import StatusKind
from retention.decision_dues import DecisionDue, decision_dues
from retention.tracking import Tracked, describe
from storage.recording_facts import recording_facts
from storage.status import AlertRun, record_alert_run

__all__ = ["AlertReport", "check", "notify", "post_json", "run"]

log = logging.getLogger(__name__)

WEBHOOK_ITEMS: Final = 500  # recordings listed per kind in one webhook message; the counts are always complete


@dataclass(frozen=True)
class AlertReport:
    checked_at: dt.datetime
    due_soon: list[Tracked]  # unlabelled, the due second is near
    overdue: list[Tracked]  # unlabelled, the due second has passed
    cases_due: list[CaseDue]  # case file / archive due soon or overdue, not done
    warnings: tuple[str, ...]  # unpublished holiday schedules the deadlines depend on
    decisions_due: list[DecisionDue] = field(default_factory=list)  # reviews and publications due soon or overdue

    def summary(self, ctx: RetentionContext) -> str:
        when = self.checked_at.astimezone(ctx.tz).strftime("%Y-%m-%d %H:%M")
        case_overdue = sum(d.days_left < 0 for d in self.cases_due)
        text = (
            f"art. 26 check {when} ({ctx.tz}): {len(self.overdue)} recording(s) overdue for labels, "
            f"{len(self.due_soon)} due soon; {len(self.cases_due)} case file/archive date(s) due "
            f"({case_overdue} overdue); {len(self.decisions_due)} legal review/publication deadline(s) due "
            f"({sum(d.status == 'overdue' for d in self.decisions_due)} overdue)"
        )
        return text + (" [provisional: holiday schedule not published]" if self.warnings else "")

    def as_json(self, ctx: RetentionContext) -> dict[str, Any]:
        def item(t: Tracked) -> dict[str, Any]:
            return {
                "recording": t.recording,
                "device": t.device,
                "officer": t.officer,
                "due": t.deadline.due.astimezone(ctx.tz).isoformat(),
                "status": describe(t.deadline.label),
            }

        return {
            "summary": self.summary(ctx),
            "checked_at": self.checked_at.astimezone(ctx.tz).isoformat(),
            "station": ctx.journal.station,
            "counts": {
                "overdue": len(self.overdue),
                "due_soon": len(self.due_soon),
                "cases_due": len(self.cases_due),
                "decisions_due": len(self.decisions_due),
            },
            "overdue": [item(t) for t in self.overdue[:WEBHOOK_ITEMS]],
            "due_soon": [item(t) for t in self.due_soon[:WEBHOOK_ITEMS]],
            "cases_due": [d.as_json() for d in self.cases_due],
            "decisions_due": [d.as_json() for d in self.decisions_due],
            "warnings": list(self.warnings),
        }


def check(ctx: RetentionContext, *, now: dt.datetime) -> AlertReport:
    """What needs attention at ``now`` (reads the catalog only)."""
    today = now.astimezone(ctx.tz).date()
    with ctx.catalog.read() as conn:
        unlabelled = recording_facts(conn, unlabelled_only=True, include_purged=False)
        tracked = track(ctx, conn, unlabelled, now=now)
        closed = [c for c in all_cases(conn) if not c.open]
        decisions = [
            d
            for d in decision_dues(
                conn, ctx.calendar, tz=ctx.tz, today=today, due_soon_working_days=ctx.alerts.due_soon_working_days
            )
            if d.status in ("due soon", "overdue")
        ]
    due_soon = [t for t in tracked if t.deadline.label.kind is StatusKind.DUE_SOON]
    overdue = [t for t in tracked if t.deadline.label.kind is StatusKind.OVERDUE]
    overdue.sort(key=lambda t: t.deadline.due)
    due_soon.sort(key=lambda t: t.deadline.due)
    dues = case_dues(closed, today=today, due_until=today + dt.timedelta(days=ctx.alerts.case_due_soon_days))
    warnings = tuple(sorted({w for t in [*due_soon, *overdue] for w in t.deadline.warnings}))
    return AlertReport(now, due_soon, overdue, dues, warnings, decisions)


def post_json(url: str, payload: dict[str, Any], *, timeout: float) -> str:
    """POST ``payload`` as JSON; returns "sent (HTTP n)" or what went wrong (never raises)."""
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(  # noqa: S310 - settings accept only http(s) URLs
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "evidock-alerts"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - see above
            return f"sent (HTTP {response.status})"
    except urllib.error.HTTPError as exc:
        return f"failed: HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"failed: {reason}"


def notify(ctx: RetentionContext, report: AlertReport) -> AlertRun:
    """Tell people (log, webhook) and record the run for `evidock status`."""
    summary = report.summary(ctx)
    late = report.overdue or any(d.days_left < 0 for d in report.cases_due)
    level = logging.WARNING if late or any(d.status == "overdue" for d in report.decisions_due) else logging.INFO
    log.log(level, "%s", summary)
    for item in report.overdue[:20]:
        log.log(
            level, "overdue label: recording %s (device %s) was due %s", item.recording, item.device, item.deadline.due
        )
    for due in report.decisions_due[:20]:
        log.log(level, "%s of case %s: %s, due %s", due.what, due.case_number, due.status, due.due)
    for warning in report.warnings:
        log.warning("%s", warning)
    webhook = None
    if ctx.alerts.webhook_url:
        webhook = post_json(ctx.alerts.webhook_url, report.as_json(ctx), timeout=ctx.alerts.webhook_timeout_seconds)
        if webhook.startswith("failed"):
            log.error("alert webhook %s", webhook)
    run_record = AlertRun(
        ran_at=report.checked_at,
        due_soon=len(report.due_soon),
        overdue=len(report.overdue),
        cases_due=len(report.cases_due),
        summary=summary,
        webhook=webhook or "not configured",
    )
    with ctx.catalog.begin() as conn:
        record_alert_run(conn, run_record)
    return run_record


def run(ctx: RetentionContext, *, now: dt.datetime) -> AlertRun:
    """One scheduled alert check: ``check`` then ``notify``."""
    return notify(ctx, check(ctx, now=now))
