"""Text shown to people (terminal, HTTP): hostile input escaped, never interpreted."""

from __future__ import annotations

import os


def one_line(text: str) -> str:
    """Error text on one line, control characters escaped (it may quote hostile input)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def shown(path: os.PathLike[str] | str) -> str:
    """A path as a person can read it: non-UTF-8 bytes and control characters escaped."""
    return one_line(os.fsencode(path).decode("utf-8", "backslashreplace"))
