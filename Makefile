# The README's commands. `make help` lists them.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run test bench seed lint format clean

help: ## List the commands
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(INSTALLED)

install: $(INSTALLED) ## Create .venv and install the sandbox with its test tools

run: $(INSTALLED) ## Seed the database when empty, then serve on http://localhost:8080
	$(BIN)/sandbox serve

test: $(INSTALLED) ## Run the whole test suite
	$(BIN)/python -m pytest

bench: $(INSTALLED) ## Run the benchmarks under bench/ (ratios against a trivial endpoint)
	$(BIN)/python bench/run.py

seed: $(INSTALLED) ## Regenerate the synthetic data (SANDBOX_SEED, SANDBOX_PATIENTS, SANDBOX_ANCHOR_DATE)
	$(BIN)/sandbox seed

lint: $(INSTALLED) ## Check the code with ruff
	$(BIN)/ruff check sandbox tests bench

clean: ## Remove the virtual environment and the database
	rm -rf $(VENV) var
