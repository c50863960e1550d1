"""evidock's image writer alone, on files already on the local disk: ``bench/export.py``'s "image" side.

It does what the baseline ``xorriso -as mkisofs`` does, build an image from
the files in a folder, with the code ``evidock export disc`` uses
(``retention.export.image.build_image``: pycdlib, the read-ahead thread, the
image's SHA-256 taken as it is written) and the check the access gate makes on
every original it serves (each file's SHA-256 against the recording's, at its
end). What it leaves out is what only an export from the store does: the
S3 reads, the log entries, the proofs and sheets.

Usage (the benchmark runs it)::

    python -m bench.export_image FOLDER SUMS.json OUT.iso

``SUMS.json`` maps each file name in FOLDER to its SHA-256; the image's size and
SHA-256 are printed as JSON.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator, Sequence
from functools import partial
from pathlib import Path

from retention.export.image import ImageFile, build_image
from retention.export.layout import ExportError
from retention.export.verify_disc import ORIGINALS, SUMS

CHUNK = 1 << 20


def checked_chunks(path: Path, sha256: str) -> Iterator[bytes]:
    """The file's bytes; an error at the end if they are not the expected ones (as the gate's ``Content``)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
            yield chunk
    if digest.hexdigest() != sha256:
        raise ExportError(f"{path.name}: SHA-256 {digest.hexdigest()}, expected {sha256}")


def main(argv: Sequence[str] | None = None) -> int:
    folder, sums, out = (Path(a) for a in (argv if argv is not None else sys.argv[1:]))
    expected: dict[str, str] = json.loads(sums.read_text(encoding="utf-8"))
    files = []
    for name, sha in sorted(expected.items()):
        path = folder / name
        files.append(ImageFile(f"{ORIGINALS}/{name}", path.stat().st_size, stream=partial(checked_chunks, path, sha)))
    listing = "".join(f"{sha}  {ORIGINALS}/{name}\n" for name, sha in sorted(expected.items())).encode()
    files.append(ImageFile(SUMS, len(listing), data=listing))
    image = build_image(files, out, volume_id="EVIDOCK_BENCH", capacity=1 << 50)
    print(json.dumps({"size": image.size, "sha256": image.sha256}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
