"""The shared test vectors in ``../shared/testdata`` beside the repository.

CI runs on a fresh clone with a copy of ``shared/`` next to it, so the path is
found from this file, never from the working directory. A missing directory
fails the run rather than skipping the vectors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TESTDATA = (REPO / ".." / "shared" / "testdata").resolve()


def load(name: str) -> Any:
    """Parsed JSON of one vector file; raises (failing collection) if it is not there."""
    path = TESTDATA / name
    if not path.is_file():
        raise FileNotFoundError(
            f"test vectors not found at {path}: the shared/ directory must sit beside the "
            f"repository ({REPO.parent}/shared/testdata)"
        )
    return json.loads(path.read_text(encoding="utf-8"))
