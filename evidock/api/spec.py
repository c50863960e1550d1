"""The OpenAPI document, published at /openapi.json and kept in docs/openapi.json.

``python -m evidock.api.spec`` rewrites docs/openapi.json; ``--check`` exits 1
if it is not current (tests/test_api_spec.py runs the check).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from evidock.api.factory import application

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def document() -> str:
    return json.dumps(application().openapi(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    current = document()
    if args == ["--check"]:
        if not DOCUMENT.exists() or DOCUMENT.read_text(encoding="utf-8") != current:
            sys.stderr.write(f"{DOCUMENT} is not current: run python -m evidock.api.spec\n")
            return 1
        return 0
    if args:
        sys.stderr.write("usage: python -m evidock.api.spec [--check]\n")
        return 2
    DOCUMENT.write_text(current, encoding="utf-8")
    sys.stdout.write(f"wrote {DOCUMENT}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
