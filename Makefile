# Two commands for a fresh machine: `make demo` (set up + run the main job) and `make test` (what CI runs).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export MLFLOW_DISABLE_TELEMETRY=true
export DO_NOT_TRACK=true
export BENTOML_DO_NOT_TRACK=true

.PHONY: demo test test-fast lint lock bench serve ui clean

# The venv installs the locked versions, and again whenever requirements.txt or pyproject.toml changes.
$(BIN)/memberwise: pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c requirements.txt -e '.[dev]'
	touch $@

# Re-resolve pyproject's ranges in a scratch venv with pip (uv misses the local CPU torch wheel) and pin
# everything it installed; then `make test` installs and tests exactly that.
lock:  ## regenerate requirements.txt from pyproject.toml
	set -e; scratch=$$(mktemp -d); trap 'rm -rf "$$scratch"' EXIT; \
	$(PYTHON) -m venv "$$scratch"; \
	"$$scratch/bin/pip" install --quiet --disable-pip-version-check -e '.[dev]'; \
	{ echo "# Pinned versions of every dependency, resolved by pip from pyproject.toml (\`make lock\` regenerates it)."; \
	  echo "# Used as pip constraints: \`pip install -c requirements.txt -e '.[dev]'\`; pyproject.toml keeps the ranges."; \
	  "$$scratch/bin/pip" freeze --all --exclude-editable | grep -v '^pip=='; } > requirements.txt.new; \
	if grep -Ei '^(nvidia-.*-cu[0-9]+|triton)==' requirements.txt.new; then \
	  echo "CUDA packages resolved: torch must stay the local CPU wheel" >&2; rm requirements.txt.new; exit 1; fi; \
	mv requirements.txt.new requirements.txt

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
