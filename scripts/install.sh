#!/usr/bin/env bash
# Install everything evidock needs on a fresh Debian 12 machine (run as root):
# system packages (ffmpeg for probing, xorriso for discs, chromium for the browser tests), a virtualenv in
# .venv with the pinned packages of requirements.lock, and evidock itself.
# The local S3 server's packages (Ceph) are installed by scripts/s3-up.sh.
# Idempotent: a second run only checks.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

# chromium + fonts-wqy-zenhei: the browser tests of the web pages (Debian's browser; Chinese glyphs).
# openssl: the local RFC 3161 TSA (evidock/local_tsa.py) and the tests that run it.
# libimage-exiftool-perl: the tests write EXIF into JPEGs (embedded times, tests/test_embedded_times.py).
# poppler-utils: the PDF report tests render and read the PDFs (pdftoppm, pdftotext).
APT_PACKAGES=(ffmpeg xorriso python3-venv chromium fonts-wqy-zenhei openssl libimage-exiftool-perl poppler-utils)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if (( ${#missing[@]} )); then
    if (( EUID != 0 )); then
        echo "install: missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
    echo "install: apt-get install ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

PYTHON=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
    echo "install: creating .venv" >&2
    "$PYTHON" -m venv .venv
fi
# Only reinstall when the lock or the project changed since the last install.
stamp=.venv/.evidock-installed
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
    echo "install: pip install -r requirements.lock" >&2
    .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.lock >&2
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -e . >&2
    echo "$want" > "$stamp"
fi
echo "install: ok (.venv/bin/evidock)" >&2
