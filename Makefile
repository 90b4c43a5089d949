# `make test` is the project's one test command (README, .ci/run): lint, types, import
# floors (import-linter, docs/architecture.md), tests. It uses the active virtualenv
# ($VIRTUAL_ENV) if there is one, else .venv in the repo (created if missing);
# `make test VENV=/path/to/venv` picks another.
VENV ?= $(or $(VIRTUAL_ENV),.venv)
PY := $(VENV)/bin/python
PIP := $(PY) -m pip -q --disable-pip-version-check

.PHONY: setup lint test bench

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install torch==2.13.0
	$(PIP) install -e ".[dev]"
	$(PIP) install --no-deps torchattacks==3.5.1
	touch $@

setup: $(VENV)/.installed

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy src
	$(VENV)/bin/lint-imports

# two workers (pytest-xdist), each test file whole in one of them: the suite is
# single-threaded per test (tests/conftest.py), so 2 cores run it in about half the time
test: lint
	$(VENV)/bin/pytest -q -n 2 --dist loadfile

bench: setup
	$(PY) -m benchmarks.evasion --quick
