"""``evidock quarantine``: dock files stopped by an unexpected error (quarantined, 已隔离), listed and retried.

One file's error never stops the station: its receipt is quarantined with the
error and left for a person (storage.receipts). Once the cause is fixed (room
on the target disk, a name the target can hold), a custodian or an admin
retries it here: the receipt resumes at the last state its facts prove and is
run at once in this process, as `evidock ingest` runs a file; what happened is
printed. Both commands are queries on the record (an ACCESS entry naming the
person, the receipt and the reason) written before anything is shown or done.

Run them on the station that docked the file: the dock copy is on its disk.
A running service there may pick the reopened file up at its next rescan too;
every step is idempotent and conditional on the receipt's state, so the file is
stored and logged once either way.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from access.errors import NotPermitted
from access.people import Permission, Person
from evidock.app import App, open_app
from evidock.auth import acting_person
from evidock.cli_common import JsonOption, err, local_time, out, print_json, settings_of
from evidock.recording_reads import NO_REASON
from evidock.text import one_line, shown
from storage import receipts as receipts_db
from storage.errors import NotFound
from storage.receipts import Receipt, State

quarantine_app = typer.Typer(
    help="Dock files stopped by an unexpected error (quarantined, 已隔离): list them, retry one once the cause "
    'is fixed. For custodians and admins.\n\nExample: evidock quarantine retry 42 --reason "target disk emptied"',
    no_args_is_help=True,
)

ERROR_SHOWN = 300  # characters of the error kept in the log entry's query


def _permission(person: Person) -> Permission:
    """Custodians (the evidence) and admins (the station) may; the permission the entry is written under."""
    for permission in (Permission.CUSTODY, Permission.MANAGE_USERS):
        if person.may(permission):
            return permission
    raise NotPermitted(
        f"{person.name} ({person.role.value}) may not see or retry quarantined files; custodians and admins may"
    )


def _as_json(receipt: Receipt, since: Any = None) -> dict[str, Any]:
    return {
        "receipt": receipt.id,
        "station": receipt.station,
        "path": shown(receipt.path),
        "state": receipt.state.value,
        "size": receipt.size,
        "recording": receipt.recording,
        "received_at": receipt.received_at.isoformat(),
        **({"quarantined_at": since.isoformat()} if since is not None else {}),
        "error": receipt.error,
    }


@quarantine_app.command("list")
def list_quarantined(
    ctx: typer.Context,
    every_station: Annotated[
        bool, typer.Option("--all-stations", help="Also other stations' (a shared PostgreSQL catalog).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """The quarantined receipts of this station: file, recording (if it was logged), when and why.

    Example: evidock quarantine list --json
    """
    settings = settings_of(ctx)
    with open_app(settings, ensure_bucket=False) as evi:
        person = acting_person(evi)
        evi.gate().record_query(
            person,
            command="quarantine list",
            query={"station": "(all)" if every_station else settings.station_id},
            reason=NO_REASON,
            permission=_permission(person),
        )
        with evi.catalog.read() as conn:
            found = receipts_db.quarantined(conn, None if every_station else settings.station_id)
    if as_json:
        print_json([_as_json(r, since) for r, since in found])
        return
    table = Table("receipt", "file", f"since ({settings.timezone})", "recording", "error")
    for r, since in found:
        table.add_row(
            str(r.id), shown(r.path), local_time(since, settings), r.recording or "—", one_line(r.error or "")
        )
    out.print(table)
    out.print(f"{len(found)} quarantined; retry one with `evidock quarantine retry RECEIPT --reason ...`")


@quarantine_app.command("retry")
def retry(
    ctx: typer.Context,
    receipt: Annotated[int, typer.Argument(min=1, help="The receipt number (`evidock quarantine list`).")],
    reason: Annotated[str, typer.Option("--reason", help="What was fixed (事由); it goes into the log entry.")],
    as_json: JsonOption = False,
) -> None:
    """Run a quarantined file again once its cause is fixed; exit 0 when it is done (released), 1 if not.

    Example: evidock quarantine retry 42 --reason "target disk emptied"
    """
    settings = settings_of(ctx)
    with open_app(settings, ensure_bucket=False) as evi:
        person = acting_person(evi)
        permission = _permission(person)
        stopped = _quarantined_here(evi, receipt)
        evi.gate().record_query(
            person,
            command="quarantine retry",
            query={
                "receipt": str(stopped.id),
                "path": shown(stopped.path)[:ERROR_SHOWN],
                "error": one_line(stopped.error or "")[:ERROR_SHOWN],
            },
            reason=reason,
            permission=permission,
        )
        with evi.catalog.begin() as conn:
            reopened = receipts_db.reopen(conn, stopped, evi.now())
        err.print(
            f"receipt {reopened.id} ({shown(reopened.path)}) resumes at {reopened.state.value}",
            markup=False,
            soft_wrap=True,
        )
        outcome = evi.pipeline().run(reopened)
    done = outcome.receipt
    if as_json:
        print_json(_as_json(done))
    else:
        said = f"receipt {done.id}: {done.state.value}"
        said += f", recording {done.recording}" if done.recording else ""
        said += f"; {done.error}" if done.error else ""
        (out if done.state is State.RELEASED else err).print(one_line(said), markup=False, soft_wrap=True)
    if done.state is not State.RELEASED:
        raise typer.Exit(1)


def _quarantined_here(evi: App, number: int) -> Receipt:
    with evi.catalog.read() as conn:
        try:
            found = receipts_db.get(conn, number)
        except LookupError:
            raise NotFound(f"no receipt {number}; see `evidock quarantine list`") from None
    if found.state is not State.QUARANTINED:
        raise NotFound(f"receipt {number} is {found.state.value}, not quarantined: nothing to retry")
    if found.station != evi.settings.station_id:
        raise NotFound(
            f"receipt {number} was docked at station {found.station!r}, this is {evi.settings.station_id!r}: "
            "retry it there (its dock copy is on that station's disk)"
        )
    return found
