"""Commands of the verifiable log: keys, checkpoints, entries, proofs, and `verify`."""

from __future__ import annotations

import base64
from typing import Annotated

import typer

from chain.entries import decode
from chain.merkle import consistency_proof, inclusion_proof, leaf_hash, root, verify_consistency, verify_inclusion
from evidock.app import checkpointer_for, open_app
from evidock.cli_common import JsonOption, err, out, print_json, settings_of
from evidock.keys import init_key, load_vkey
from evidock.verify import verify as run_verify
from storage import journal
from storage.errors import StorageError
from storage.journal import SqlNodes

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
    new: Annotated[bool, typer.Option("--new", help="Sign and anchor a checkpoint of the log as it is now.")] = False,
) -> None:
    """Print the latest checkpoint stored (locked) in the object store, as signed note text.

    Example: evidock log checkpoint --new
    """
    settings = settings_of(ctx)
    with open_app(settings) as evi:
        signer = checkpointer_for(evi)
        stored = signer.make(evi.now()) if new else signer.latest_stored()
    if stored is None:
        raise StorageError("no checkpoint stored yet: run `evidock log checkpoint --new`")
    typer.echo(stored.note, nl=False)


@log_app.command("entry")
def log_entry(
    ctx: typer.Context,
    index: Annotated[int, typer.Argument(min=0, help="Log index of the entry.")],
    as_json: JsonOption = False,
) -> None:
    """Print one log entry: its canonical bytes, leaf hash and content.

    Example: evidock log entry 0 --json
    """
    with open_app(settings_of(ctx), ensure_bucket=False) as evi, evi.catalog.read() as conn:
        data = journal.entry_bytes(conn, index)
    entry = decode(data)
    result = {
        "index": index,
        "leaf_hash": leaf_hash(data).hex(),
        "entry_b64": base64.b64encode(data).decode("ascii"),
        "entry": entry.as_json(),
    }
    if as_json:
        print_json(result)
        return
    out.print(data.decode("utf-8"), markup=False)
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
        anchor = checkpointer_for(evi).latest_stored()
        tree_size = size if size is not None else (anchor.checkpoint.size if anchor else 0)
        with evi.catalog.read() as conn:
            _check_size(tree_size, journal.size(conn))
            if entry >= tree_size:
                raise StorageError(f"entry {entry} is not in a tree of size {tree_size}")
            nodes = SqlNodes(conn)
            data = journal.entry_bytes(conn, entry)
            proof = inclusion_proof(entry, tree_size, nodes)
            tree_root = root(tree_size, nodes)
    verify_inclusion(leaf_hash(data), entry, tree_size, proof, tree_root)
    note = anchor.note if anchor and anchor.checkpoint.size == tree_size else None
    result = {
        "index": entry,
        "size": tree_size,
        "root": tree_root.hex(),
        "leaf_hash": leaf_hash(data).hex(),
        "entry_b64": base64.b64encode(data).decode("ascii"),
        "proof": [h.hex() for h in proof],
        "checkpoint": note,
    }
    if as_json:
        print_json(result)
        return
    out.print(f"entry {entry} in tree of size {tree_size}, root {tree_root.hex()}")
    for h in proof:
        out.print(h.hex())


@log_app.command("consistency")
def log_consistency(
    ctx: typer.Context,
    old: Annotated[int, typer.Option("--from", min=0, help="Older tree size.")],
    new: Annotated[
        int | None, typer.Option("--to", help="Newer tree size (default: latest stored checkpoint).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Consistency proof (RFC 9162 §2.1.4) that the tree of size --to extends the tree of size --from.

    Example: evidock log consistency --from 10 --json
    """
    with open_app(settings_of(ctx)) as evi:
        anchor_cp = checkpointer_for(evi)
        stored = {c.checkpoint.size: c.note for c in anchor_cp.stored()}
        latest = max(stored) if stored else 0
        to = new if new is not None else latest
        with evi.catalog.read() as conn:
            _check_size(to, journal.size(conn))
            if old > to:
                raise StorageError(f"--from {old} is larger than --to {to}")
            nodes = SqlNodes(conn)
            proof = consistency_proof(old, to, nodes) if old else []
            old_root, new_root = root(old, nodes), root(to, nodes)
    if old:
        verify_consistency(old, to, old_root, new_root, proof)
    result = {
        "from": old,
        "to": to,
        "old_root": old_root.hex(),
        "new_root": new_root.hex(),
        "proof": [h.hex() for h in proof],
        "old_checkpoint": stored.get(old),
        "new_checkpoint": stored.get(to),
    }
    if as_json:
        print_json(result)
        return
    out.print(f"tree {to} (root {new_root.hex()}) extends tree {old} (root {old_root.hex()})")
    for h in proof:
        out.print(h.hex())


def _check_size(size: int, log_size: int) -> None:
    if size > log_size:
        raise StorageError(f"the log has {log_size} entries; size {size} does not exist yet")


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
        out.print("verify: OK" if report.ok else f"verify: {len(report.failures)} failure(s)")
    if not report.ok:
        raise typer.Exit(1)
