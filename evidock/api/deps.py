"""What a route needs: the application, the authenticated caller, and the reason (事由) of a read."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query

from access.people import REASON_LENGTH, Person
from evidock.api.security import current_person, evi_of
from evidock.app import App

Evi = Annotated[App, Depends(evi_of)]
Caller = Annotated[Person, Depends(current_person)]
Reason = Annotated[
    str,
    Query(
        max_length=REASON_LENGTH,
        description="Why (事由); it goes into the ACCESS entry written before the answer.",
    ),
]

MAX_ID = 2**63 - 1  # the catalog's integers are 64-bit: a larger number names nothing (and must not reach SQL)
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]  # an access request or a finding
EntryIndex = Annotated[int, Path(ge=0, le=MAX_ID)]  # a log entry
