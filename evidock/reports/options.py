"""The command-line options of the printable reports, shared by `audit access` and `compliance`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

PdfOption = Annotated[
    Path | None,
    typer.Option(
        "--pdf",
        metavar="FILE",
        help="Also print the report to FILE: A4 PDF, the checkpoint it was produced against in every page's footer.",
    ),
]
LangOption = Annotated[str, typer.Option("--lang", help="Language of the PDF: zh (default) or en.")]
