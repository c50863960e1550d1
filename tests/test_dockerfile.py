"""The production image (Dockerfile) carries what the service needs; it cannot be built here, so it is read.

No container engine runs on the development machines (see README, Production):
the Dockerfile is checked by review and by this test, which compares it with
what `make install` puts on a station (scripts/install.sh) and what the project
installs (pyproject.toml's packages).
"""

from __future__ import annotations

import re
import tomllib

from tests.conftest import REPO

TEST_ONLY = {
    "libimage-exiftool-perl": "tests write EXIF dates into camera JPEGs with exiftool",
    "poppler-utils": "tests render the PDF reports with pdftoppm and read them with pdftotext",
}


def _apt_installed(dockerfile: str) -> set[str]:
    joined = dockerfile.replace("\\\n", " ")
    match = re.search(r"apt-get install (?:-\S+ )*([^&\n]+)", joined)
    assert match is not None, "no apt-get install in the Dockerfile"
    return set(match.group(1).split())


def test_the_image_installs_every_debian_package_the_service_uses() -> None:
    script = (REPO / "scripts" / "install.sh").read_text(encoding="utf-8")
    listed = re.search(r"^APT_PACKAGES=\(([^)]*)\)", script, re.MULTILINE)
    assert listed is not None
    station = set(listed.group(1).split())
    assert set(TEST_ONLY) <= station, "a test-only package left install.sh: drop it here too"
    image = _apt_installed((REPO / "Dockerfile").read_text(encoding="utf-8"))
    assert station - set(TEST_ONLY) <= image, sorted(station - set(TEST_ONLY) - image)
    assert not image & set(TEST_ONLY), "test-only packages do not belong in the production image"


def test_the_image_copies_every_package_the_project_installs() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = set(re.findall(r"^COPY (\S+) \1$", (REPO / "Dockerfile").read_text(encoding="utf-8"), re.MULTILINE))
    assert packages <= copied, sorted(packages - copied)
