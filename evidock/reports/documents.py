"""The printable reports, end to end: anchor to a checkpoint, fill the page, print it to PDF.

Each is called after the caller's logged query (the ACCESS entry of the audit
query, the REPORTS query entry of `compliance`, the query entry of a review
opinion's read, on the command line or a web page), so the checkpoint in the
footer covers that entry too. The command line writes the PDF to a file (``--pdf FILE``);
the pages send it as a download.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from access.audit import AccessRow
from cases.decisions import require_decision
from cases.review_rows import get_opinion, get_review
from evidock.app import App
from evidock.reports.anchor import anchor_for
from evidock.reports.opinion import opinion_html
from evidock.reports.pdf import ReportError, footer_html, print_pdf, write_pdf
from evidock.reports.render import LANGS, audit_access_html, compliance_html
from retention.compliance import ComplianceReport

__all__ = [
    "LANGS",
    "Printable",
    "ReportError",
    "audit_access_pdf",
    "audit_access_report",
    "compliance_pdf",
    "compliance_report",
    "review_opinion_pdf",
]


@dataclass(frozen=True)
class Printable:
    """A report's page and its footer (the checkpoint), ready to print."""

    html: str
    footer: str

    def pdf(self) -> bytes:
        return print_pdf(self.html, self.footer)

    def write(self, target: Path) -> int:
        """The PDF written to ``target`` atomically; returns its size."""
        return write_pdf(self.html, self.footer, target)


def _lang(lang: str) -> str:
    if lang not in LANGS:
        raise ReportError(f"--lang {lang!r}: use zh or en")
    return lang


def audit_access_report(
    evi: App, rows: Sequence[AccessRow], *, own: int, filters: dict[str, str], by: str, lang: str
) -> Printable:
    """The access trail (per case, recording or person, as ``filters`` say)."""
    lang = _lang(lang)
    anchor = anchor_for(evi)
    html = audit_access_html(
        rows,
        own=own,
        filters=filters,
        anchor=anchor,
        generated=evi.now(),
        zone=evi.settings.timezone,
        by=by,
        lang=lang,
    )
    return Printable(html, footer_html(anchor, lang))


def compliance_report(evi: App, result: ComplianceReport, *, by: str, lang: str) -> Printable:
    """The art. 26 compliance report."""
    lang = _lang(lang)
    anchor = anchor_for(evi)
    html = compliance_html(result, anchor=anchor, zone=evi.settings.timezone, by=by, lang=lang)
    return Printable(html, footer_html(anchor, lang))


def audit_access_pdf(
    evi: App, rows: Sequence[AccessRow], *, own: int, filters: dict[str, str], by: str, target: Path, lang: str
) -> int:
    """``audit_access_report`` written to ``target``; returns its size."""
    return audit_access_report(evi, rows, own=own, filters=filters, by=by, lang=lang).write(target)


def compliance_pdf(evi: App, result: ComplianceReport, *, by: str, target: Path, lang: str) -> int:
    """``compliance_report`` written to ``target``; returns its size."""
    return compliance_report(evi, result, by=by, lang=lang).write(target)


def review_opinion_pdf(evi: App, opinion_entry: int, *, target: Path, lang: str) -> int:
    """The legal review opinion (法制审核意见书) of entry ``opinion_entry``, both copies, as an A4 PDF; its size."""
    lang = _lang(lang)
    with evi.catalog.read() as conn:
        opinion = get_opinion(conn, opinion_entry)
        review = get_review(conn, opinion.review)
        decision = require_decision(conn, review.case_number)
    anchor = anchor_for(evi)
    html = opinion_html(opinion, review, decision, anchor=anchor, zone=evi.settings.timezone, lang=lang)
    return Printable(html, footer_html(anchor, lang)).write(target)
