# The two commands of the Quickstart: `make demo` and `make test`. Each sets up what it needs
# (a .venv with the Python packages; Chromium for the page tests) and is quick once set up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
LIGHTHOUSE := tools/lighthouse/node_modules/.bin/lighthouse
# One test worker more than the cores: part of the time the tests wait on Chromium, Lighthouse and loopback servers
# (on 2 cores, 104 s with 3 workers against 131 s with 2, in one session).
WORKERS := $(shell echo $$(( $$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1) + 1 )))

.PHONY: demo test lint serve validate crawl build bench browser lock clean

demo: $(STAMP)
	$(VENV)/bin/open311-status demo --work .demo --out site

test: lint $(STAMP) browser $(LIGHTHOUSE)
	$(PY) -m pytest -n $(WORKERS) --dist loadfile

# The linter and the type checker (pyproject.toml says what each holds to); make test runs them first.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

serve: $(STAMP)
	$(VENV)/bin/open311-status serve --directory site --port 8000

validate: $(STAMP)
	$(VENV)/bin/open311-status validate endpoints.yaml

# The real crawl, as the scheduled workflow runs it (needs the internet).
crawl: $(STAMP)
	$(VENV)/bin/open311-status crawl --endpoints endpoints.yaml --data data

build: $(STAMP)
	$(VENV)/bin/open311-status build --data data --out site

bench: $(STAMP)
	$(VENV)/bin/open311-status bench

# Every package at the version and hash in requirements/test.txt (the lock), then the project itself:
# an upstream release changes nothing here until `make lock` is run and its diff committed.
$(STAMP): pyproject.toml requirements/test.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; set PYTHON=python3.11")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/test.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Pin every dependency again at its newest version that pyproject.toml allows (needs PyPI): the
# crawl's lock (requirements/run.txt) and the tests' (requirements/test.txt), for any platform.
UV := uv==0.13.8
LOCK := --universal --python-version 3.11 --generate-hashes --quiet
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(UV)
	$(VENV)/bin/uv pip compile pyproject.toml requirements/build.in $(LOCK) -o requirements/run.txt
	$(VENV)/bin/uv pip compile pyproject.toml requirements/build.in --extra test $(LOCK) -o requirements/test.txt

# Lighthouse for the page budget test (tests/test_lighthouse.py): exactly the versions and hashes of its
# package-lock.json, with Debian's nodejs and npm when there is no npm.
$(LIGHTHOUSE): tools/lighthouse/package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	    echo "installing Debian's nodejs and npm for the Lighthouse test"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm >/dev/null; }
	cd tools/lighthouse && npm ci --silent --no-audit --no-fund
	touch $(LIGHTHOUSE)

# Debian's chromium for the page tests, when no Chromium or Chrome is installed.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
	  || command -v google-chrome >/dev/null 2>&1 || { \
	    echo "installing Debian's chromium for the page tests"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

clean:
	rm -rf $(VENV) .demo site .pytest_cache tools/lighthouse/node_modules
