# Two commands for a fresh machine: `make demo` (set up + run the main job) and `make test` (what CI runs).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export MLFLOW_DISABLE_TELEMETRY=true
export DO_NOT_TRACK=true
export BENTOML_DO_NOT_TRACK=true

.PHONY: demo test test-fast lint bench clean

$(BIN)/memberwise: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

demo: $(BIN)/memberwise  ## set up, generate the demo brand, run the main job
	$(BIN)/memberwise demo

test: $(BIN)/memberwise  ## lint + every test, slow end-to-end ones included (CI runs exactly this)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest -m "slow or not slow"

test-fast: $(BIN)/memberwise  ## the quick loop: skips tests marked slow
	$(BIN)/pytest

lint: $(BIN)/memberwise
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src

bench: $(BIN)/memberwise  ## 1M-member unify + features benchmark (several minutes)
	$(BIN)/python benchmarks/bench_unify_features.py

clean:
	rm -rf .memberwise .pytest_cache .ruff_cache .mypy_cache
