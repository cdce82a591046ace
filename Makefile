# CodeQR — one entry point for people and CI alike.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(PYTHON) -m uv
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
VENV := .venv
# The suites spend most of their time waiting on real servers, so they run in parallel
# processes (pytest-xdist), a test module each, at least three even on two cores.
TEST_WORKERS ?= $(shell n=$$(nproc); echo $$(( n > 3 ? n : 3 )))
PYTEST := $(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile --durations=15
# Run again with CODEQR_EVENTS_URL=chdb:///… (issue 16): clicks through SIGKILL, the click →
# lead → sale → Stripe loop through the dub SDK, the live stream, the ClickHouse shipper.
CHDB_SUITES := tests/events/test_durability.py tests/events/test_shipping.py tests/sdk \
	tests/stream tests/stripe tests/conversion/test_track.py tests/conversion/test_idempotency.py

.PHONY: install system-deps serve test test-sqlite test-postgres check lint types format bench bench-track vendor vendor-swagger-ui vendor-axe clean

# Bytecode is compiled ahead: the dependencies' at install (uv's --compile-bytecode), src/'s
# before each serve and test run (compileall redoes only changed files). Where
# PYTHONDONTWRITEBYTECODE is set (this CI machine sets it) Python never writes .pyc files
# itself, and every process compiled its imports from source: `codeqr users create` took
# 3.2 s instead of 1.1 s, and each server and test worker paid the same at start-up.
COMPILE_SRC := $(VENV)/bin/python -m compileall -q src >/dev/null

$(VENV)/.installed: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	$(UV) sync --frozen --all-groups --compile-bytecode
	@touch $@

# What `make serve` needs: CodeQR and its runtime dependencies only, none of the dev tools
# (pytest, Playwright, mypy, ruff…). --inexact keeps the tools of an earlier `make install`.
$(VENV)/.runtime: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	$(UV) sync --frozen --no-dev --inexact --compile-bytecode
	@touch $@

install: $(VENV)/.installed  ## Create .venv with CodeQR and its tools

system-deps:  ## Chromium and libcairo2 for the suites (apt-get as root; else names them and stops)
	@scripts/system-deps

serve: $(VENV)/.runtime  ## Run the server on the embedded default (SQLite in ./.codeqr)
	@$(COMPILE_SRC)
	$(VENV)/bin/codeqr serve $(ARGS)

test: install system-deps  ## Run every suite: SQLite always; PostgreSQL and Redis when their URLs are set
	@$(COMPILE_SRC)
	@redis=""; if [ -z "$$CODEQR_TEST_REDIS_URL" ]; then redis=" and not redis"; \
		echo "CODEQR_TEST_REDIS_URL not set: Redis tests not run (CI sets it)."; fi; \
	$(PYTEST) -q -p no:cacheprovider -m "not postgres$$redis" && \
	echo "== The acceptance suites with events in ClickHouse (chdb) ==" && \
	CODEQR_TEST_EVENTS=chdb $(PYTEST) -q -p no:cacheprovider -m "not postgres$$redis" \
		$(CHDB_SUITES) && \
	if [ -n "$$CODEQR_TEST_POSTGRES_URL" ]; then \
		echo "== PostgreSQL suite on $$CODEQR_TEST_POSTGRES_URL =="; \
		CODEQR_TEST_DATABASE_URL="$$CODEQR_TEST_POSTGRES_URL" \
			$(PYTEST) -q -p no:cacheprovider -m "not sqlite_only$$redis"; \
	else \
		echo "CODEQR_TEST_POSTGRES_URL not set: PostgreSQL suite not run (CI sets it)."; \
	fi

check: lint types  ## Lint and type-check

lint: install
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

types: install
	$(VENV)/bin/mypy src

format: install
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

bench: install  ## Redirect benchmark (needs wrk and nginx; see docs/benchmarks.md)
	$(VENV)/bin/python bench/redirect.py

bench-track: install  ## track.lead / track.sale beside the redirect (needs wrk)
	$(VENV)/bin/python bench/track.py

# The dashboard's charting library, served by the app itself (no CDN at run time): the
# published tarball of a pinned version, fetched by npm and checked against its SHA-256.
CHARTJS_VERSION := 4.5.1
CHARTJS_SHA256 := f540d98468457ac7a0aabb32006dfb066297e096c5ea063a5d80aa973d1c337a
VENDOR_DIR := src/codeqr/dashboard/static/vendor

vendor:  ## Re-fetch the dashboard's vendored Chart.js with npm pack
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	(cd "$$tmp" && npm pack --silent chart.js@$(CHARTJS_VERSION) >/dev/null) && \
	echo "$(CHARTJS_SHA256)  $$tmp/chart.js-$(CHARTJS_VERSION).tgz" | sha256sum --check --quiet && \
	tar -xzf "$$tmp/chart.js-$(CHARTJS_VERSION).tgz" -C "$$tmp" package/dist/chart.umd.min.js package/LICENSE.md && \
	mkdir -p $(VENDOR_DIR) && \
	cp "$$tmp/package/dist/chart.umd.min.js" $(VENDOR_DIR)/chart.umd.min.js && \
	cp "$$tmp/package/LICENSE.md" $(VENDOR_DIR)/chart.js.LICENSE.md && \
	echo "Chart.js $(CHARTJS_VERSION) -> $(VENDOR_DIR)"

# Swagger UI for /api/docs, the same way: served from /static, never from a CDN.
SWAGGER_UI_VERSION := 5.36.0
SWAGGER_UI_SHA256 := 685a2b38b5d6eab2dbc096a8596db11cc7409cdb671d2e3bec8f9b017d0d566b
SWAGGER_UI_DIR := $(VENDOR_DIR)/swagger-ui

vendor-swagger-ui:  ## Re-fetch the vendored Swagger UI of /api/docs with npm pack
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	(cd "$$tmp" && npm pack --silent swagger-ui-dist@$(SWAGGER_UI_VERSION) >/dev/null) && \
	echo "$(SWAGGER_UI_SHA256)  $$tmp/swagger-ui-dist-$(SWAGGER_UI_VERSION).tgz" | sha256sum --check --quiet && \
	tar -xzf "$$tmp/swagger-ui-dist-$(SWAGGER_UI_VERSION).tgz" -C "$$tmp" package/swagger-ui-bundle.js \
		package/swagger-ui.css package/LICENSE package/NOTICE package/swagger-ui-bundle.js.LICENSE.txt && \
	mkdir -p $(SWAGGER_UI_DIR) && \
	for f in swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt; do \
		cp "$$tmp/package/$$f" $(SWAGGER_UI_DIR)/$$f; done && \
	echo "Swagger UI $(SWAGGER_UI_VERSION) -> $(SWAGGER_UI_DIR)"

# axe-core, the accessibility checker the browser tests inject into every page: a test
# fixture only, never served by the app.
AXE_VERSION := 4.14.1
AXE_SHA256 := e6b0ce02b84d892e2e33e403485e7f3d6c29e2be6df65daf44d89ba564139745
AXE_DIR := tests/fixtures/axe

vendor-axe:  ## Re-fetch the tests' vendored axe-core with npm pack
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	(cd "$$tmp" && npm pack --silent axe-core@$(AXE_VERSION) >/dev/null) && \
	echo "$(AXE_SHA256)  $$tmp/axe-core-$(AXE_VERSION).tgz" | sha256sum --check --quiet && \
	tar -xzf "$$tmp/axe-core-$(AXE_VERSION).tgz" -C "$$tmp" package/axe.min.js package/LICENSE && \
	mkdir -p $(AXE_DIR) && \
	cp "$$tmp/package/axe.min.js" $(AXE_DIR)/axe.min.js && \
	cp "$$tmp/package/LICENSE" $(AXE_DIR)/LICENSE && \
	echo "axe-core $(AXE_VERSION) -> $(AXE_DIR)"

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
