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
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# The whole job on the bundled corpus (or CORPUS=dir: every file below it, readers sniffed).
demo: $(INSTALLED)
ifeq ($(CORPUS),examples/corpus)
	$(BIN)/textshards prepare --config examples/demo.yaml --output $(DEMO_OUT)/prepare
else
	$(BIN)/textshards prepare --input corpus='$(CORPUS)/**' --output $(DEMO_OUT)/prepare
endif

test: $(INSTALLED)
	$(BIN)/python -m pytest -q

bench: $(INSTALLED)
	for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_OUT)
