# brickwork: two commands for a fresh machine (see README).
#   make demo   creates .venv, installs brickwork (with matplotlib for the curve plot),
#               runs the main job offline on the bundled Digits data
#   make test   creates .venv with the test extras, runs the whole suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: demo test lint bench bench-smoke gpu-check clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[plot]'
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PIP) install -q -e '.[test]'
	$(PIP) install -q --no-deps torchvision==0.28.0  # vision: the oracle of tests/vision (pure-Python parts)
	touch $@

demo: $(VENV)/.installed
	$(PY) -m brickwork demo

test: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests benchmarks
	$(PY) -m pytest -n 2 --dist loadfile src tests

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests benchmarks

bench: $(VENV)/.installed-test
	$(PY) benchmarks/run.py

bench-smoke: $(VENV)/.installed-test
	$(PY) benchmarks/run.py --smoke

gpu-check:
	bash scripts/gpu_check.sh

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
