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
	for vendor in viewtron amcrest 2n flussonic-jpg flussonic-mp4; do \
		$(BIN)/python benchmarks/snapshot_sweep.py --vendor $$vendor || exit 1; done
	$(BIN)/python benchmarks/amcrest_search.py
	$(BIN)/python benchmarks/catalog_inserts.py
	$(BIN)/python benchmarks/grid_draft.py
	$(BIN)/python benchmarks/scheduler_fleet.py

clean:
	rm -rf $(VENV) camfetch-demo camfetch-tour .pytest_cache .mypy_cache .ruff_cache
