"""Commands of the verifiable log: keys, checkpoints, entries, proofs, and `verify`."""

from __future__ import annotations

import base64
from typing import Annotated

import typer

from evidock import log_queries
from evidock.app import open_app
from evidock.cli_common import JsonOption, err, out, print_json, settings_of
from evidock.keys import init_key, load_vkey
from evidock.verify import verify as run_verify

keys_app = typer.Typer(help="The log's signing key.\n\nExample: evidock keys show", no_args_is_help=True)
log_app = typer.Typer(
    help="The verifiable log: checkpoints, entries, proofs.\n\nExample: evidock log proof --entry 0 --json",
    no_args_is_help=True,
)


@keys_app.command("init")
def keys_init(ctx: typer.Context) -> None:
    """Create the log's Ed25519 signing key (mode 0600) once, and log a KEY entry.

    Example: evidock keys init
    """
    settings = settings_of(ctx)
    vkey, created = init_key(settings)
    if created:
        with open_app(settings) as evi:
            evi.log_key(vkey)
        out.print(f"created {settings.log.key_file} (mode 0600); verifier key:")
    else:
        err.print(f"{settings.log.key_file} already exists; it is never overwritten. Verifier key:")
    out.print(vkey, markup=False)


@keys_app.command("show")
def keys_show(ctx: typer.Context) -> None:
    """Print the verifier (public) key in signed-note vkey form.

    Example: evidock keys show > log.vkey
    """
    out.print(load_vkey(settings_of(ctx)), markup=False)


@log_app.command("checkpoint")
def log_checkpoint(
    ctx: typer.Context,
    new: Annotated[
        bool,
        typer.Option("--new", help="Sign and anchor a checkpoint of the log as it is now, and ask its witnesses."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Print the latest checkpoint stored (locked) in the object store, as a cosigned note.

    The log's signed note, followed by the cosignature lines of the configured
    witnesses recorded for it (C2SP tlog-cosignature); --json adds the RFC 3161
    timestamp tokens (可信时间戳). With --new, a witness or TSA that does not
    answer is a warning: the checkpoint is signed regardless.

    Example: evidock log checkpoint --new
    """
    settings = settings_of(ctx)
    with open_app(settings) as evi:
        stored = log_queries.checkpoint(evi, new=new)
        gathering = log_queries.outside_trust(evi, stored, ask=new)
    if as_json:
        print_json(log_queries.checkpoint_json(stored, gathering, settings.timezone))
    else:
        typer.echo(gathering.cosigned_note(stored.note), nl=False)
    for who, why in gathering.failures.items():
        err.print(f"warning: {who} did not answer: {why}", markup=False)
    if gathering.quorum and not gathering.has_quorum:
        err.print(
            f"warning: checkpoint {stored.checkpoint.size} has {len(gathering.cosigned)} of the "
            f"{gathering.quorum} witness cosignatures log.witness_quorum requires",
            markup=False,
        )


@log_app.command("entry")
def log_entry(
    ctx: typer.Context,
    index: Annotated[int, typer.Argument(min=0, help="Log index of the entry.")],
    as_json: JsonOption = False,
) -> None:
    """Print one log entry: its canonical bytes, leaf hash and content.

    Example: evidock log entry 0 --json
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi:
        result = log_queries.entry(evi, index)
    if as_json:
        print_json(result)
        return
    out.print(base64.b64decode(result["entry_b64"]).decode("utf-8"), markup=False)
    out.print(f"leaf hash {result['leaf_hash']}")


@log_app.command("proof")
def log_proof(
    ctx: typer.Context,
    entry: Annotated[int, typer.Option("--entry", min=0, help="Log index of the entry.")],
    size: Annotated[int | None, typer.Option(help="Tree size (default: the latest stored checkpoint).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Inclusion proof (RFC 9162 §2.1.3) of an entry in the tree of a given size; checked before printing.

    Example: evidock log proof --entry 12 --json
    """
    with open_app(settings_of(ctx)) as evi:
        result = log_queries.inclusion(evi, entry, size)
    if as_json:
        print_json(result)
        return
    out.print(f"entry {entry} in tree of size {result['tree_size']}, root {result['root']}")
    for h in result["proof"]:
        out.print(h)


@log_app.command("consistency")
def log_consistency(
    ctx: typer.Context,
    old: Annotated[int, typer.Option("--from", min=0, help="Older tree size (1 or more: RFC 9162 §2.1.4).")],
    new: Annotated[
        int | None, typer.Option("--to", help="Newer tree size (default: latest stored checkpoint).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Consistency proof (RFC 9162 §2.1.4) that the tree of size --to extends the tree of size --from.

    Example: evidock log consistency --from 10 --json
    """
    with open_app(settings_of(ctx)) as evi:
        result = log_queries.consistency(evi, old, new)
    if as_json:
        print_json(result)
        return
    out.print(f"tree {result['new_size']} (root {result['new_root']}) extends tree {old} (root {result['old_root']})")
    for h in result["proof"]:
        out.print(h)


def verify_command(
    ctx: typer.Context,
    deep: Annotated[bool, typer.Option(help="Also re-read every stored object and re-hash its bytes.")] = False,
    vkey: Annotated[str | None, typer.Option(help="Verifier key to trust (default: the station's .pub file).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Re-check everything: checkpoints, log, catalog, objects, retention. Exit 0 only if all holds.

    Example: evidock verify --deep --json
    """
    settings = settings_of(ctx)
    key = vkey or load_vkey(settings)
    with open_app(settings, ensure_bucket=False) as evi:
        report = run_verify(evi, key, deep=deep, progress=None if as_json else lambda m: err.print(f"checking {m} ..."))
    if as_json:
        print_json(report.as_json())
    else:
        for what, n in report.checked.items():
            out.print(f"checked {n} {what}")
        for failure in report.failures:
            out.print(f"FAIL {failure.check} [{failure.subject}]: {failure.message}", markup=False)
        for note in report.notes:
            out.print(f"note {note.check} [{note.subject}]: {note.message}", markup=False)
        out.print("verify: OK" if report.ok else f"verify: {len(report.failures)} failure(s)")
    if not report.ok:
        raise typer.Exit(1)
