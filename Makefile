# Everything a fresh clone needs: `make run` serves on 127.0.0.1:8000, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The tests run on PostgreSQL and Redis (pytest-django creates and drops test_<name>).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/topview_notices
TEST_BROKER_URL ?= redis://127.0.0.1:6379/0
HOST_PORT ?= 127.0.0.1:8000
# Where the server's and the worker's processes count for /metrics (one scrape adds them up).
METRICS_DIR ?= $(CURDIR)/.metrics

.PHONY: run test worker beat check compose-check clean bench-admin bench faults

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# With CELERY_BROKER_URL set, a worker runs beside the server and stops with it.
run: $(VENV)/.installed
	$(PY) manage.py migrate --noinput
	rm -rf $(METRICS_DIR) && mkdir -p $(METRICS_DIR)
	@export PROMETHEUS_MULTIPROC_DIR=$(METRICS_DIR); if [ -n "$$CELERY_BROKER_URL" ]; then \
		$(PY) -m celery -A topview_project worker --beat --loglevel=INFO & worker=$$!; \
		trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
		$(PY) manage.py runserver $(HOST_PORT); \
	else \
		$(PY) manage.py runserver $(HOST_PORT); \
	fi

# A queue of its own per run: two runs on one machine never take each other's messages.
# Live updates too: a channel prefix of its own (Redis pub/sub channels are shared by all runs).
test: $(VENV)/.installed
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
	CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
	CELERY_QUEUE=$${CELERY_QUEUE:-topview-test-$$$$} \
	CHANNEL_PREFIX=$${CHANNEL_PREFIX:-topview-test-$$$$} \
	$(PY) -m pytest $(PYTEST_ARGS)

worker: $(VENV)/.installed
	$(PY) -m celery -A topview_project worker --loglevel=INFO

beat: $(VENV)/.installed
	$(PY) -m celery -A topview_project beat --loglevel=INFO

# Django's own checks and a migration that was forgotten.
check: $(VENV)/.installed
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

# Debian's docker-compose validates the file; no Docker engine is needed for that.
compose-check:
	docker-compose config --quiet

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis db.sqlite3 $(METRICS_DIR)

# The fault suite (issue 3): a stack of its own, load, four faults, a table; FAULTS_ARGS=--short in CI.
faults: $(VENV)/.installed
	$(PY) faults/run.py $(FAULTS_ARGS)

# The notice admin list on a million rows (fills its own database once; a few minutes).
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/topview_notices_bench
bench-admin: $(VENV)/.installed
	psql "$(BENCH_DATABASE_URL)" -c "SELECT 1" >/dev/null 2>&1 || \
		createdb -h 127.0.0.1 -U postgres $(notdir $(BENCH_DATABASE_URL))
	PYTHONPATH=. DATABASE_URL=$(BENCH_DATABASE_URL) DJANGO_DEBUG=0 $(PY) bench/admin_million.py

# Ingest, end to end, worker drain and memory on a stack of its own (about 6 minutes; never in
# CI): prints a table, writes bench/last-run.json and bench/last-run.png.
bench: $(VENV)/.installed
	$(PY) bench/run.py

# The whole loop on this machine (issue 6): fake Topview, web server, a task submitted through the
# API and finished by the fake's callback, each step printed. DEMO_ARGS="--deliveries twice".
.PHONY: demo
demo: $(VENV)/.installed
	$(PY) demo/run.py $(DEMO_ARGS)
