# gaussmix developer commands. `make demo` and `make test` work on a fresh machine:
# they create .venv and install the package with its extras first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench bench-full bench-selection clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m gaussmix.demo --out demo_output

test: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/bench_em.py

bench-full: $(STAMP)
	$(PY) benchmarks/bench_em.py --full

bench-selection: $(STAMP)
	$(PY) benchmarks/bench_selection.py

clean:
	rm -rf $(VENV) demo_output .pytest_cache .ruff_cache .hypothesis
