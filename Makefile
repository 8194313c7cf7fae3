# bankportal developer tasks (GNU make).
#
#   make run    - virtualenv + migrate + CA (ca_init) + demo data + development server on http://127.0.0.1:8000
#   make test   - virtualenv + the pytest suite (SQLite unless DATABASE_URL / REDIS_URL are set)
#
# Every target that runs Django exports DEBUG=1, which enables the development defaults for
# SECRET_KEY, FIELD_ENCRYPTION_KEYS, BLIND_INDEX_KEY, ACCOUNT_PIN_KEY, AUDIT_SEAL_KEY and
# CA_KEY_PASSPHRASE (see README, "Configuration").
# DATABASE_URL, REDIS_URL and the other settings are taken from your environment unchanged.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Stamp file: (re)install whenever pyproject.toml is newer than the last install.
INSTALLED := $(VENV)/.installed
# Extra arguments for pytest, e.g. make test PYTEST_ARGS="-k transfer -x"
PYTEST_ARGS ?=
# The directory settings.VAR_DIR points at (SQLite database, collected static files, beat schedule).
VAR := $(or $(VAR_DIR),var)

DJANGO := DEBUG=1 $(BIN)/python manage.py

.PHONY: help venv run test lint format typecheck messages worker beat clean distclean

help:
	@echo "make run        create .venv, migrate, seed demo personas (prints logins and staff authenticator QR codes),"
	@echo "                serve http://127.0.0.1:8000"
	@echo "make test       create .venv, run pytest (PYTEST_ARGS='...' passes options through)"
	@echo "make venv       create/refresh .venv only (reinstalls when pyproject.toml changes)"
	@echo "make lint       ruff check + ruff format --check"
	@echo "make format     ruff format + ruff check --fix"
	@echo "make typecheck  mypy (django-stubs plugin)"
	@echo "make messages   makemessages -l ko -l en, then compilemessages (commit the .po and .mo)"
	@echo "make worker     celery worker (needs REDIS_URL)"
	@echo "make beat       celery beat (needs REDIS_URL)"
	@echo "make clean      remove caches and collected static files; distclean also removes .venv and var/"

# --- virtualenv -------------------------------------------------------------------------------

$(BIN)/python:
	$(PYTHON) -m venv --clear $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	touch $@

venv: $(INSTALLED)

$(VAR):
	mkdir -p $@

# --- everyday ---------------------------------------------------------------------------------

run: $(INSTALLED) | $(VAR)
	$(DJANGO) migrate --noinput
	$(DJANGO) ca_init
	$(DJANGO) seed_demo
	@echo "Staff admin: http://127.0.0.1:8000/admin/ asks for user name, password and a 6-digit authenticator code."
	@echo "  Scan a QR code above into an authenticator app, or print the current code in another terminal:"
	@echo "  DEBUG=1 $(BIN)/python manage.py staff_otp_code teller01    (or manager01)"
	@echo "Text messages and ARS calls (one-time codes, notices) are printed below by the development server."
	SMS_BACKEND=$${SMS_BACKEND:-console} ARS_BACKEND=$${ARS_BACKEND:-console} $(DJANGO) runserver 127.0.0.1:8000

# pytest's exit code is passed through untouched: 5 ("no tests collected") fails the target.
test: $(INSTALLED) | $(VAR)
	DEBUG=1 $(BIN)/pytest $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(INSTALLED)
	DEBUG=1 $(BIN)/mypy .

messages: $(INSTALLED)
	mkdir -p locale
	$(DJANGO) makemessages -l ko -l en --ignore=.venv --ignore=var --ignore=tests --ignore=bench
	$(DJANGO) compilemessages --ignore=.venv

# --- background jobs (need Redis; without REDIS_URL tasks run eagerly inside the web process) ----

worker: $(INSTALLED)
	@test -n "$${REDIS_URL:-}" || { echo "make worker: set REDIS_URL (e.g. redis://127.0.0.1:6379/0)" >&2; exit 2; }
	DEBUG=1 $(BIN)/celery -A bankportal worker -l info

beat: $(INSTALLED) | $(VAR)
	@test -n "$${REDIS_URL:-}" || { echo "make beat: set REDIS_URL (e.g. redis://127.0.0.1:6379/0)" >&2; exit 2; }
	DEBUG=1 $(BIN)/celery -A bankportal beat -l info --schedule $(VAR)/celerybeat-schedule

# --- housekeeping -----------------------------------------------------------------------------

clean:
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	rm -rf .pytest_cache .mypy_cache .ruff_cache test-artifacts *.egg-info $(VAR)/static

# Also deletes the development database in var/.
distclean: clean
	rm -rf $(VENV) $(VAR)
