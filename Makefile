# Tidings — every command a developer or CI needs. `make run` and `make test` are the README's two.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run serve test test-fast test-postgres lint typecheck format system-deps bench bench-ingest bench-extract bench-enrich bench-ai bench-search soak clean help

help:
	@echo "make run        install into .venv and start the demo at http://$(HOST):$(PORT)"
	@echo "make test       install dev tools and run ruff, mypy --strict and the whole test suite"
	@echo "make test-fast  the unit and integration tests without the browser, stop at first failure"
	@echo "make test-postgres  the PostgreSQL pass alone: every test that reaches a database, on PostgreSQL"
	@echo "make bench      the ingest benchmark (figures go to docs/benchmarks.md by hand)"
	@echo "make bench-ingest   a 1,000-item local feed, feed-only and with every page fetched"
	@echo "make bench-extract  Tidings vs trafilatura, readability-lxml, newspaper4k on 181 news pages"
	@echo "make bench-enrich   stories on ECB+, hashtags on Wikinews-fr, embeddings, enrichment speed"
	@echo "make bench-ai       AI features: latency per provider, citation validity, ROUGE vs Lead-3"
	@echo "make bench-search   search p50/p99 on the demo and 100k articles, SQLite and PostgreSQL"
	@echo "make soak       3 minutes of wrk load on 127.0.0.1 while the scheduler refreshes the demo"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	# The machine's pip (23.2) mis-resolves some extras: upgrade it inside the venv first.
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/tidings demo --host $(HOST) --port $(PORT)

serve: $(VENV)/.installed
	$(BIN)/tidings serve --host $(HOST) --port $(PORT)

# System packages the tests need (Debian): Chromium for the browser tests, newsboat as a real
# Google Reader API client (tests/test_greader_newsboat.py), wrk for `make soak`.
SYSTEM_PACKAGES := chromium newsboat wrk
system-deps:
	@missing=""; for package in $(SYSTEM_PACKAGES); do \
		command -v $$package >/dev/null 2>&1 || missing="$$missing $$package"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "Missing:$$missing (run: sudo apt-get install -y$$missing)" >&2; exit 1; fi; \
		echo "Installing$$missing (apt-get) for the tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# axe-core (npm registry) for the accessibility checks of the browser tests (tests/test_journey.py).
AXE := .cache/axe/node_modules/axe-core/axe.min.js
$(AXE):
	npm install --silent --no-audit --no-fund --prefix .cache/axe axe-core@4.14.1

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy --strict src

format: $(VENV)/.installed-dev
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

# The whole suite on SQLite, then every test that reaches a database again on the PostgreSQL
# at TIDINGS_TEST_POSTGRES (default 127.0.0.1:5432, database `test`; each test gets a database of
# its own, dropped after). Without PostgreSQL the second pass skips, saying why; under CI=true
# it fails.
test: $(VENV)/.installed-dev system-deps $(AXE) lint typecheck
	$(BIN)/pytest -W error
	$(MAKE) --no-print-directory test-postgres

test-fast: $(VENV)/.installed-dev
	$(BIN)/pytest -W error -x -q --ignore=tests/test_browser.py --ignore=tests/test_journey.py

# Left out of the PostgreSQL pass: the browser tests (they drive the same routes as
# tests/test_web.py and friends, which do run on PostgreSQL) and the real-model test (it
# exercises the model server, not the database).
test-postgres: $(VENV)/.installed-dev
	TIDINGS_TEST_DATABASE=postgresql $(BIN)/pytest -W error --ignore=tests/test_browser.py \
		--ignore=tests/test_journey.py --ignore=tests/test_ai_model.py

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/demo_refresh.py

bench-ingest: $(VENV)/.installed-dev
	$(BIN)/python bench/ingest.py

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $@ $(VENV)/.installed $(VENV)/.installed-dev

# The article-extraction benchmark lives in ../shared/data (not in this repository).
bench-extract: $(VENV)/.installed-bench
	$(BIN)/python bench/extraction.py --markdown

# Enrichment: story clustering on ECB+, hashtags on Wikinews-fr (data in ../shared/data),
# embedding backends and ANN choice, and enrichment speed as the store grows.
bench-enrich: $(VENV)/.installed-bench
	$(BIN)/python bench/stories.py
	$(BIN)/python bench/tags.py
	$(BIN)/python bench/embed.py
	$(BIN)/python bench/enrich.py

bench-ai: $(VENV)/.installed-bench
	$(BIN)/python bench/ai.py --show 6

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache src/*.egg-info

# Search latency: the demo, then 100k synthetic articles, on SQLite and on the PostgreSQL at
# 127.0.0.1:5432 (a schema of its own, dropped after).
bench-search: $(VENV)/.installed-dev
	$(BIN)/python bench/search.py

# Soak (docs/reliability.md): wrk on one core against `tidings demo` on the other while the
# scheduler refreshes every 10-20 s; fails on any error response, lock error or memory growth.
soak: $(VENV)/.installed-dev system-deps
	$(BIN)/python bench/soak.py --seconds 180
