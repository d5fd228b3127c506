# Two entry points on a fresh machine: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
EXAMPLE := examples/churn/mlinfra.yaml
# The rendered Pulumi projects of the example, one folder per sagemaker environment.
STACKS := stacks/churn

.PHONY: setup run stacks test lint unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[local,dev]'
	touch $(STAMP)

setup: $(STAMP)

# The main job on the churn example: validate every environment of the spec, then compile
# each sagemaker environment to its Pulumi project under $(STACKS)/.
run: setup
	$(VENV)/bin/mlinfra validate -f $(EXAMPLE)
	$(VENV)/bin/mlinfra render --all -f $(EXAMPLE) --out $(STACKS)

# Regenerate the checked-in projects; tests/render/test_stacks_current.py fails when stale.
stacks: setup
	$(VENV)/bin/mlinfra render --all -f $(EXAMPLE) --out $(STACKS)

lint: setup
	$(VENV)/bin/ruff check src tests examples benchmarks

unit: setup
	$(PY) -m pytest

test: lint unit

bench: setup
	$(PY) benchmarks/validate_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
