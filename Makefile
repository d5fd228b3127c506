# Two entry points on a fresh machine: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
EXAMPLE := examples/churn/mlinfra.yaml
# The rendered Pulumi projects of the example, one folder per environment.
STACKS := stacks/churn

.PHONY: setup run stacks test lint unit bench clean bench-peers bench-serving bench-featurestore

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[local,dev]'
	touch $(STAMP)

setup: $(STAMP)

# The main job on the churn example, on the local emulator: validate the spec, compile every
# environment, then deploy the local one, load its features, train, and serve the model.
MLINFRA := $(VENV)/bin/mlinfra
run: setup
	@echo "\n== 1/7 Validate the spec in every environment"
	$(MLINFRA) validate -f $(EXAMPLE)
	@echo "\n== 2/7 Compile every environment to a Pulumi project under $(STACKS)/"
	$(MLINFRA) render --all -f $(EXAMPLE) --out $(STACKS)
	@echo "\n== 3/7 Apply the local environment: starts the emulator, creates the feature store,"
	@echo "   the model registry and the training pipeline (the model waits for a trained version)"
	$(MLINFRA) apply --env local -f $(EXAMPLE) --auto-approve
	@echo "\n== 4/7 Load the customers CSV into the feature store (online and offline)"
	$(MLINFRA) featurestore ingest customers --env local -f $(EXAMPLE)
	@echo "\n== 5/7 Run the training pipeline: prepare, train, evaluate, accuracy gate, register"
	$(MLINFRA) pipeline run train-churn --env local --wait -f $(EXAMPLE)
	@echo "\n== 6/7 Apply again: the newly approved model version is deployed to the endpoint"
	$(MLINFRA) apply --env local -f $(EXAMPLE) --auto-approve
	@echo "\n== 7/7 Send customers to the endpoint with boto3, as application code would"
	$(PY) examples/churn/send_traffic.py
	@echo "\nThe emulator keeps running: $(MLINFRA) output --env local -f $(EXAMPLE) lists what"
	@echo "exists; stop it with: $(MLINFRA) emulator stop -f $(EXAMPLE)"

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

# The peers of the serving and feature-store benchmarks (MLflow, Feast) get a venv of their own,
# never the project's; none of this runs in `make test` or CI. benchmarks/README.md has results.
PEERS_VENV := benchmarks/.peers-venv
PEERS_STAMP := $(PEERS_VENV)/.installed-stamp

$(PEERS_STAMP): benchmarks/peers/requirements.txt
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install --quiet -r benchmarks/peers/requirements.txt
	touch $(PEERS_STAMP)

bench-peers: setup $(PEERS_STAMP)
	@command -v wrk >/dev/null || echo "wrk not on PATH (Debian: apt-get install wrk):" \
		"serving_bench.py falls back to its Python client"

bench-serving: bench-peers
	$(PY) benchmarks/serving_bench.py

bench-featurestore: bench-peers
	$(PY) benchmarks/featurestore_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
