# Tidings — every command a developer or CI needs. `make run` and `make test` are the README's two.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run serve test test-fast test-postgres lint typecheck format messages system-deps bench bench-ingest bench-ingest-scale bench-extract bench-enrich bench-ai bench-search bench-scale bench-lighthouse screenshots soak clean help

help:
	@echo "make run        install into .venv and start the demo at http://$(HOST):$(PORT)"
	@echo "make test       install dev tools and run ruff, mypy --strict and the whole test suite"
	@echo "make test-fast  the unit and integration tests without the browser, stop at first failure"
	@echo "make test-postgres  the PostgreSQL pass alone: every test that reaches a database, on PostgreSQL"
	@echo "make bench      the ingest benchmark (figures go to docs/benchmarks.md by hand)"
	@echo "make messages   extract the interface strings and add new ones to the zh-Hant/zh-Hans catalogs"
	@echo "make bench-ingest   a 1,000-item local feed, feed-only and with every page fetched"
	@echo "make bench-ingest-scale  pages/s with 1, 2 and 4 workers (Redis), SQLite and PostgreSQL"
	@echo "make bench-extract  Tidings vs trafilatura, readability-lxml, newspaper4k on 181 news pages"
	@echo "make bench-enrich   stories on ECB+, hashtags on Wikinews-fr, embeddings, enrichment speed"
	@echo "make bench-ai       AI features: latency per provider, citation validity, ROUGE vs Lead-3"
	@echo "make bench-search   search p50/p99 on the demo and 100k articles, SQLite and PostgreSQL"
	@echo "make bench-scale    wrk on five pages over 100k and 1M synthetic articles, SQLite and PostgreSQL"
	@echo "make bench-lighthouse  Lighthouse scores of the front, article, story and search pages"
	@echo "make screenshots    docs/screenshots/*.png of the demo in headless Chromium"
	@echo "make soak       wrk load while the scheduler refreshes the demo, then long fuzzing (~15 min)"

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
# Google Reader API client (tests/test_greader_newsboat.py), wrk for `make soak`, and a
# Chinese font so that Chinese pages render as text, not boxes, in Chromium's screenshots.
SYSTEM_PACKAGES := chromium newsboat wrk
CJK_FONT := fonts-wqy-microhei
system-deps:
	@missing=""; for package in $(SYSTEM_PACKAGES); do \
		command -v $$package >/dev/null 2>&1 || missing="$$missing $$package"; done; \
	fc-list :lang=zh 2>/dev/null | grep -q . || missing="$$missing $(CJK_FONT)"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "Missing:$$missing (run: sudo apt-get install -y$$missing)" >&2; exit 1; fi; \
		echo "Installing$$missing (apt-get) for the tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# axe-core (npm registry) for the accessibility checks of the browser tests (tests/test_journey.py).
AXE := .cache/axe/node_modules/axe-core/axe.min.js
$(AXE):
	npm install --silent --no-audit --no-fund --prefix .cache/axe axe-core@4.14.1

# Lighthouse (npm registry) for `make bench-lighthouse`, run against Debian's Chromium.
LIGHTHOUSE := .cache/lighthouse/node_modules/.bin/lighthouse
$(LIGHTHOUSE):
	npm install --silent --no-audit --no-fund --prefix .cache/lighthouse lighthouse@12.2.3

# Performance, Accessibility, Best Practices and SEO of four pages of the demo (docs/benchmarks.md).
bench-lighthouse: $(VENV)/.installed-dev system-deps $(LIGHTHOUSE)
	bench/lighthouse.sh

# The README's screenshots, from the demo in headless Chromium (docs/screenshots/).
screenshots: $(VENV)/.installed-dev system-deps
	$(BIN)/python bench/screenshots.py

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

bench-ingest-scale: $(VENV)/.installed-dev
	$(BIN)/python bench/ingest_scale.py

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

# Interface strings (docs/i18n.md): extract them from the templates and the web layer, then
# add the new ones to each catalog; the .po files are compiled in memory when the app starts.
LOCALE_DIR := src/tidings/web/locale
messages: $(VENV)/.installed-dev
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext --no-location --sort-output \
		--project Tidings --msgid-bugs-address "" -o $(LOCALE_DIR)/messages.pot .
	for locale in zh_Hant zh_Hans; do \
		$(BIN)/pybabel update -i $(LOCALE_DIR)/messages.pot -d $(LOCALE_DIR) -l $$locale \
			--no-fuzzy-matching --ignore-obsolete; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache src/*.egg-info

# Search latency: the demo, then 100k synthetic articles, on SQLite and on the PostgreSQL at
# 127.0.0.1:5432 (a schema of its own, dropped after).
bench-search: $(VENV)/.installed-dev
	$(BIN)/python bench/search.py

# Scale (docs/benchmarks.md): synthetic stores of 100k and 1M articles (built once, kept in
# /tmp and in PostgreSQL databases tidings_bench_*), served on core 0, wrk on core 1.
SCALE_SIZES ?= 100000 1000000
bench-scale: $(VENV)/.installed-dev system-deps
	@for size in $(SCALE_SIZES); do for db in sqlite postgresql; do \
		bench/serve.sh $$size $$db || exit 1; done; done

# Soak (docs/reliability.md): wrk on one core against `tidings demo` on the other while the
# scheduler refreshes every 10-20 s; fails on any error response, lock error or memory growth.
# Then the long fuzz: the property tests with 20x the examples, and the same checks driven
# by atheris (coverage-guided libFuzzer) for 60 s per target (bench/fuzz.py).
soak: $(VENV)/.installed-dev system-deps
	$(BIN)/python bench/soak.py --seconds 180
	TIDINGS_FUZZ_EXAMPLES=3000 $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_fuzz.py
	$(BIN)/pip install -q -e '.[dev,fuzz]'
	$(BIN)/python bench/fuzz.py --seconds 60
