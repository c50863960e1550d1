"""The dock driver's clock report, written next to the recordings at docking.

Format (UTF-8 JSON, file name ending in ``.clock.json``)::

    {"device": "CAM01",
     "device_time": "2026-11-20T08:06:19+08:00",
     "station_time": "2026-11-20T08:06:16+08:00"}

Both times are RFC 3339 with an offset, read at the same moment: the device's
clock and the (NTP-synced) station's. ``offset = device_time - station_time``.
The sidecar is stored like any docked file (it is the record of the
calibration, art. 7) and its report is entered in the catalog.
"""

from __future__ import annotations

import json
from datetime import datetime

from ingest.clock import ClockReport

CLOCK_SIDECAR_SUFFIX = ".clock.json"
MAX_SIDECAR_BYTES = 64 * 1024


def parse_clock_sidecar(data: bytes) -> ClockReport:
    """A clock report from sidecar bytes; ValueError says what is wrong."""
    if len(data) > MAX_SIDECAR_BYTES:
        raise ValueError(f"clock sidecar is {len(data)} bytes, more than {MAX_SIDECAR_BYTES}")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"clock sidecar is not UTF-8 JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ValueError("clock sidecar must be a JSON object")
    device = doc.get("device")
    if not isinstance(device, str) or not device.strip() or len(device) > 128:
        raise ValueError(f"clock sidecar: device must be a non-empty string, got {device!r}")
    return ClockReport(
        device=device.strip(),
        device_time=_time(doc, "device_time"),
        station_time=_time(doc, "station_time"),
    )


def _time(doc: dict[str, object], key: str) -> datetime:
    value = doc.get(key)
    if not isinstance(value, str):
        raise ValueError(f"clock sidecar: {key} must be an RFC 3339 string, got {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"clock sidecar: {key} = {value!r} is not RFC 3339") from exc
    if moment.tzinfo is None:
        raise ValueError(f"clock sidecar: {key} = {value!r} has no UTC offset")
    return moment
