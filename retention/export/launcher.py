"""``VERIFY.py`` as it goes on the disc: a version guard that any Python parses, then the verifier's text.

A clerk's computer may have an old Python. The verifier (``verify_disc.py``)
uses syntax of Python 3.8, and Python reads a whole file before running any of
it, so an older one would stop with a raw ``SyntaxError``. The disc's
``VERIFY.py`` therefore starts with a few lines that Python 2.7 and 3.x all
parse (no f-strings, annotations or walrus): they check the version and print
one line if it is too old. Only then is the verifier compiled, from a raw
string holding ``verify_disc.py`` byte for byte, so it stays readable on the
disc for anyone who wants to audit it.
"""

from __future__ import annotations

GUARD = """# -*- coding: utf-8 -*-
# VERIFY.py: checks this evidock evidence disc offline (see README.txt). 离线校验本证据光盘, 见 README.txt。
# Run it with Python 3.8 or later:  python3 -I VERIFY.py  (Windows: py -3 -I VERIFY.py)
# These first lines are plain enough for any Python to read, so that an older one says in one line
# that it is too old. The verifier itself is the text of VERIFIER below, compiled only after this check.
import sys

if sys.version_info < (3, 8):
    sys.stderr.write(
        "VERIFY.py needs Python 3.8 or later; this is Python %d.%d. "
        "Install a newer Python and run it again (需要 Python 3.8 或更高版本).\\n" % tuple(sys.version_info[:2])
    )
    sys.exit(2)

VERIFIER = r\'\'\'"""

TAIL = """\'\'\'

exec(compile(VERIFIER, __file__, "exec"))
"""

OLD_PYTHON_EXIT = 2
"""Exit status of ``VERIFY.py`` on a Python older than 3.8 (1 is a failed check, 0 a passed disc)."""


def disc_verifier(source: bytes) -> bytes:
    """The disc's ``VERIFY.py`` for the verifier module ``source`` (UTF-8 text)."""
    text = source.decode("utf-8")
    if "'''" in text or text.endswith("\\"):
        raise ValueError("the verifier's text cannot be held in a raw ''' string: avoid ''' in verify_disc.py")
    return (GUARD + text + TAIL).encode("utf-8")


def embedded_source(script: bytes) -> bytes:
    """The verifier's text held in a disc's ``VERIFY.py`` (the inverse of :func:`disc_verifier`)."""
    text = script.decode("utf-8")
    if not text.startswith(GUARD) or not text.endswith(TAIL):
        raise ValueError("not a VERIFY.py made by disc_verifier")
    return text[len(GUARD) : -len(TAIL)].encode("utf-8")
