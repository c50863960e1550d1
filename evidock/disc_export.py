"""The disc export (art. 27) as one function: `evidock export disc`, the web's 光盘刻录 page and the API call it.

It builds the ``retention.export`` context (the gate, the checkpointer, the
verifier key, the clock model that corrects device times) and runs
``retention.export.job.export_disc``; callers only show progress and the result.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from evidock.app import App, checkpointer_for
from evidock.keys import load_vkey
from ingest.clock import ClockModel, ClockReport, to_ms
from retention.export.job import CorrectedTimes, Corrector, DiscOrder, ExportContext, ExportOutcome, Progress
from retention.export.job import export_disc as run_export
from storage import findings as findings_db
from storage.access import Person
from storage.recordings import Recording


def _corrector(evi: App) -> Corrector:
    """Corrected times from the device's clock reports (ingest.clock), one model per device."""
    models: dict[str, ClockModel] = {}

    def correct(rec: Recording) -> CorrectedTimes:
        if rec.device is None or rec.start_raw is None:
            return CorrectedTimes(None, None, None, "no_start_time")
        if rec.device not in models:
            with evi.catalog.read() as conn:
                rows = findings_db.clock_reports_of(conn, rec.device)
            models[rec.device] = ClockModel(
                ClockReport(device=rec.device, device_time=r["device_time"], station_time=r["station_time"])
                for r in rows
            )
        fixed = models[rec.device].correct(rec.device, rec.start_raw)
        end = fixed.corrected + timedelta(milliseconds=rec.duration_ms) if rec.duration_ms is not None else None
        return CorrectedTimes(fixed.corrected, end, to_ms(fixed.offset_used), fixed.basis.value)

    return correct


def configured_out_dir(evi: App) -> Path:
    """config.toml's ``[export] out_dir``, created if missing (owner and group only: images hold evidence)."""
    folder = evi.settings.export.out_dir
    folder.mkdir(mode=0o750, parents=True, exist_ok=True)
    return folder


def export_disc(evi: App, person: Person, order: DiscOrder, *, progress: Progress) -> ExportOutcome:
    """``person``'s export of ``order``; a refusal (no approved export request, bad input) writes nothing."""
    context = ExportContext(
        catalog=evi.catalog,
        journal=evi.journal,
        gate=evi.gate(),
        checkpointer=checkpointer_for(evi),
        vkey=load_vkey(evi.settings),
        tz=evi.settings.timezone,
        station=evi.settings.station_id,
        correct=_corrector(evi),
        clock=evi.now,
    )
    return run_export(context, person, order, now=evi.now(), progress=progress)
