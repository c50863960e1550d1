"""The printable reports, end to end: anchor to a checkpoint, fill the page, print it to a PDF file.

Each is called by the command after its logged query (the ACCESS entry of the
audit query, the REPORTS query entry of `compliance`, the query entry of the
opinion's read), so the checkpoint in the footer covers that entry too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from access.audit import AccessRow
from cases.decisions import require_decision
from cases.review_rows import get_opinion, get_review
from evidock.app import App
from evidock.reports.anchor import anchor_for
from evidock.reports.opinion import opinion_html
from evidock.reports.pdf import ReportError, footer_html, write_pdf
from evidock.reports.render import LANGS, audit_access_html, compliance_html
from retention.compliance import ComplianceReport

__all__ = ["LANGS", "ReportError", "audit_access_pdf", "compliance_pdf", "review_opinion_pdf"]


def _lang(lang: str) -> str:
    if lang not in LANGS:
        raise ReportError(f"--lang {lang!r}: use zh or en")
    return lang


def audit_access_pdf(
    evi: App, rows: Sequence[AccessRow], *, own: int, filters: dict[str, str], by: str, target: Path, lang: str
) -> int:
    """The access trail (per case, recording or person, as ``filters`` say) as an A4 PDF; returns its size."""
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
    return write_pdf(html, footer_html(anchor, lang), target)


def compliance_pdf(evi: App, result: ComplianceReport, *, by: str, target: Path, lang: str) -> int:
    """The art. 26 compliance report as an A4 PDF; returns its size."""
    lang = _lang(lang)
    anchor = anchor_for(evi)
    html = compliance_html(result, anchor=anchor, zone=evi.settings.timezone, by=by, lang=lang)
    return write_pdf(html, footer_html(anchor, lang), target)


def review_opinion_pdf(evi: App, opinion_entry: int, *, target: Path, lang: str) -> int:
    """The legal review opinion (法制审核意见书) of entry ``opinion_entry``, both copies, as an A4 PDF; its size."""
    lang = _lang(lang)
    with evi.catalog.read() as conn:
        opinion = get_opinion(conn, opinion_entry)
        review = get_review(conn, opinion.review)
        decision = require_decision(conn, review.case_number)
    anchor = anchor_for(evi)
    html = opinion_html(opinion, review, decision, anchor=anchor, zone=evi.settings.timezone, lang=lang)
    return write_pdf(html, footer_html(anchor, lang), target)
