# Two set-up commands: `make demo` and `make test`. Each creates .venv, installs the project with
# its test extras and makes sure a Chromium exists, then runs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit integration chromium servers bench bytecode clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# constraints.txt pins every package to the set the suite passed with (`pip freeze`, less the
# project itself): a fresh install gets the same Faker people for a seed and the same internals.
# httpbin (the HTTP client's tests) goes in without its dependencies: on Python < 3.12 it asks
# for greenlet < 3, which gevent 26 cannot run on; the ones it needs are in '.[test]'.
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	$(BIN)/pip install --quiet --no-deps -c constraints.txt httpbin
	touch $(STAMP)

chromium:
	@bash scripts/ensure-chromium.sh

# nginx and tinyproxy for the HTTP client's integration tests
servers:
	@bash scripts/ensure-servers.sh

# The project's own bytecode, written once: with PYTHONDONTWRITEBYTECODE set (as on the CI
# machines) every `harness` process would otherwise compile its modules again at start-up,
# ≈ 0.5 s for each of the hundreds of processes the tests and a drill start.
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q -j 0 harness synth journeys

demo: $(STAMP) chromium bytecode
	$(BIN)/harness demo

lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check harness synth journeys tests bench
	$(BIN)/ruff format --check harness synth journeys tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# Two passes (scripts/run-tests.sh): the tests that do not judge a load's evidence three at a
# time, then the `alone` ones (rehearsals, drills, rollouts, load gates) one at a time, so that
# no test's verdict shares the two cores with another test, the unit tests at nice 19 beside.
test: $(STAMP) chromium servers bytecode lint typecheck
	bash scripts/run-tests.sh $(BIN)

bench: $(STAMP) chromium bytecode
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
