"""Prometheus ``/metrics``: the station's facts read from the catalog at each scrape.

Nothing is counted in this process's memory, so the figures are right whichever
process did the work (the service loop, `evidock ingest`, another station on
the same catalog) and survive restarts. Rates are Prometheus's job:
``rate(evidock_ingested_bytes_total[5m])``; ``evidock_ingest_bytes_per_second``
is the same over the last 5 minutes for a glance without PromQL.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from evidock.app import App, checkpoint_reader, retention_context
from evidock.settings import ConfigError
from evidock.trust_status import trust_status
from retention import alerts
from storage import findings as findings_db
from storage.checkpoints import Side
from storage.ingest_stats import ingest_stats
from storage.receipts import State
from storage.status import count_recordings, latest_checkpoint


class StationCollector(Collector):
    def __init__(self, evi: App) -> None:
        self.evi = evi

    def collect(self) -> Iterator[Metric]:
        evi = self.evi
        now = evi.now()
        with evi.catalog.read() as conn:
            stats = ingest_stats(conn, now=now)
            recordings = count_recordings(conn)
            checkpoint = latest_checkpoint(conn)
            open_findings = findings_db.count_open(conn)
        report = alerts.check(retention_context(evi), now=now)
        receipts = GaugeMetricFamily("evidock_receipts", "Docked files by ingest state", labels=["state"])
        for state in State:
            receipts.add_metric([state.value], stats.by_state.get(state.value, 0))
        yield receipts
        yield GaugeMetricFamily(
            "evidock_ingest_queue_length", "Files taken but not yet stored, verified, logged and released", stats.queue
        )
        yield CounterMetricFamily(
            "evidock_ingest_failures", "Files whose ingest failed and wait for a person", stats.failed
        )
        yield CounterMetricFamily(
            "evidock_ingest_quarantined",
            "Files an error about that one file stopped (a failed release of the dock copy...); a person decides",
            stats.quarantined,
        )
        yield CounterMetricFamily(
            "evidock_ingested_bytes", "Bytes of docked files stored, verified and logged", stats.bytes_total
        )
        yield GaugeMetricFamily(
            "evidock_ingest_bytes_per_second",
            f"Bytes stored, verified and logged per second over the last {stats.window.total_seconds():g} s",
            stats.bytes_per_second,
        )
        yield GaugeMetricFamily(
            "evidock_oldest_unverified_file_age_seconds",
            "Seconds since the oldest file not yet verified was received (0: none waiting)",
            stats.oldest_unverified_age(now),
        )
        yield GaugeMetricFamily(
            "evidock_labels_overdue", "Recordings past their art. 26 deadline without a label", len(report.overdue)
        )
        yield GaugeMetricFamily(
            "evidock_labels_due_soon", "Recordings whose art. 26 label deadline is near", len(report.due_soon)
        )
        yield GaugeMetricFamily("evidock_recordings", "Recordings in the catalog", recordings)
        yield GaugeMetricFamily("evidock_open_findings", "Findings (art. 7, 18) not yet explained", open_findings)
        yield GaugeMetricFamily(
            "evidock_checkpoint_age_seconds",
            "Seconds since the latest signed checkpoint (-1: none yet)",
            (now - checkpoint[1]).total_seconds() if checkpoint else -1,
        )
        statuses = trust_status(evi, now=now)
        names = {
            Side.COSIGNATURE: "evidock_checkpoint_uncosigned_seconds",
            Side.TIMESTAMP: "evidock_checkpoint_untimestamped_seconds",
        }
        helps = {
            Side.COSIGNATURE: "Seconds the oldest checkpoint without its witnesses' quorum has waited (0: none waits)",
            Side.TIMESTAMP: "Seconds the oldest checkpoint without a TSA's timestamp token has waited (0: none waits)",
        }
        for status in statuses:
            yield GaugeMetricFamily(names[status.side], helps[status.side], status.seconds)
        if statuses:
            overdue = GaugeMetricFamily(
                "evidock_outside_trust_overdue",
                "1 when a checkpoint has waited longer than log.max_uncosigned_seconds for its witnesses or its token",
                labels=["kind"],
            )
            for status in statuses:
                overdue.add_metric([status.kind], 1 if status.overdue else 0)
            yield overdue
        rejected = _rejected_checkpoints(evi)
        if rejected is not None:
            yield GaugeMetricFamily(
                "evidock_checkpoints_rejected",
                "Object versions where checkpoints live that are not this log's checkpoints signed by its key "
                "(planted or broken; skipped, and named by `evidock verify`)",
                rejected,
            )


def _rejected_checkpoints(evi: App) -> int | None:
    """How many stored objects the checkpoint readers reject; None when this station holds no verifier key."""
    try:
        reader = checkpoint_reader(evi)
    except ConfigError:
        return None
    return len(reader.rejected())


def registry_for(evi: App) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StationCollector(evi))
    return registry
