# The conventional entry points; the scripts behind them stay readable.
#   make run    install, start the local S3 server, run the service on ./inbox
#   make test   install, start the servers, ruff, mypy, import-linter, the whole test suite on SQLite,
#               then the tests that touch a catalog again on PostgreSQL (scripts/pg-up.sh)
#   make screenshots   the web pages in Chromium, saved to docs/screenshots/
#   make cluster-up / cluster-down   PostgreSQL (and the 3-OSD Ceph cluster) for many stations
.PHONY: install run test lint s3-up s3-down pg-up pg-down cluster-up cluster-down bench screenshots

VENV := .venv/bin

install:
	bash scripts/install.sh

s3-up:
	@bash scripts/s3-up.sh

s3-down:
	bash scripts/s3-down.sh

pg-up:
	@bash scripts/pg-up.sh

pg-down:
	bash scripts/pg-down.sh

cluster-up:
	@bash scripts/pg-up.sh
	@bash scripts/ceph-cluster-up.sh

cluster-down:
	bash scripts/ceph-cluster-down.sh
	bash scripts/pg-down.sh

run: install
	bash scripts/s3-up.sh >/dev/null
	mkdir -p inbox
	$(VENV)/evidock --config config.toml run

lint: install
	$(VENV)/ruff check .
	$(VENV)/mypy chain storage ingest retention witness evidock tests bench
	$(VENV)/lint-imports

# The PostgreSQL pass leaves out the pure tests (no catalog): they ran on SQLite already.
PURE_TESTS := --ignore=tests/chain --ignore=tests/checks --ignore=tests/retention --ignore=tests/independent_verifier

test: install lint
	bash scripts/s3-up.sh >/dev/null
	bash scripts/pg-up.sh >/dev/null
	$(VENV)/pytest -q
	EVIDOCK_TEST_DATABASE=postgresql $(VENV)/pytest -q $(PURE_TESTS)

bench: install
	bash scripts/s3-up.sh >/dev/null
	$(VENV)/python -m bench.ingest

screenshots: install
	bash scripts/screenshots.sh
