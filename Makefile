# The README's two commands: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install run test test-postgres bench lint format translations clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

translations: install
	@$(BIN)/pybabel compile -d app/translations > /dev/null

run: install translations
	MORALBANK_DEV=1 $(FLASK) db upgrade
	MORALBANK_DEV=1 $(FLASK) demo
	@MORALBANK_DEV=1 $(BIN)/python -c "from app.demo import print_logins; print_logins('$(HOST):$(PORT)')"
	MORALBANK_DEV=1 $(FLASK) run --host $(HOST) --port $(PORT)

test: install translations
	$(BIN)/pytest

# The suite against a throwaway database on the local PostgreSQL server.
test-postgres: install translations
	./scripts/with-postgres.sh $(BIN)/pytest

bench: install translations
	$(BIN)/python -m bench
	$(BIN)/python -m bench.redemption

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
