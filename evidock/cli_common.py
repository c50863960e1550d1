"""What every command module shares: consoles, options, settings lookup, JSON and time display."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from evidock import settings as settings_mod
from evidock.settings import Settings
from storage.access import Person

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="config.toml to use (default: $EVIDOCK_CONFIG, then ./config.toml)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print plain JSON for scripts.")]
CsvOption = Annotated[bool, typer.Option("--csv", help="Print CSV for spreadsheets.")]


def settings_of(ctx: typer.Context) -> Settings:
    return settings_mod.load(settings_mod.find_config(ctx.obj.get("config") if ctx.obj else None))


PERSON_KEY = "evidock.person"  # ctx.meta key: the person a gated command runs as


def person_of(ctx: typer.Context) -> Person:
    """The authenticated person a command gated by ``cli_access.person_required`` runs as."""
    person = ctx.meta.get(PERSON_KEY)
    if not isinstance(person, Person):
        raise RuntimeError(f"command {ctx.command_path!r} is not gated: wrap it with person_required")
    return person


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


def local_time(moment: datetime | None, settings: Settings) -> str:
    return moment.astimezone(settings.timezone).strftime("%Y-%m-%d %H:%M:%S") if moment else "—"
