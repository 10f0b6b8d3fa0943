# The two commands of the Quickstart: `make demo` and `make test`. Each sets up what it needs
# (a .venv with the Python packages; Chromium for the page tests) and is quick once set up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test serve validate crawl build bench browser clean

demo: $(STAMP)
	$(PY) -m simulator.demo --work .demo --out site

test: $(STAMP) browser
	$(PY) -m pytest

serve:
	@test -f site/index.html || { echo "no site/ yet: run 'make demo' (or 'make build') first"; exit 1; }
	$(PYTHON) -m http.server --bind 127.0.0.1 --directory site 8000

validate: $(STAMP)
	$(PY) -m crawler.registry endpoints.yaml

# The real crawl, as the scheduled workflow runs it (needs the internet).
crawl: $(STAMP)
	$(PY) -m crawler --endpoints endpoints.yaml --data data

build: $(STAMP)
	$(PY) build.py --data data --out site

bench: $(STAMP)
	$(PY) benchmarks/run.py

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; set PYTHON=python3.11")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# Debian's chromium for the page tests, when no Chromium or Chrome is installed.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
	  || command -v google-chrome >/dev/null 2>&1 || { \
	    echo "installing Debian's chromium for the page tests"; \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

clean:
	rm -rf $(VENV) .demo site .pytest_cache
