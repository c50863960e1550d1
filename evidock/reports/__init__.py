"""Printable reports (A4 PDF): the access audit trail and the art. 26 compliance report.

Each report is a self-contained HTML page (inline CSS, the system's CJK font)
printed to PDF by Chromium; every page's footer names the signed checkpoint the
report was produced against, so a reader can tie the paper to the log.
"""
