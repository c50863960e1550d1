"""`evidock witness`: run a C2SP tlog-witness for another office's evidock log (docs/witness.md).

The witness is its own small service with its own folder (witness.toml, its
key, its SQLite state); it needs nothing of the station's configuration.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
import uvicorn
from rich.table import Table

from chain.checkpoint import parse_vkey
from chain.errors import CheckpointError
from evidock.cli_common import JsonOption, out, print_json
from witness import config as witness_config
from witness.config import WitnessConfig, WitnessConfigError
from witness.http import create_app
from witness.service import Witness
from witness.state import WitnessState

witness_app = typer.Typer(
    help="A witness that cosigns another office's log checkpoints (C2SP tlog-witness).\n\n"
    "Example: evidock witness init --dir /srv/witness --name witness.fazhi.example/w1 --log <log vkey>",
    no_args_is_help=True,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")

DirOption = Annotated[
    Path,
    typer.Option("--dir", "-d", envvar="EVIDOCK_WITNESS_DIR", help="The witness's folder (witness.toml, key, state)."),
]


def _shown(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def _open(directory: Path) -> tuple[WitnessConfig, WitnessState]:
    config = witness_config.load(directory)
    return config, WitnessState(config.state_db)


@witness_app.command("init")
def init(
    directory: DirOption,
    name: Annotated[str, typer.Option("--name", help="The witness's key name, e.g. witness.fazhi.example/w1.")],
    logs: Annotated[
        list[str] | None,
        typer.Option(
            "--log", help="A log to accept: its verifier key, or ORIGIN=VKEY if the origin is not the key name."
        ),
    ] = None,
    listen: Annotated[str, typer.Option("--listen", help="HOST:PORT for serve.")] = witness_config.DEFAULT_LISTEN,
) -> None:
    """Create a witness: a new Ed25519 key, witness.toml and the state database. Prints its verifier key.

    Example: evidock witness init --dir /srv/witness --name witness.fazhi.example/w1 --log 'dock-log+1a2b3c4d+AX...'
    """
    pairs = []
    for text in logs or []:
        origin, sep, vkey = text.partition("=") if "=" in text.split("+", 1)[0] else ("", "", text)
        try:
            key = parse_vkey(vkey)
        except CheckpointError as exc:
            raise WitnessConfigError(f"--log {text[:40]!r}: {exc}") from exc
        pairs.append((origin if sep else key.name, vkey))
    config = witness_config.init(directory, name, logs=pairs, listen=listen)
    WitnessState(config.state_db).close()
    out.print(f"witness {config.name} created in {directory}")
    out.print("Give this verifier key to the logs it witnesses (it is public):")
    out.print(config.vkey, soft_wrap=True)


@witness_app.command("show")
def show(directory: DirOption, as_json: JsonOption = False) -> None:
    """The witness's verifier key, the logs it accepts and the latest size it cosigned for each.

    Example: evidock witness show --dir /srv/witness --json
    """
    config, state = _open(directory)
    try:
        latest = {row.origin: row for row in state.latest()}
        refused = state.refused()
    finally:
        state.close()
    logs: list[dict[str, Any]] = []
    for policy in config.logs:
        row = latest.get(policy.origin)
        logs.append(
            {
                "origin": policy.origin,
                "vkey": str(policy.vkey),
                "size": row.size if row else None,
                "root": base64.b64encode(row.root).decode("ascii") if row else None,
                "cosigned_at": datetime.fromtimestamp(row.cosigned_at, UTC).isoformat() if row else None,
                "refused": sum(1 for r in refused if r.origin == policy.origin),
            }
        )
    if as_json:
        print_json({"name": config.name, "vkey": config.vkey, "listen": f"{config.host}:{config.port}", "logs": logs})
        return
    out.print(f"witness  {config.name}")
    out.print(f"vkey     {config.vkey}", soft_wrap=True)
    out.print(f"listen   {config.host}:{config.port}")
    table = Table("origin", "latest size", "cosigned at (Asia/Shanghai)", "refused (evidence)")
    for entry, policy in zip(logs, config.logs, strict=True):
        row = latest.get(policy.origin)
        table.add_row(
            entry["origin"], str(entry["size"] or 0), _shown(row.cosigned_at) if row else "—", str(entry["refused"])
        )
    out.print(table)


@witness_app.command("serve")
def serve(
    directory: DirOption,
    listen: Annotated[str | None, typer.Option("--listen", help="HOST:PORT (default: listen in witness.toml).")] = None,
) -> None:
    """Answer POST /add-checkpoint until stopped (Ctrl-C or SIGTERM).

    Example: evidock witness serve --dir /srv/witness --listen 0.0.0.0:7380
    """
    config, state = _open(directory)
    host, port = (config.host, config.port)
    if listen is not None:
        host, _, port_text = listen.rpartition(":")
        if not host or not port_text.isdigit():
            raise WitnessConfigError(f"--listen must be HOST:PORT, got {listen!r}")
        port = int(port_text)
    app = create_app(Witness(config, state))
    out.print(f"witness {config.name} on http://{host}:{port}/add-checkpoint ({len(config.logs)} logs)")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        state.close()


@witness_app.command("history")
def history(
    directory: DirOption,
    as_json: JsonOption = False,
    origin: Annotated[str | None, typer.Option("--origin", help="Only this log.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Newest cosignatures shown (refusals are all shown).")] = 50,
) -> None:
    """The witness's own record: what it cosigned (newest first) and every fork or rollback it refused.

    Example: evidock witness history --dir /srv/witness --json > witness-history.json
    """
    _, state = _open(directory)
    try:
        cosigned = state.cosigned(origin=origin, limit=limit)
        refused = state.refused(origin=origin)
    finally:
        state.close()
    if as_json:
        print_json(
            {
                "cosigned": [
                    {
                        "origin": r.origin,
                        "size": r.size,
                        "root": base64.b64encode(r.root).decode("ascii"),
                        "timestamp": r.timestamp,
                        "note": r.note,
                        "cosignature": r.cosignature.removesuffix("\n"),
                    }
                    for r in cosigned
                ],
                "refused": [
                    {
                        "origin": r.origin,
                        "kind": r.kind,
                        "status": r.status,
                        "reason": r.reason,
                        "received_at": r.received_at,
                        "old_size": r.old_size,
                        "proof": list(r.proof),
                        "seen_note": r.seen_note,
                        "submitted_note": r.submitted_note,
                    }
                    for r in refused
                ],
            }
        )
        return
    table = Table("cosigned at (Asia/Shanghai)", "origin", "size", "root")
    for row in cosigned:
        table.add_row(_shown(row.timestamp), row.origin, str(row.size), base64.b64encode(row.root).decode("ascii"))
    out.print(table)
    if not refused:
        out.print("no fork or rollback refused")
        return
    out.print(f"[bold red]{len(refused)} refused checkpoint(s) kept as evidence[/] (see docs/witness.md, 'a fork'):")
    for attempt in refused:
        out.print(
            f"{_shown(attempt.received_at)}  {attempt.kind}  {attempt.origin}  HTTP {attempt.status}: {attempt.reason}",
            soft_wrap=True,
        )
        out.print("  cosigned before:\n" + _indent(attempt.seen_note or "(nothing)"), soft_wrap=True, markup=False)
        out.print("  submitted:\n" + _indent(attempt.submitted_note), soft_wrap=True, markup=False)


def _indent(text: str) -> str:
    return "".join(f"    {line}\n" for line in text.rstrip("\n").split("\n"))
