# The two commands of the README: `make run` and `make test`. Each brings .venv up to date first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# Parallel test workers: the CI machine has 2 cores.
TEST_WORKERS ?= 2

.PHONY: run test bench lint docs venv clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/billow quickstart --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

docs: $(STAMP)
	$(BIN)/python -m billow.api.docs

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) var
