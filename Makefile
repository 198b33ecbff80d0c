# brickwork: two commands for a fresh machine (see README).
#   make demo   creates .venv, installs brickwork (with matplotlib for the curve plot),
#               runs the main job offline on the bundled Digits data
#   make test   creates .venv with the test extras, lints, builds the docs (mkdocs --strict), runs the suite
#   make docs   builds the documentation site into site/ (open site/index.html)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

MKDOCS := NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs

.PHONY: demo test docs lint bench bench-smoke gpu-check clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[plot]'
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PIP) install -q -e '.[test]'
	$(PIP) install -q --no-deps torchvision==0.28.0  # vision: the oracle of tests/vision (pure-Python parts)
	touch $@

$(VENV)/.installed-docs: $(VENV)/.installed pyproject.toml
	$(PIP) install -q -e '.[docs]'
	touch $@

demo: $(VENV)/.installed
	$(PY) -m brickwork demo

test: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(MKDOCS) build --strict --quiet --site-dir site
	$(PY) -m pytest -n 2 --dist loadfile src tests

docs: $(VENV)/.installed-docs
	$(MKDOCS) build --strict --site-dir site
	@echo "the site is in site/ (open site/index.html)"

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests benchmarks scripts

bench: $(VENV)/.installed-test
	$(PY) benchmarks/run.py

bench-smoke: $(VENV)/.installed-test
	$(PY) benchmarks/run.py --smoke

gpu-check:
	bash scripts/gpu_check.sh

clean:
	rm -rf $(VENV) build site *.egg-info src/*.egg-info .pytest_cache
