# Two entry points (see README): `make demo` reproduces the lecture's claims, `make test` runs
# the checks.
# Each creates .venv with the pinned dependencies when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint clean browser

$(BIN)/ravine: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

# Exit status 1 from reproduce is a result, not an error: some claim did not hold here (the
# report says which and why). Anything else fails.
demo: $(BIN)/ravine
	@$(BIN)/ravine reproduce --out out/reproduce; status=$$?; \
	  if [ $$status -eq 1 ]; then echo "(some claims did not hold here: see the report)"; fi; \
	  [ $$status -le 1 ]

# The report's browser test needs headless Chromium (Debian's package). Installed when missing
# and apt-get can run; where it cannot, that one test skips and says why.
browser:
	@command -v chromium >/dev/null || ! command -v apt-get >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "chromium could not be installed: the browser test will be skipped"

test: $(BIN)/ravine browser
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/python -m pytest -q

lint: $(BIN)/ravine
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
