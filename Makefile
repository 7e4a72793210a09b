# The two commands of the README: `make demo` (camfetch's main job on simulated
# devices) and `make test` (lint, types and the whole test suite). Both build the
# virtual environment first; nothing else is needed but Python 3.11+, pip and make.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/camfetch demo

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/snapshot_sweep.py

clean:
	rm -rf $(VENV) camfetch-demo .pytest_cache .mypy_cache .ruff_cache
