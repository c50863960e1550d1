# The conventional entry points; the scripts behind them stay readable.
#   make run    check ports, install, start the local S3 server, run the service on ./inbox against it
#   make test   check ports, install, start the servers, ruff (check and format), mypy, import-linter, the whole test suite
#               on SQLite, then the tests that touch a catalog again on PostgreSQL (scripts/pg-up.sh)
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

# The service's HTTP port (EVIDOCK_HTTP_PORT=8081 make run); the S3 server's: EVIDOCK_S3_PORT (docs/local-s3.md).
EVIDOCK_HTTP_PORT ?= 8080

# Ports first, so a taken one is reported before the install's minutes. The service is
# told the endpoint of the S3 server just started ($EVIDOCK_S3_ENDPOINT, set by scripts/with-s3.sh),
# so it writes there whatever config.toml's s3.endpoint says; it prints the endpoint at start.
run:
	bash scripts/check-ports.sh $(EVIDOCK_HTTP_PORT)
	bash scripts/install.sh
	mkdir -p inbox
	bash scripts/with-s3.sh $(VENV)/evidock --config config.toml run --http-port $(EVIDOCK_HTTP_PORT)

lint: install
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy chain storage access cases ingest retention derived witness evidock tests bench
	$(VENV)/lint-imports

# The PostgreSQL pass leaves out the pure tests (no catalog): they ran on SQLite already.
PURE_TESTS := --ignore=tests/chain --ignore=tests/checks --ignore=tests/retention --ignore=tests/independent_verifier

# Each test names its S3 server in its own config (tests/conftest.py asks scripts/s3-up.sh for
# it, with the same EVIDOCK_S3_* settings): an EVIDOCK_S3_ENDPOINT of the caller's must not redirect them.
test:
	bash scripts/check-ports.sh
	$(MAKE) --no-print-directory lint
	bash scripts/s3-up.sh >/dev/null
	bash scripts/pg-up.sh >/dev/null
	env -u EVIDOCK_S3_ENDPOINT $(VENV)/pytest -q
	env -u EVIDOCK_S3_ENDPOINT EVIDOCK_TEST_DATABASE=postgresql $(VENV)/pytest -q $(PURE_TESTS)

bench: install
	bash scripts/s3-up.sh >/dev/null
	$(VENV)/python -m bench.ingest

screenshots: install
	bash scripts/screenshots.sh
