# The two commands a newcomer needs: `make demo` and `make test`.
# Every target creates .venv from nothing the first time and reuses it after
# (re-installing only when pyproject.toml changes).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
CORPUS ?= examples/corpus
DEMO_OUT ?= demo_output

.PHONY: demo lint test bench clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch pinned first: this version installs a CPU build; an unpinned torch pulls a multi-GB CUDA one.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev,train]'
	touch $@

# The whole job on the bundled corpus (or CORPUS=dir: every file below it, readers sniffed):
# prepare, train-tokenizer, tokenize and a short CPU training run into $(DEMO_OUT)/, then a sample.
# A second `make demo` skips every stage that is complete (textshards run).
# OMP_WAIT_POLICY=PASSIVE: spinning OpenMP threads make a busy machine 10x slower when training.
demo: $(INSTALLED)
ifeq ($(CORPUS),examples/corpus)
	OMP_WAIT_POLICY=PASSIVE $(BIN)/textshards run --config examples/demo.yaml --output $(DEMO_OUT)
else
	OMP_WAIT_POLICY=PASSIVE $(BIN)/textshards run --config examples/any-corpus.yaml --input corpus='$(CORPUS)/**' \
		--output $(DEMO_OUT)
endif
	$(BIN)/textshards generate --checkpoint $(DEMO_OUT)/train --prompt "Alice was" --max-new-tokens 60

# Static checks: ruff (lint and format), the layering contract (import-linter), mypy on transforms/.
lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q

bench: $(INSTALLED)
	# The references some benchmarks compare with (datatrove, spaCy): the bench extra.
	$(BIN)/python -m pip install --quiet -e '.[dev,train,bench]'
	# bench/measure.py is the benchmarks' shared helpers, not a benchmark.
	for script in $(filter-out bench/measure.py,$(wildcard bench/*.py)); do \
		echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_OUT)
