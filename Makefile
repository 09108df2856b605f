# Every target installs what it needs on first use: a pinned uv under .state/, then .venv from uv.lock.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
STATE := .state
UV := $(STATE)/tools/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
SYNCED := $(VENV)/.synced
# A vendor's official client, where one exists, judges its simulator: each sandbox/vendors/*/sdk_check
# folder pins it in a package-lock.json that `npm ci` installs with the machine's Node.js.
NODE_CHECKS := $(patsubst %/package-lock.json,%/node_modules/.installed,$(wildcard sandbox/vendors/*/sdk_check/package-lock.json))

.PHONY: install demo test bench bench-smoke bench-parse migrate reliability clean ui-check airflow airflow-check distributed-check

$(UV):
	$(PYTHON) -m venv $(STATE)/tools
	$(STATE)/tools/bin/pip install --quiet uv==$(UV_VERSION)

$(SYNCED): pyproject.toml uv.lock | $(UV)
	UV_PYTHON_DOWNLOADS=never $(UV) sync --frozen --extra dev --extra celery
	touch $@

%/node_modules/.installed: %/package-lock.json
	npm ci --prefix $* --no-audit --no-fund --loglevel=error
	touch $@

install: $(SYNCED) $(NODE_CHECKS)  ## create .venv from the lock (and the vendors' official clients from their npm locks)

demo: $(SYNCED)  ## land LeadConduit from the sandbox into an embedded warehouse and print a summary
	$(PY) -m devtools.demo

test: $(SYNCED) $(NODE_CHECKS)  ## run every test (real PostgreSQL at 127.0.0.1:5432, or an embedded one)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(SYNCED)  ## side by side with raw COPY, stock Airflow and dlt (100,000 events, 3 repeats): bench/results/latest.*
	$(PY) -m bench.run --uv $(UV) $(BENCH_ARGS)

bench-smoke: $(SYNCED)  ## the bench at a tiny size, one repeat (make test runs it too); results under .state/bench/smoke
	$(PY) -m bench.run --uv $(UV) --smoke --results-dir $(STATE)/bench/smoke $(BENCH_ARGS)

bench-parse: $(SYNCED)  ## each DAG file's parse time as a task pays it (fresh interpreters, 5 repeats): bench/results/parse.*
	$(PY) -m bench.parse_dags $(PARSE_ARGS)

reliability: $(SYNCED)  ## fault matrix: every sandbox fault, warehouse restart and kill, on every registered stream
	$(PY) -m devtools.reliability $(RELIABILITY_ARGS)

AIRFLOW_PORT ?= 8080

airflow: $(SYNCED)  ## a real Airflow 3 (standalone) on the embedded warehouse and the sandbox, in the foreground; Ctrl-C stops it
	$(PY) -m devtools.airflow_local --port $(AIRFLOW_PORT)

airflow-check: $(SYNCED)  ## tests/airflow: a real Airflow through its REST API (DAGs, connection forms, Test connection, pools, assets, a backfill)
	$(PY) -m pytest tests/airflow $(PYTEST_ARGS)

# Redis for the Celery broker: the one at 127.0.0.1:6379 when it answers, else Debian's redis-server, started
# by the check itself (installed here only when neither exists).
distributed-check: $(SYNCED)  ## the docker-compose topology natively: CeleryExecutor, two workers, every DAG for a window, checked
	@if ! command -v redis-server >/dev/null && ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then \
		apt-get update -qq && apt-get install -y --no-install-recommends redis-server; fi
	$(PY) -m devtools.distributed $(DISTRIBUTED_ARGS)

# The browser check needs Debian's Chromium (Playwright drives it; no browser build is downloaded).
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	apt-get update -qq
	apt-get install -y --no-install-recommends chromium

ui-check: $(SYNCED) $(CHROMIUM)  ## tests/browser: headless Chromium logs in to a local Airflow, checks its pages and the status page; screenshots in .state/screenshots
	LEAD_PIPELINES_UI_CHECK=1 $(PY) -m pytest tests/browser $(PYTEST_ARGS)

migrate: $(SYNCED)  ## apply include/sql migrations to the leads_warehouse connection
	$(PY) -m lead_pipelines.common.warehouse migrate

clean:  ## remove local state (embedded warehouse, Airflow homes) and the venv
	rm -rf $(STATE) $(VENV)
