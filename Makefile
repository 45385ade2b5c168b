# FundWatch: `make run` serves the demo on SQLite; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
FLASK := $(BIN)/flask --app wsgi

.PHONY: run test install install-test migrate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

migrate: install
	$(FLASK) db upgrade

run: migrate
	$(FLASK) demo load --if-empty
	@echo "Demo tokens: instance/demo-tokens.json. API: http://127.0.0.1:$(PORT)/api/v1/docs"
	@# The scheduler (deadline checks, outbox delivery, digest) runs beside gunicorn and
	@# is stopped with it: when gunicorn exits, or make is interrupted (Ctrl-C) or killed.
	$(FLASK) scheduler & sched=$$!; \
	$(BIN)/gunicorn --bind 127.0.0.1:$(PORT) --workers 2 --access-logfile - wsgi:app & web=$$!; \
	trap 'kill $$web $$sched 2>/dev/null; wait $$web $$sched 2>/dev/null' EXIT; trap 'exit 130' INT TERM; \
	wait $$web

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
