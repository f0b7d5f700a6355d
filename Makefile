# The two commands of the README. Both create .venv and install what they need on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install system-deps demo test test-unit bench lint schema report-pictures clean tools lock

# Debian libraries the report's PDF needs (WeasyPrint renders text with Pango). Installed only when
# missing, so a second run does nothing; as root directly, otherwise through sudo.
SYSTEM_DEPS := libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core

install: system-deps $(STAMP)   ## the venv with every dependency, and the Debian libraries the PDF needs

system-deps:
	@if command -v dpkg >/dev/null 2>&1; then \
	  missing=""; for p in $(SYSTEM_DEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then \
	    sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
	    if [ -n "$$sudo" ] && ! command -v sudo >/dev/null 2>&1; then \
	      echo "missing$$missing (the report's PDF needs them): install them as root"; \
	    else \
	      echo "installing$$missing (for the report's PDF)"; \
	      $$sudo apt-get update -qq && $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	    fi; \
	  fi; \
	else echo "not Debian: install Pango (libpango-1.0, libpangoft2-1.0) for the report's PDF"; fi

$(STAMP): pyproject.toml
	@$(MAKE) -s system-deps
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

# Debian packages the tests need (idempotent: only what is missing, only where apt-get exists).
# promtool (package prometheus) runs deploy/prometheus/rules.test.yml; with CI=true its test fails
# rather than skips when promtool is absent.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
tools:
	@command -v promtool >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1; then \
	    echo "installing promtool (Debian package prometheus)"; \
	    { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } \
	      || echo "could not install promtool: its test skips (fails with CI=true)"; \
	  else echo "promtool not found and no apt-get: install Prometheus' promtool to run tests/unit/test_prometheus.py"; fi; }

demo: $(STAMP)   ## run the whole system on the embedded broker with demo data, print the summary
	@$(BIN)/pn demo

test: $(STAMP) tools   ## run every test (unit, integration on the embedded broker, e2e, reliability)
	@$(BIN)/pytest -q

test-unit: $(STAMP) tools
	@$(BIN)/pytest -q tests/unit

bench: $(STAMP)  ## benchmarks: print figures (see bench/RESULTS.md)
	@$(BIN)/python -m bench

lint: $(STAMP)
	@$(BIN)/ruff check .

schema: $(STAMP)
	@$(BIN)/pn schema --out docs/contract

# The image installs only these hashed pins (deploy/Dockerfile: pip --require-hashes); run after
# changing pyproject.toml's dependencies and commit both files. Resolved on PyPI itself, so the
# hashes are PyPI's whatever index this machine's pip is configured with.
LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --index-url https://pypi.org/simple
lock: $(STAMP)
	@$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[lock]'
	@cd deploy && CUSTOM_COMPILE_COMMAND="make lock" PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= PIP_CONSTRAINT= ../$(BIN)/pip-compile $(LOCK_FLAGS) -o requirements.lock ../pyproject.toml
	@cd deploy && CUSTOM_COMPILE_COMMAND="make lock" PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= PIP_CONSTRAINT= ../$(BIN)/pip-compile $(LOCK_FLAGS) -o requirements-build.lock requirements-build.in

report-pictures: $(STAMP)   ## README's picture: run `pn demo` and render pages of its report to docs/report-*.png
	@$(BIN)/pn demo --work-dir var/demo --report-text docs/report-text-example.md --report-pictures docs

clean:
	rm -rf $(VENV) var .pytest_cache
