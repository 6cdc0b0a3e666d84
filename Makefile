# The two set-up commands a newcomer runs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MODELS_STAMP := $(VENV)/.installed-models

.PHONY: demo test test-models lint typecheck venv clean

$(STAMP): pyproject.toml hatch_build.py ftpolicy/scan/dataset/_native.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## demo: install, then run the main job on examples/governed-repo
demo: $(STAMP)
	bash scripts/demo.sh

## test: install what the tests need (Python packages, OPA via go install), lint, type-check, run the suite
test: $(STAMP)
	bash scripts/test.sh

$(MODELS_STAMP): $(STAMP)
	bash scripts/test.d/models.sh --force

## test-models: also install the models extra (torch, transformers, peft: several GB) and run the
## tests that need it (pytest marker `models`; `make test` installs the extra too when the disk has
## 12 GiB free, else skips them)
test-models: $(MODELS_STAMP)
	bash scripts/test_models.sh

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) dist build .pytest_cache .mypy_cache .ruff_cache
