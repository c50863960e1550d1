"""Text shown to people (terminal, HTTP): hostile input escaped, never interpreted."""

from __future__ import annotations

import logging
import os


def one_line(text: str) -> str:
    """Error text on one line, control characters escaped (it may quote hostile input)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def shown(path: os.PathLike[str] | str) -> str:
    """A path as a person can read it: non-UTF-8 bytes and control characters escaped."""
    return one_line(os.fsencode(path).decode("utf-8", "backslashreplace"))


class OneLineFormatter(logging.Formatter):
    """Every log record is one line: control characters in its message are escaped.

    A message may quote a dock file's name, and a name may hold a newline: unescaped, a
    name like ``"a\\nERROR forged"`` would write a line of its own into the station's log.
    A traceback (``exc_info``) keeps its lines; it is the service's own text.
    """

    def format(self, record: logging.LogRecord) -> str:
        safe = logging.makeLogRecord(record.__dict__)
        safe.msg = one_line(record.getMessage())
        safe.args = None
        return super().format(safe)
