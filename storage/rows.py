"""One way to turn a catalog row into a frozen dataclass: each field from the column of the same name.

The queries of ``storage``, ``cases`` and ``access`` return dataclasses, not
rows; this replaces a hand-written constructor per type that repeated every
field. A field whose column needs converting (a ``StrEnum`` from its text, a
JSON list as a tuple) or that is not a column is given in ``override``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    Shape = TypeVar("Shape", bound=DataclassInstance)
else:
    Shape = TypeVar("Shape")


def from_row(shape: type[Shape], row: Any, **override: Any) -> Shape:
    """``shape`` built from ``row`` (a SQLAlchemy ``Row``): its columns by field name, then ``override``."""
    columns: Mapping[str, Any] = row._mapping
    return shape(**{f.name: override[f.name] if f.name in override else columns[f.name] for f in fields(shape)})


def inserted_id(result: Any) -> int:
    """The primary key an ``insert`` of one row made (a ``CursorResult``)."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("an insert returned no id")
    return int(key[0])
