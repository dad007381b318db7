# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INDEX := .index/demo
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: demo test lint bench bench-quick bench-scale stress clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The stamp files re-run pip only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/searchidx --index $(INDEX) index corpus/
	@echo "Open http://$(HOST):$(PORT)/ in a browser (Ctrl-C stops the server)."
	$(BIN)/searchidx --index $(INDEX) serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check searchidx web tests benchmarks

test: lint
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

bench: $(VENV)/.installed-test
	$(BIN)/python -m benchmarks.run

bench-quick: $(VENV)/.installed-test
	$(BIN)/python -m benchmarks.run --quick

bench-scale: $(VENV)/.installed-test
	$(BIN)/python -m benchmarks.scale

stress: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q tests/stress --stress

clean:
	rm -rf .index build dist *.egg-info
