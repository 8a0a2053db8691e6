# One-command entry points (README): `make demo` and `make test` each set up the venv first.
PYTHON ?= python3
VENV ?= .venv
OUT ?= runs/demo
BIN := $(VENV)/bin

.PHONY: setup setup-test demo test bench

setup: $(VENV)/.installed
setup-test: $(VENV)/.installed-test

# Reinstall only when the package metadata changes; the package itself is installed editable.
$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The tests also cover the ONNX export and the benchmarks' PNG baseline: test + bench extras.
$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

demo: setup
	$(BIN)/detector demo --out $(OUT)

# Lint first (seconds; configuration in pyproject.toml), then the tests.
test: setup-test
	$(BIN)/ruff check detector benchmarks tests tools examples
	$(BIN)/python -m pytest -q

bench: setup-test
	$(BIN)/python -m benchmarks.run --suite all
