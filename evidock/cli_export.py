"""``evidock export disc``: recordings of a case to self-verifying disc images (art. 27), optionally burned.

Thin: it shows progress; the work is ``evidock.disc_export.export_disc``, which
the web pages and the API call too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from access.people import Person
from evidock.app import App, open_app
from evidock.auth import acting_person
from evidock.cli_common import JsonOption, err, out, print_json, settings_of
from evidock.disc_export import configured_out_dir, export_disc
from evidock.keys import load_vkey
from evidock.reports.label_sheet import label_sheets
from evidock.reports.pdf import ReportError
from evidock.settings import Settings
from retention.export import burn as burning
from retention.export.job import DiscOrder, ExportOutcome
from retention.export.job import Progress as ExportProgress
from retention.export.layout import MEDIA, ExportError

export_app = typer.Typer(
    help="Evidence to disc (作为证据使用, art. 27).\n\n"
    "Example: evidock export disc --case 京朝公(治)行罚决字[2026]1号 --maker 王五 --extractor 赵六 --request 7",
    no_args_is_help=True,
)


@export_app.command("disc")
def disc(
    ctx: typer.Context,
    case: Annotated[str, typer.Option("--case", help="Case number (案号) the recordings are labelled with.")],
    maker: Annotated[str, typer.Option("--maker", help="Who makes the disc (制作人).")],
    extractor: Annotated[str, typer.Option("--extractor", help="Who extracted the recordings (提取人).")],
    request: Annotated[int, typer.Option("--request", min=1, help="Your approved export request (access request).")],
    recordings: Annotated[
        list[str] | None,
        typer.Option("--recordings", help="Recording id or prefix; repeat it. Default: every recording of the case."),
    ] = None,
    media: Annotated[str, typer.Option("--media", help=f"Disc size: {', '.join(MEDIA)}.")] = "dvd",
    capacity: Annotated[
        int | None, typer.Option("--capacity", min=1, help="Bytes per disc, instead of --media's size.")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder for the image files (default: config.toml \\[export] out_dir).")
    ] = None,
    device: Annotated[
        str | None, typer.Option("--burn", help="Optical drive to burn to and read back, e.g. /dev/sr0.")
    ] = None,
    pdf: Annotated[
        Path | None,
        typer.Option(
            "--pdf", metavar="FILE", help="Also print the label sheets (one A4 page per disc, read from the images)."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Write the recordings of a case to self-verifying ISO images (Joliet + Rock Ridge), one per disc.

    Needs your approved request with --action export (`evidock access request`); every read goes
    through the access gate. Each disc holds the originals, MANIFEST.json, SHA256SUMS, the label
    sheet (LABEL.html/.txt), the signed log evidence and VERIFY.py (see docs/export.md).
    With --pdf FILE the label sheets on the images are printed to FILE to go with the discs.

    Example: evidock export disc --case 京朝公(治)行罚决字[2026]1号 --maker 王五 --extractor 赵六 --request 7
    """
    settings = settings_of(ctx)
    if out_dir is not None:
        _refuse_watched(out_dir, settings)
    _check_pdf_target(pdf)  # before the export, not after it
    with open_app(settings, ensure_bucket=False) as evi:
        person = acting_person(evi)
        order = DiscOrder(
            case_number=case,
            recordings=tuple(recordings or ()),
            maker=maker,
            extractor=extractor,
            request=request,
            out_dir=out_dir if out_dir is not None else configured_out_dir(evi),
            media=media,
            capacity=capacity,
        )
        if as_json:
            outcome = export_disc(evi, person, order, progress=ExportProgress())
        else:
            outcome = _export_with_bar(evi, person, order)
    _print_labels(outcome, settings, pdf)
    burns = [burning.burn(d.image, device) for d in outcome.discs] if device else []
    if as_json:
        result = outcome.as_json()
        result["burn"] = [
            {
                "image": str(b.image),
                "device": b.device,
                "burned": b.burned,
                "verified": b.verified,
                "message": b.message,
            }
            for b in burns
        ]
        result["label_pdf"] = str(pdf) if pdf is not None else None
        if not device:
            result["how_to_burn"] = [burning.instructions(d.image.path) for d in outcome.discs]
        print_json(result)
    else:
        out.print(f"export {outcome.export_id}: checkpoint {outcome.checkpoint_size}", markup=False, soft_wrap=True)
        for d in outcome.discs:
            out.print(
                f"disc {d.disc}/{len(outcome.discs)}: {d.image.path} ({d.image.size} bytes) SHA-256 {d.image.sha256}; "
                f"EXPORT_SEALED entry {d.sealed_entry}",
                markup=False,
                soft_wrap=True,
            )
        for b in burns:
            (out if b.verified else err).print(b.message, markup=False, soft_wrap=True)
        if not device:
            for d in outcome.discs:
                err.print(burning.instructions(d.image.path), markup=False, soft_wrap=True)
    if device and not all(b.verified for b in burns):
        raise typer.Exit(3)


def _check_pdf_target(pdf: Path | None) -> None:
    if pdf is not None and not pdf.resolve().parent.is_dir():
        raise ReportError(f"--pdf {pdf}: folder {pdf.resolve().parent} does not exist")


def _print_labels(outcome: ExportOutcome, settings: Settings, pdf: Path | None) -> None:
    """The label sheets on the finished images, printed to ``pdf`` (evidock.reports.label_sheet)."""
    if pdf is None:
        return
    sheets = label_sheets([d.image.path for d in outcome.discs], load_vkey(settings))
    err.print(f"wrote {pdf} ({sheets.write(pdf)} bytes, A4 PDF: the label sheets)", markup=False, soft_wrap=True)


def _export_with_bar(evi: App, person: Person, order: DiscOrder) -> ExportOutcome:
    """The export with its steps on stderr and a bar for the bytes written into the images.

    The bar appears only once the export starts writing, after every check passed: a
    refusal prints its reason alone. The bar's total starts as the layout's estimate
    of the images' sizes and is set to the bytes actually written at the end, so a
    finished export shows a full bar.
    """
    bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), console=err)
    task = bar.add_task("disc images", total=None)

    def start(total: int) -> None:
        bar.update(task, total=total)
        bar.start()

    steps = ExportProgress(
        say=lambda message: err.print(message, markup=False, soft_wrap=True),
        start=start,
        advance=lambda n: bar.advance(task, n),
    )
    try:
        outcome = export_disc(evi, person, order, progress=steps)
        written = sum(d.image.size for d in outcome.discs)
        bar.update(task, total=written, completed=written)
    finally:
        if bar.live.is_started:  # stopping a bar never shown would still print a blank line to a pipe
            bar.stop()
    return outcome


def _refuse_watched(out_dir: Path, settings: Settings) -> None:
    """The dock would take images written into a watched folder as recordings (config.toml's out_dir: the same rule)."""
    for folder in settings.watch.folders:
        if out_dir.resolve().is_relative_to(folder.resolve()):
            raise ExportError(f"--out {out_dir} is inside the watched folder {folder}; choose a folder outside it")
