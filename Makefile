# gaussmix developer commands. `make demo` and `make test` work on a fresh machine:
# they create .venv and install the package with its extras first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install browser demo test lint bench bench-full bench-selection clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The report's browser test drives Debian's Chromium through its chromedriver.
# Installs them when missing (apt-get; sudo unless root); a no-op once they are
# there. GAUSSMIX_SKIP_BROWSER=1 skips both this step and the browser test.
CHROMIUM := /usr/bin/chromium
CHROMEDRIVER := /usr/bin/chromedriver
BROWSER_PACKAGES := chromium chromium-driver

browser:
	@if [ "$(GAUSSMIX_SKIP_BROWSER)" = "1" ]; then \
		echo "GAUSSMIX_SKIP_BROWSER=1: not installing Chromium; the browser test is skipped."; \
	elif [ -x $(CHROMIUM) ] && [ -x $(CHROMEDRIVER) ]; then \
		:; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
		echo "The browser test needs $(CHROMIUM) and $(CHROMEDRIVER) (Debian's packages:" \
			"$(BROWSER_PACKAGES)), and there is no apt-get here to install them." \
			"Install them, or set GAUSSMIX_SKIP_BROWSER=1 to skip the browser test." >&2; \
		exit 1; \
	else \
		if [ "$$(id -u)" -eq 0 ]; then sudo=""; \
		elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; \
		else echo "Installing $(BROWSER_PACKAGES) needs root or sudo; or set" \
			"GAUSSMIX_SKIP_BROWSER=1 to skip the browser test." >&2; exit 1; fi; \
		echo "Installing $(BROWSER_PACKAGES) for the browser test (apt-get)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		$$sudo apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES) \
		|| { $$sudo apt-get update -qq \
			&& $$sudo apt-get install -y -qq --no-install-recommends $(BROWSER_PACKAGES); }; \
	fi

demo: $(STAMP)
	$(PY) -m gaussmix.demo --out demo_output

test: $(STAMP) browser
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
