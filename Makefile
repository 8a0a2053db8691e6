# One-command entry points (README): `make demo` and `make test` each set up the venv first.
PYTHON ?= python3
VENV ?= .venv
OUT ?= runs/demo
BIN := $(VENV)/bin

.PHONY: setup demo test test-slow bench

setup: $(VENV)/.installed

# Reinstall only when the package metadata changes; the package itself is installed editable.
$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: setup
	$(BIN)/detector demo --out $(OUT)

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python -m benchmarks.pipeline
