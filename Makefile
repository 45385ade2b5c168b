# FundWatch: `make run` serves the demo on SQLite; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 5000
# Links in messages point at the port served (unless FUNDWATCH_BASE_URL is set).
export FUNDWATCH_BASE_URL ?= http://127.0.0.1:$(PORT)
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
	@echo "Console: http://127.0.0.1:$(PORT)/ (logins: instance/demo-logins.json). API tokens: instance/demo-tokens.json, http://127.0.0.1:$(PORT)/api/v1/docs"
	@# The scheduler (deadline checks, outbox delivery, digest) runs beside gunicorn and
	@# is stopped with it: when either exits (a second scheduler on the same SQLite file
	@# refuses to start), or make is interrupted (Ctrl-C) or terminated. The scheduler
	@# exits within its grace (FUNDWATCH_STOP_GRACE_SECONDS) of the trap's SIGTERM.
	$(FLASK) scheduler & sched=$$!; \
	$(BIN)/gunicorn --bind 127.0.0.1:$(PORT) --workers 2 --access-logfile - wsgi:app & web=$$!; \
	trap 'kill $$web $$sched 2>/dev/null; wait $$web $$sched 2>/dev/null' EXIT; trap 'exit 130' INT TERM; \
	while kill -0 $$web 2>/dev/null && kill -0 $$sched 2>/dev/null; do sleep 1; done; \
	echo "make run: the server or the scheduler has stopped; stopping the other" >&2; exit 1

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
