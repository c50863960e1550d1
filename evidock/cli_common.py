"""What every command module shares: consoles, options, settings lookup, JSON and time display."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, ConsoleDimensions

from access.people import Person
from evidock import settings as settings_mod
from evidock.settings import Settings

UNBOUNDED = 1 << 20  # columns: wider than any line a command prints


class _Console(Console):
    """Rich's console, except that output to a pipe or a file is never cut to fit a width.

    Rich lays out for 80 columns (or the terminal of another standard stream) when its
    stream is not a terminal, and then shortens table cells with "…" and wraps long lines:
    a recording id cut to ``ea7a0…`` cannot be pasted into ``recordings show`` and a
    wrapped root cannot be compared. Piped or redirected, every value is printed whole;
    on a terminal, the terminal's width rules as before.
    """

    @property
    def size(self) -> ConsoleDimensions:
        if not self.is_terminal:
            return ConsoleDimensions(UNBOUNDED, super().size.height)
        return super().size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]  # Rich's own setter


out = _Console(highlight=False)
err = _Console(stderr=True, highlight=False)

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


_TIME_KEYS = frozenset({"start_raw", "end_raw", "retain_until", "creation_time"})


def readable_block(data: Mapping[str, Any], settings: Settings, indent: int = 0) -> list[str]:
    """``data`` (a command's ``--json`` object) as indented ``key: value`` lines for people.

    Nested objects become indented blocks and lists of objects ``-`` items, instead of
    Python reprs; times are shown in the station's zone, ``*_ms`` lengths in seconds,
    ``size`` in bytes, nothing as ``—``. The keys stay those of ``--json``.
    """
    pad = " " * indent
    lines: list[str] = []
    for key, value in data.items():
        if isinstance(value, Mapping):
            lines.append(f"{pad}{key}:" if value else f"{pad}{key}: —")
            lines += readable_block(value, settings, indent + 2)
        elif isinstance(value, list | tuple):
            lines.append(f"{pad}{key}:" if value else f"{pad}{key}: none")
            for item in value:
                if isinstance(item, Mapping):
                    block = readable_block(item, settings, indent + 4)
                    lines += [f"{pad}  - {block[0].lstrip()}", *block[1:]] if block else [f"{pad}  - —"]
                else:
                    lines.append(f"{pad}  - {_readable(key, item, settings)}")
        elif key.endswith("_ms") and isinstance(value, int) and not isinstance(value, bool):
            lines.append(f"{pad}{key.removesuffix('_ms')}: {value / 1000:.1f} s")
        else:
            lines.append(f"{pad}{key}: {_readable(key, value, settings)}")
    return lines


def _readable(key: str, value: Any, settings: Settings) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key == "size" and isinstance(value, int):
        return f"{value:,} bytes"
    if isinstance(value, str) and (key in _TIME_KEYS or key.endswith("_at")):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return f"{local_time(moment, settings)} ({settings.timezone})"
    return str(value)
