"""Burning an image with ``xorriso`` and reading it back; or, without a drive, saying how to burn it.

A burn counts only when the disc reads back: after ``xorriso -as cdrecord``
the first ``image size`` bytes of the drive are hashed and must give the
image's SHA-256 (a disc is padded after the image, so only that prefix is
compared).
"""

from __future__ import annotations

import hashlib
import re
import shlex
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from retention.export.image import Image

_DEVICE_LINE = re.compile(r"-dev '([^']+)'")
_READ = 1 << 20  # bytes per read from the drive


@dataclass(frozen=True)
class BurnOutcome:
    image: Path
    device: str | None
    burned: bool
    verified: bool
    message: str  # what happened, or how to burn the image elsewhere


def burn_command(image: Path, device: str = "/dev/sr0") -> list[str]:
    """The xorriso command that burns ``image`` to ``device`` (blanking a rewritable disc if needed)."""
    return ["xorriso", "-as", "cdrecord", "-v", f"dev={device}", "blank=as_needed", str(image)]


def instructions(image: Path) -> str:
    """How to burn ``image`` at a burning station (Linux and Windows)."""
    return (
        f"burn {image} at a station with a drive: on Linux `{shlex.join(burn_command(image))}`; "
        "on Windows right-click the .iso file and choose 'Burn disc image' (刻录光盘映像); "
        "then run VERIFY.py on the burned disc"
    )


def drives() -> list[str]:
    """Optical drives xorriso can write to (empty without xorriso or without drives)."""
    if shutil.which("xorriso") is None:
        return []
    done = subprocess.run(["xorriso", "-devices"], capture_output=True, text=True, check=False, timeout=120)
    return _DEVICE_LINE.findall(done.stdout + done.stderr)


def _is_drive(device: str) -> bool:
    path = Path(device)
    try:
        return stat.S_ISBLK(path.stat().st_mode) and device in drives()
    except OSError:
        return False


def burn(image: Image, device: str) -> BurnOutcome:
    """Burn ``image`` to ``device`` and read it back; without such a drive, say how to burn it."""
    if not _is_drive(device):
        found = drives()
        seen = f"drives found: {', '.join(found)}" if found else "no optical drive found"
        return BurnOutcome(
            image.path,
            device,
            False,
            False,
            f"{device} is not a writable optical drive ({seen}); {instructions(image.path)}",
        )
    done = subprocess.run(
        burn_command(image.path, device),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return BurnOutcome(image.path, device, False, False, f"xorriso failed on {device}: {' | '.join(tail)}")
    digest = hashlib.sha256()
    left = image.size
    with open(device, "rb") as disc:
        while left > 0:
            chunk = disc.read(min(_READ, left))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
    if left or digest.hexdigest() != image.sha256:
        return BurnOutcome(
            image.path, device, True, False, f"the disc in {device} does not read back as the image: burn another disc"
        )
    return BurnOutcome(image.path, device, True, True, f"burned to {device} and read back: SHA-256 {image.sha256}")
