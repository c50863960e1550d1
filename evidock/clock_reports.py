"""A device clock reported at docking (art. 7), by the CLI or by the dock station over HTTP.

Both enter it as the ``*.clock.json`` sidecar's report is entered: stored in
the catalog, then the device's recordings around it are re-checked (a clock
outside the tolerance flags them, ingest.checking).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evidock.app import App
from ingest.checking import add_clock_report
from ingest.clock import ClockReport


@dataclass(frozen=True)
class ClockOutcome:
    id: int  # the clock report's row
    device: str
    offset_ms: int  # device clock - station clock
    tolerance_ms: int

    @property
    def within_tolerance(self) -> bool:
        return abs(self.offset_ms) <= self.tolerance_ms

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "device": self.device,
            "offset_ms": self.offset_ms,
            "within_tolerance": self.within_tolerance,
        }


def enter(evi: App, report: ClockReport, *, source: str, by: str) -> ClockOutcome:
    """Log and store the report (``by``: who reported it) and re-check the device's recordings (one transaction)."""
    checks = evi.settings.checks
    with evi.catalog.begin() as conn:
        report_id = add_clock_report(
            conn,
            evi.journal,
            report,
            station=evi.settings.station_id,
            source=source,
            by=by,
            now=evi.now(),
            options=checks,
        )
    return ClockOutcome(
        id=report_id,
        device=report.device,
        offset_ms=round(report.offset.total_seconds() * 1000),
        tolerance_ms=round(checks.clock_tolerance.total_seconds() * 1000),
    )
