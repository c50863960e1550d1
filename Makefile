# The conventional entry points; the scripts behind them stay readable.
#   make run    install, start the local S3 server, run the service on ./inbox
#   make test   install, start the server, ruff, mypy, import-linter, the whole test suite
#   make screenshots   the web pages in Chromium, saved to docs/screenshots/
.PHONY: install run test lint s3-up s3-down bench screenshots

VENV := .venv/bin

install:
	bash scripts/install.sh

s3-up:
	@bash scripts/s3-up.sh

s3-down:
	bash scripts/s3-down.sh

run: install
	bash scripts/s3-up.sh >/dev/null
	mkdir -p inbox
	$(VENV)/evidock --config config.toml run

lint: install
	$(VENV)/ruff check .
	$(VENV)/mypy chain storage ingest retention witness evidock tests bench
	$(VENV)/lint-imports

test: install lint
	bash scripts/s3-up.sh >/dev/null
	$(VENV)/pytest -q

bench: install
	bash scripts/s3-up.sh >/dev/null
	$(VENV)/python -m bench.ingest

screenshots: install
	bash scripts/screenshots.sh
