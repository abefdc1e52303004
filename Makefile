# Two commands for a fresh machine: `make demo` (set up + run the main job) and `make test` (what CI runs).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export MLFLOW_DISABLE_TELEMETRY=true
export DO_NOT_TRACK=true
export BENTOML_DO_NOT_TRACK=true

.PHONY: demo test test-fast lint lock bench serve ui clean

# uv installs the lock; pip only bootstraps uv itself, at the version the lock pins (test_lock checks it).
UV_VERSION := 0.13.9
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never
# Compile bytecode at install, as pip does: every fresh process (CLI, servers, kernels) then imports it.
export UV_COMPILE_BYTECODE := 1

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# The venv holds exactly the locked versions, re-synced whenever uv.lock or pyproject.toml changes;
# `--locked` stops with an error when pyproject.toml changed without `make lock`.
$(BIN)/memberwise: pyproject.toml uv.lock | $(BIN)/uv
	$(BIN)/uv sync --quiet --locked --extra dev --python $(BIN)/python
	touch $@

# Re-resolve pyproject's ranges into uv.lock, keeping every locked version that still fits; then `make test`
# installs and tests exactly that.
lock: | $(BIN)/uv  ## regenerate uv.lock from pyproject.toml
	$(BIN)/uv lock --python $(BIN)/python

demo: $(BIN)/memberwise  ## set up, generate the demo brand, run the main job
	$(BIN)/memberwise demo

test: $(BIN)/memberwise  ## lint + types + every test, slow end-to-end ones included, + notebooks (CI runs this)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src
	$(BIN)/pytest -m "slow or not slow or spark"
	MEMBERWISE_HOME=$$(mktemp -d) $(BIN)/pytest --nbmake notebooks -p no:cacheprovider

test-fast: $(BIN)/memberwise  ## the quick loop: skips tests marked slow
	$(BIN)/pytest

lint: $(BIN)/memberwise
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy src

bench: $(BIN)/memberwise  ## benchmarks: raw exports -> features at 1M and 10M members + a 10M retrain (brands cached); scoring; training time; the 10k-cell LP; mixed-load serving
	$(BIN)/python benchmarks/bench_allocator.py
	$(BIN)/python benchmarks/bench_scale.py --retrain
	$(BIN)/python benchmarks/bench_scoring.py
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_serving_mixed.py

serve: $(BIN)/memberwise  ## the score/select API on 127.0.0.1:3000 (after `make demo`)
	$(BIN)/memberwise serve

ui: $(BIN)/memberwise  ## the MLflow UI on 127.0.0.1:5000
	$(BIN)/memberwise ui

clean:
	rm -rf .memberwise .pytest_cache .ruff_cache .mypy_cache
