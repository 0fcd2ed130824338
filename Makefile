# wsgid developer targets. Everything runs from a virtual environment made from the system
# Python (not a per-user Python under a private home directory), because the daemon processes drop
# privileges to the Apache user, and that user must be able to read the interpreter and wsgid.

SYSTEM_PYTHON ?= /usr/bin/python3
VENV ?= build/venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: all system venv build test reliability run bench fuzz clean

all: build

system:
	scripts/install-system-packages

$(VENV)/.deps: setup.cfg pyproject.toml Makefile | system
	$(SYSTEM_PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "setuptools>=68" wheel "Cython>=3.0" click setproctitle psutil pytest requests django whitenoise atheris
	touch $@

venv: $(VENV)/.deps

# Editable install: builds wsgid/_core*.so and wsgid/mod_wsgid.so in place.
build: venv
	$(PY) -m pip install -q --no-build-isolation -e '.[test]'

# The whole suite runs twice: on the Cython core, and on its pure-Python twin.
test: build
	scripts/fetch-test-modules
	$(PY) -m pytest $(PYTEST_ARGS)
	WSGID_PUREPYTHON=1 $(PY) -m pytest $(PYTEST_ARGS)

# The reliability suite (docs/reliability.md) on both cores, then its figures table; the exit
# status is the suite's.
reliability: build
	status=0; \
	WSGID_FIGURES=build/cython.json $(PY) -m pytest tests/reliability $(PYTEST_ARGS) || status=1; \
	WSGID_PUREPYTHON=1 WSGID_FIGURES=build/python.json $(PY) -m pytest tests/reliability \
	    $(PYTEST_ARGS) || status=1; \
	$(PY) -m tests.reliability.report build/cython.json build/python.json; \
	exit $$status

# Fuzz both wire parsers for longer than CI does (fuzz/README.md): make fuzz FUZZ_SECONDS=3600
FUZZ_SECONDS ?= 600
fuzz: build
	PYTHON=$(PY) fuzz/run $(FUZZ_SECONDS)

run: build
	$(VENV)/bin/wsgid start-server --host $(HOST) --port $(PORT)

# Benchmark (bench/README.md): wrk and a cached virtualenv with mod_wsgi and uWSGI, then every
# contender behind the same Apache. BENCH_ARGS=--quick for a short development run.
BENCH_VENV ?= build/bench-venv
BENCH_ARGS ?=
bench: build
	bench/setup-env $(SYSTEM_PYTHON) $(BENCH_VENV)
	$(PY) bench/run.py --bench-venv $(BENCH_VENV) $(BENCH_ARGS)

clean:
	rm -rf build dist *.egg-info wsgid/*.so wsgid/_core.c wsgid/_build_info.py
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
