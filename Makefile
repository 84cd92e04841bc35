# Grassroots. `make run` serves the platform with demo data; `make test` runs every test.
SHELL := /bin/bash
PY ?= python3
PORT ?= 8000
export UV_PYTHON_DOWNLOADS ?= never
export UV_PYTHON ?= 3.12
UV := $(PY) -m uv
RUN := $(UV) run --frozen
PLAYWRIGHT_CHROMIUM ?= /usr/bin/chromium

.DEFAULT_GOAL := help
.PHONY: help install run migrate demo browsers test check openapi messages bench-flash clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

install: ## Install Python dependencies into .venv (idempotent)
	@$(PY) -m uv --version >/dev/null 2>&1 || $(PY) -m pip install --quiet --user uv || $(PY) -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

migrate: install ## Apply database migrations
	@$(RUN) python manage.py migrate --noinput -v 0
	@$(RUN) python manage.py createcachetable

demo: migrate ## Load demo data (once) and print the demo accounts
	@$(RUN) python manage.py load_demo

run: demo ## Install, migrate, load demo data and serve at http://127.0.0.1:$(PORT)
	@$(RUN) python manage.py collectstatic --noinput -v 0
	@echo "Serving Grassroots at http://127.0.0.1:$(PORT)  (Ctrl-C to stop); periodic jobs run beside it"
	@setsid .venv/bin/python manage.py run_jobs & jobs=$$!; trap 'kill $$jobs 2>/dev/null' EXIT; \
	.venv/bin/granian --interface wsgi --host 127.0.0.1 --port $(PORT) --workers 2 --blocking-threads 4 --backlog 4096 --backpressure 2048 --workers-kill-timeout 3 grassroots.wsgi:application

browsers: ## Install Debian's Chromium for browser tests if it is missing
	@test -x $(PLAYWRIGHT_CHROMIUM) || (command -v apt-get >/dev/null && (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null))) || echo "chromium not installed: browser tests will be skipped"

test: install browsers ## Run the whole test suite (DATABASE_URL / REDIS_URL select the engines)
	@$(RUN) pytest -n 2 --dist loadgroup

check: install ## ruff, mypy, deploy checks and migration drift
	@$(RUN) ruff check .
	@$(RUN) ruff format --check .
	@$(RUN) mypy grassroots
	@GRASSROOTS_ALLOW_SIMULATED_PAYMENTS=1 SECRET_KEY=check-only-$$(date +%s)-a-long-random-value-for-deploy-checks DJANGO_SETTINGS_MODULE=grassroots.settings_production $(RUN) python manage.py check --deploy --fail-level WARNING
	@$(RUN) python manage.py makemigrations --check --dry-run

openapi: install ## Regenerate the committed OpenAPI schema (docs/openapi.json)
	@$(RUN) python manage.py export_openapi

messages: install ## Extract and compile translations (needs gettext)
	@cd grassroots && ../.venv/bin/django-admin makemessages -l zh_Hans --ignore '*/tests/*' --ignore 'static/*' --no-obsolete && ../.venv/bin/django-admin compilemessages -l zh_Hans

bench-flash: install ## Flash-sale benchmark on PostgreSQL (results in docs/benchmarks.md)
	@$(RUN) python -m bench.flash_sale.run

clean: ## Remove the local database and media
	rm -rf data/*.sqlite3* data/media data/static
