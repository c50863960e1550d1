"""What a projected table is, and the values a replay of the log expects in it.

The shared vocabulary of :mod:`storage.projection` (the replay and the
comparison) and the modules that replay one domain's entries
(:mod:`storage.projection_access`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeAlias

from sqlalchemy import Table

from chain.entries import parse_time


@dataclass(frozen=True)
class Projected:
    """A table rebuilt from entries: ``key`` identifies a row; ``operational`` columns are not evidence.

    ``digested``: the entry ``key[0]`` names proves its rows as a whole, by their
    number and a SHA-256 over the sorted ``key[1]`` values, not row by row (a
    search may list thousands of recordings; the entry stays small).
    ``personal``: columns holding names the log keeps only as commitments; a
    difference never prints their value, even where the entry holds none.
    """

    table: Table
    key: tuple[str, ...]
    operational: Mapping[str, str] = field(default_factory=dict)
    digested: bool = False
    personal: frozenset[str] = frozenset()

    @property
    def proven(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.table.columns if c.name not in self.operational)


SURROGATE = "a row number the database assigns; the row is matched by its entry, not by this"


@dataclass(frozen=True)
class Committed:
    """Personal data an entry holds only as salted commitments.

    ``commitments[i]`` opens with the salt kept in ``log_salts`` for entry
    ``entry`` under the field name ``fields[i]``. ``single``: the column holds
    one name (a requester), not a list of them (a label's parties).
    """

    entry: int
    commitments: tuple[str, ...]
    fields: tuple[str, ...]
    single: bool = False

    @classmethod
    def one(cls, entry: int, name: str, value: object) -> Committed | None:
        """The commitment in body field ``name`` of entry ``entry`` (its salt's field is ``name`` too); None if none."""
        return cls(entry, (value,), (name,), single=True) if isinstance(value, str) else None


@dataclass(frozen=True, order=True)
class Second:
    """A time the log holds in whole seconds (an entry's time, a body time): compared to the second."""

    moment: datetime


def logged_time(value: object) -> Second | None:
    """A body time (RFC 3339, whole seconds) as the catalog's column must match it."""
    return Second(parse_time(value)) if isinstance(value, str) else None


@dataclass(slots=True)
class Expected:
    values: dict[str, Any]
    entry: int  # the last entry that shaped the row


Rows: TypeAlias = dict[str, dict[tuple[Any, ...], Expected]]
"""Per table name, per key: the row the log says the table holds."""


class Rebuilt:
    """The rows of ``tables`` as a replay of the entries builds them up."""

    def __init__(self, tables: tuple[Projected, ...]) -> None:
        self.rows: Rows = {p.table.name: {} for p in tables}

    def _put(self, table: Table, key: tuple[Any, ...], index: int, values: dict[str, Any]) -> Expected:
        row = self.rows[table.name][key] = Expected(values, index)
        return row

    def _change(self, table: Table, key: tuple[Any, ...], index: int, **values: Any) -> bool:
        row = self.rows[table.name].get(key)
        if row is None:
            return False
        row.values.update(values)
        row.entry = index
        return True
