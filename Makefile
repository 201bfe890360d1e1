# The two quickstart commands: `make demo` and `make test`. Both install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo serve test install install-test system-deps lint typecheck protos

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

# Test tools from the system's packages: poppler (pdftoppm, pdftotext) and zbar (zbarimg) read rendered
# documents back in the tests; headless Chromium opens the customer tracking page.
system-deps:
	@command -v pdftoppm >/dev/null && command -v zbarimg >/dev/null && command -v chromium >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils zbar-tools chromium >/dev/null)

install-test: $(BIN)/python system-deps
	$(BIN)/pip install --quiet -e '.[test]'
	npm ci --silent --no-audit --no-fund

demo: install
	$(BIN)/backhaul demo

serve: install
	$(BIN)/backhaul serve

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-test
	$(BIN)/mypy

protos: install-test
	$(BIN)/python protos/generate.py

test: install-test lint typecheck
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)
