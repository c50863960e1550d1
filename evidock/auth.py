"""Who is acting: the CLI's named user, from the environment or a password prompt.

A person acts as ``$EVIDOCK_USER`` with ``$EVIDOCK_TOKEN`` (an API token from
`evidock users add` or `evidock users token`) or ``$EVIDOCK_PASSWORD``; with
neither, the password is asked for on the terminal. Credentials are never
command-line options: a command line is visible to every user of the machine
(``ps``, ``/proc``) and lands in shell history.

Only the dock's own pipeline (`evidock run`, and `evidock ingest`, which runs the
same pipeline by hand) works without a person; see docs/access.md.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Mapping

from access.errors import InvalidAccessInput, NotAuthenticated
from access.people import Person, authenticate
from evidock.app import App

USER_ENV = "EVIDOCK_USER"
TOKEN_ENV = "EVIDOCK_TOKEN"  # noqa: S105 - the variable's name, not a secret
PASSWORD_ENV = "EVIDOCK_PASSWORD"  # noqa: S105 - the variable's name, not a secret
NEW_PASSWORD_ENV = "EVIDOCK_NEW_PASSWORD"  # noqa: S105 - `users add --password` reads the new password here


def _ask(prompt: str) -> str:
    if not sys.stdin.isatty():
        raise NotAuthenticated(
            f"no terminal to ask for the password: set {TOKEN_ENV} or {PASSWORD_ENV} in the environment"
        )
    return getpass.getpass(prompt)


def acting_name(environ: Mapping[str, str] | None = None) -> str | None:
    """``$EVIDOCK_USER``, or None when unset."""
    env = os.environ if environ is None else environ
    return env.get(USER_ENV, "").strip() or None


def acting_person(evi: App, environ: Mapping[str, str] | None = None, ask: Callable[[str], str] = _ask) -> Person:
    """The authenticated person named by ``$EVIDOCK_USER``; refused without a valid token or password."""
    env = os.environ if environ is None else environ
    name = acting_name(env)
    if name is None:
        raise NotAuthenticated(
            f"who is acting? set {USER_ENV} and {TOKEN_ENV} (or {PASSWORD_ENV}, or answer the password prompt); "
            "evidock does nothing anonymously but the dock's own ingest"
        )
    token = env.get(TOKEN_ENV) or None
    password = env.get(PASSWORD_ENV) or None
    if token is None and password is None:
        password = ask(f"password for {name}: ")
    with evi.catalog.read() as conn:
        return authenticate(conn, name, token=token, password=password)


def new_password(environ: Mapping[str, str] | None = None, ask: Callable[[str], str] = _ask) -> str:
    """A new user's password: ``$EVIDOCK_NEW_PASSWORD``, else asked twice on the terminal."""
    env = os.environ if environ is None else environ
    given = env.get(NEW_PASSWORD_ENV)
    if given:
        return given
    first = ask("new password: ")
    if ask("again: ") != first:
        raise InvalidAccessInput("the two passwords differ; nothing was changed")
    return first
