# Two entry points (see README): `make demo` runs the main job, `make test` runs the checks.
# Each creates .venv with the pinned dependencies when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint clean

$(BIN)/ravine: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

demo: $(BIN)/ravine
	$(BIN)/ravine optimizers
	$(BIN)/ravine verify
	$(BIN)/ravine schedule "linear-warmup:steps=500 >> cosine:steps=9500" --lr 0.1 --steps 10000 --plot out/warmup-cosine.png

test: $(BIN)/ravine
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/python -m pytest -q

lint: $(BIN)/ravine
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
