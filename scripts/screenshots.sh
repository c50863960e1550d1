#!/usr/bin/env bash
# Regenerate docs/screenshots/*.png: the browser test (Debian's Chromium, headless) walks every page as
# two custodians and an auditor, in Chinese and in English, and saves each page. Look at them after.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
bash scripts/install.sh
bash scripts/s3-up.sh >/dev/null
mkdir -p docs/screenshots
EVIDOCK_SCREENSHOTS="$REPO/docs/screenshots" .venv/bin/pytest -q -p no:cacheprovider tests/web/test_web_browser.py
ls docs/screenshots
