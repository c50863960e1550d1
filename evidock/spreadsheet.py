"""CSV for spreadsheets, safe to open: no cell the product writes can start a formula.

A reason, a name or a case number is typed by people (or chosen by whoever
names a file in a dock folder). Written as is, a cell like
``=HYPERLINK("http://…","click")`` or ``@SUM(…)`` runs as a formula when an
auditor opens the CSV in Excel or LibreOffice (CSV injection, OWASP). Every
text cell that starts with ``= + - @``, a tab or a carriage return is written
with a leading apostrophe, which spreadsheets show as text; numbers stay
numbers (a number is never a formula). Every CSV the product writes goes
through :func:`write_rows`: the audit trail and anomalies (CLI, API, web) and
the art. 26 compliance report.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """A value as a CSV cell: None empty, numbers as they are, text that could start a formula quoted."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        text = str(value)
        return "'" + text if text.startswith(FORMULA_STARTS) else text
    return value


def write_rows(out: TextIO, rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """A header, then one line per row (keys outside ``columns`` ignored, missing ones empty)."""
    # RFC 4180's CRLF line ends: then a CR or an LF inside a cell is quoted too.
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\r\n")
    writer.writerow({c: cell(c) for c in columns})
    for row in rows:
        writer.writerow({k: cell(v) for k, v in row.items()})


def csv_text(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """``write_rows`` into a string (a header even when there is no row)."""
    buffer = io.StringIO()
    write_rows(buffer, rows, columns)
    return buffer.getvalue()
