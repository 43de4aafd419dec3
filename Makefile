# The two commands a newcomer needs: `make demo` and `make test`.
# Every target creates .venv from nothing the first time and reuses it after
# (re-installing only when pyproject.toml changes).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
CORPUS ?= examples/corpus
DEMO_OUT ?= demo_output

.PHONY: demo test bench clean

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch pinned first: this version installs a CPU build; an unpinned torch pulls a multi-GB CUDA one.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev,train]'
	touch $@

# The whole job on the bundled corpus (or CORPUS=dir: every file below it, readers sniffed).
# 4096 tokens suit the 2 MB demo corpus: about 3 bytes per token on its held-out documents,
# three quarters of the vocabulary in use there; another corpus gets the default (32768).
demo: $(INSTALLED)
ifeq ($(CORPUS),examples/corpus)
	$(BIN)/textshards prepare --config examples/demo.yaml --output $(DEMO_OUT)/prepare
	$(BIN)/textshards train-tokenizer --docs $(DEMO_OUT)/prepare/docs --output $(DEMO_OUT)/tokenizer --vocab-size 4096
	$(BIN)/textshards tokenize --docs $(DEMO_OUT)/prepare/docs --tokenizer $(DEMO_OUT)/tokenizer --output $(DEMO_OUT)/shards --validation-fraction 0.1
else
	$(BIN)/textshards prepare --input corpus='$(CORPUS)/**' --output $(DEMO_OUT)/prepare
	$(BIN)/textshards train-tokenizer --docs $(DEMO_OUT)/prepare/docs --output $(DEMO_OUT)/tokenizer
	$(BIN)/textshards tokenize --docs $(DEMO_OUT)/prepare/docs --tokenizer $(DEMO_OUT)/tokenizer --output $(DEMO_OUT)/shards
endif
	# A short CPU run of the tiny GPT on the shards (a minute or two on 2 cores), then a sample.
	# OMP_WAIT_POLICY=PASSIVE: spinning OpenMP threads make a busy machine 10x slower.
	OMP_WAIT_POLICY=PASSIVE $(BIN)/textshards train --shards $(DEMO_OUT)/shards --output $(DEMO_OUT)/train --fresh \
		--preset tiny --max-steps 600 --set lr=2e-3 --set warmup_steps=50 --set eval_interval=100 --set log_interval=50
	$(BIN)/textshards generate --checkpoint $(DEMO_OUT)/train --prompt "Alice was" --max-new-tokens 60

test: $(INSTALLED)
	$(BIN)/python -m pytest -q

bench: $(INSTALLED)
	# -P: bench/tokenize.py must not shadow the standard library's tokenize module.
	for script in bench/*.py; do echo "== $$script"; $(BIN)/python -P $$script || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_OUT)
