# The two commands of the README. Both create .venv and install what they need on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test test-unit bench lint schema clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

demo: $(STAMP)   ## run the whole system on the embedded broker with demo data, print the summary
	@$(BIN)/pn demo

test: $(STAMP)   ## run every test (unit, integration on the embedded broker, e2e, reliability)
	@$(BIN)/pytest -q

test-unit: $(STAMP)
	@$(BIN)/pytest -q tests/unit

bench: $(STAMP)  ## benchmarks: print figures (see bench/RESULTS.md)
	@$(BIN)/python -m bench

lint: $(STAMP)
	@$(BIN)/ruff check .

schema: $(STAMP)
	@$(BIN)/pn schema --out docs/contract

clean:
	rm -rf $(VENV) var .pytest_cache
