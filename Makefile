# gaussmix developer commands. `make demo` and `make test` work on a fresh machine:
# they create .venv and install the package with its extras first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install bytecode browser demo test lint bench bench-full bench-selection clean

# The kernels are a C++ extension built by pip (CMakeLists.txt): the install is
# redone, and the extension rebuilt, when its sources change. Its build
# requirements (pyproject.toml's [build-system]; a test checks that the two
# lists agree) go into .venv, and pip builds without isolation, so that a rebuild
# reuses build/ and compiles only what changed. CMake and Ninja come from PyPI
# where the system has none.
NATIVE_SOURCES := CMakeLists.txt $(wildcard src/gaussmix/kernels/native/*.cpp) \
	$(wildcard src/gaussmix/kernels/native/*.hpp)
BUILD_REQUIRES := "scikit-build-core>=0.10" "nanobind>=2.4"
CXX_FOUND := $(shell sh -c 'command -v "$${CXX:-c++}" || command -v g++ || command -v clang++' 2>/dev/null)

$(STAMP): pyproject.toml $(NATIVE_SOURCES)
	@if [ -z "$(CXX_FOUND)" ]; then \
		echo "gaussmix compiles its kernels from C++ when it is installed, and there is" \
			"no C++ compiler here (looked for \$$CXX, c++, g++ and clang++). Install one," \
			"then run make again: Debian/Ubuntu: sudo apt-get install g++ cmake;" \
			"Fedora/RHEL: sudo dnf install gcc-c++ cmake; macOS: xcode-select --install." >&2; \
		exit 1; \
	fi
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(BUILD_REQUIRES) \
		$$(command -v cmake >/dev/null || echo cmake) $$(command -v ninja >/dev/null || echo ninja)
	$(PY) -m pip install --quiet --no-build-isolation -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# pip writes the bytecode of a regular install; an editable one leaves it to the
# first import, which skips writing it where PYTHONDONTWRITEBYTECODE is set, so
# every new process would compile the package again (tens of milliseconds).
# compileall rewrites only what changed.
bytecode: $(STAMP)
	@$(PY) -m compileall -q src/gaussmix

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

demo: bytecode
	$(PY) -m gaussmix.demo --out demo_output

test: bytecode browser
	$(VENV)/bin/ruff check src tests benchmarks
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

bench: bytecode
	$(PY) benchmarks/bench_em.py

bench-full: bytecode
	$(PY) benchmarks/bench_em.py --full

bench-selection: bytecode
	$(PY) benchmarks/bench_selection.py

clean:
	rm -rf $(VENV) build demo_output .pytest_cache .ruff_cache .hypothesis
