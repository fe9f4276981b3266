# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/oa_billing
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install lint format messages bench-codes bench-usage mutation

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

# A local .env with a fresh secret key; never committed.
.env:
	sed "s|^SECRET_KEY=.*|SECRET_KEY=$$($(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))')|" .env.example > .env

run: install .env
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	DJANGO_SETTINGS_MODULE=config.test_settings $(BIN)/python manage.py makemigrations --check --dry-run
	@if [ -x "$${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then \
		echo "== browser tests (tests/e2e) run in $${CHROMIUM_PATH:-/usr/bin/chromium}"; \
	else \
		echo "== browser tests (tests/e2e) will be SKIPPED: no Chromium at $${CHROMIUM_PATH:-/usr/bin/chromium} (apt-get install chromium)"; \
	fi
	REQUIRE_POSTGRES= $(BIN)/pytest
	@if $(BIN)/python tests/postgres_available.py "$(TEST_DATABASE_URL)"; then \
		echo "== the suite again on PostgreSQL ($(TEST_DATABASE_URL))"; \
		DATABASE_URL="$(TEST_DATABASE_URL)" REQUIRE_POSTGRES=1 $(BIN)/pytest; \
	elif [ "$$REQUIRE_POSTGRES" = "1" ]; then \
		echo "REQUIRE_POSTGRES=1 and PostgreSQL is not reachable"; exit 1; \
	else \
		echo "PostgreSQL-only tests were skipped (see the reason above)"; \
	fi

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

messages: install
	$(BIN)/python manage.py makemessages -l zh_Hant -l en --ignore=.venv --ignore=bench --ignore=mutants
	$(BIN)/python manage.py compilemessages --ignore=.venv --ignore=mutants

bench-codes: install
	$(BIN)/python bench/generate_codes.py

bench-usage: install
	$(BIN)/python bench/usage_sync.py

# Mutation testing of the money path and the e-invoice identifiers (not in CI, not in `make test`): mutmut
# changes billing/pricing.py, billing/estimator.py and invoices/validators.py one mutant at a time and runs
# their own tests (pyproject.toml, [tool.mutmut]). From a
# clean mutants/ each time, so no verdict is left over from older tests. Prints the figures, then the survivors.
mutation: install
	rm -rf mutants
	$(BIN)/mutmut run > /dev/null 2>&1 || { $(BIN)/mutmut run; exit 1; }
	$(BIN)/mutmut export-cicd-stats > /dev/null
	@$(BIN)/python -c "import json; s = json.load(open('mutants/mutmut-cicd-stats.json')); \
		print('mutants:', s['total'], ' killed:', s['killed'], ' survived:', s['survived'], \
		' other:', s['total'] - s['killed'] - s['survived'], ' kill rate: %.1f%%' % (100 * s['killed'] / s['total']))"
	$(BIN)/mutmut results
