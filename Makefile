# Two entry points on a fresh machine: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
EXAMPLE := examples/churn/mlinfra.yaml
# The rendered Pulumi projects of the example, one folder per environment.
STACKS := stacks/churn

.PHONY: setup run stacks test lint unit bench clean bench-peers bench-serving bench-featurestore \
	bench-lineage \
	bench-drift bench-audit bench-monitor-job check-monitor-job-image bench-auth bench-validate \
	bench-cold-start bench-quality bench-incremental bench-transform

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[local,dev]'
	touch $(STAMP)

setup: $(STAMP)

# The main job on the churn example, on the local emulator: the whole loop. Validate the spec,
# compile every environment, deploy the local one, load its features, train, serve, watch the
# served traffic drift, and see the monitor alert and start retraining, then deploy what it
# retrained. It can be run again and again: each command says what it finds and does this
# time, and the loop ends with nothing left to change (`plan --detailed-exitcode` exits 0).
MLINFRA := $(VENV)/bin/mlinfra
MONITOR_REPORT := examples/churn/.mlinfra/churn-drift-report.html
QUALITY_REPORT := examples/churn/.mlinfra/churn-quality-report.html
NEWER_CUSTOMERS := examples/churn/.mlinfra/newer-customers
# The emulator that `run` starts runs the clock of metrics, alarms, autoscaling and deployment
# waits 60 times faster: the canary chapter's ten-minute waits take ten seconds.
run: export MLINFRA_EMULATOR_CLOCK_SCALE ?= 60
run: setup
	@echo "\n== 1/12 Check the spec: every environment, every reference, every value"
	$(MLINFRA) validate -f $(EXAMPLE)
	@echo "\n== 2/12 Compile every environment to a Pulumi project under $(STACKS)/"
	$(MLINFRA) render --all -f $(EXAMPLE) --out $(STACKS)
	@echo "\n== 3/12 Create the local environment, or bring it up to date. This starts the emulator"
	@echo "   (SageMaker's APIs on 127.0.0.1) if none runs, and creates what is missing: the feature"
	@echo "   store, the model registry, the training pipeline. The endpoint and its drift monitor"
	@echo "   serve the newest approved model version: on a first run there is none, so they wait"
	@echo "   (apply says why, and what ends the wait)."
	$(MLINFRA) apply --env local -f $(EXAMPLE) --auto-approve
	@echo "\n== 4/12 Load the customers CSV into the feature store (online and offline). Its"
	@echo "   snapshot is from mid-2025, older than the online store's 30-day TTL: the online"
	@echo "   store lets those records expire (as SageMaker does); training reads the offline one."
	$(MLINFRA) featurestore ingest customers --env local -f $(EXAMPLE)
	@echo "\n== 5/12 Train: prepare the data, train, evaluate, check accuracy (the gate), register"
	@echo "   the model: a new version each run, approved as registered (\`approval: auto\` locally)"
	$(MLINFRA) pipeline run train-churn --env local --wait -f $(EXAMPLE)
	@echo "\n== 6/12 Apply again: the newly approved version goes live on the endpoint (apply says"
	@echo "   which, and which it replaces), and the drift monitor is created on it if it is new"
	@echo "   (its baseline statistics are computed then)"
	$(MLINFRA) apply --env local -f $(EXAMPLE) --auto-approve
	@echo "\n== 7/12 Send ordinary customers to the endpoint with boto3, as an application would:"
	@echo "   plain boto3 code, pointed at the emulator (its URL and credentials) by the"
	@echo "   environment \`mlinfra emulator env\` prints. The endpoint keeps a sample of the"
	@echo "   requests (data capture) for the monitor."
	eval "$$($(MLINFRA) emulator env -f $(EXAMPLE))" && $(PY) examples/churn/send_traffic.py
	@echo "\n== 8/12 Run the drift monitor: it compares what the endpoint saw with the baseline"
	@echo "   the model was built for. Ordinary customers: nothing to report."
	$(MLINFRA) monitor run churn-drift --env local -f $(EXAMPLE)
	@echo "\n== 9/12 Now the world changes: prices rise, contracts shorten, and a bug upstream"
	@echo "   drops support_calls for some customers. Send those customers."
	eval "$$($(MLINFRA) emulator env -f $(EXAMPLE))" && $(PY) examples/churn/send_traffic.py --drift
	@echo "\n== 10/12 Run the monitor again: it finds the drift and the missing values, alerts the"
	@echo "   on-call address and starts the training pipeline. (It retrains on what the feature"
	@echo "   store holds; nothing new was loaded here, so its steps come from the cache.)"
	$(MLINFRA) monitor run churn-drift --env local -f $(EXAMPLE)
	$(MLINFRA) monitor alerts churn-drift --env local -f $(EXAMPLE) --limit 3
	@echo "\n== 11/12 Write the monitor's report, each feature's distribution against the baseline"
	$(MLINFRA) monitor report churn-drift --env local -f $(EXAMPLE) --html $(MONITOR_REPORT)
	@echo "\n== 12/12 Wait for the retraining to end (its gate, held or not, with the accuracy"
	@echo "   against the threshold), then apply what it registered. The data in the feature"
	@echo "   store has not changed, so the retrained model is the version already serving: no"
	@echo "   new version is registered and the endpoint keeps it. Nothing is left to change."
	$(MLINFRA) pipeline runs train-churn --env local -f $(EXAMPLE) --limit 2 --wait
	$(MLINFRA) apply --env local -f $(EXAMPLE) --auto-approve
	$(MLINFRA) plan --env local -f $(EXAMPLE) --detailed-exitcode
# --- chapter: canary deployments and their rollback
	@echo "\n== Canary 1/5 The endpoint takes a new model version as the spec's \`deployment\` says:"
	@echo "   a canary (10% of the traffic for 10 minutes, then all of it for 10 more), rolled back"
	@echo "   if its latency or error alarm fires. Here the emulator's clock runs 60 times faster"
	@echo "   (MLINFRA_EMULATOR_CLOCK_SCALE), so those minutes are seconds. (An emulator started"
	@echo "   before without it keeps real time: \`mlinfra emulator stop\` first.) Register a second"
	@echo "   version of the serving model, served as the last one, approved as registered."
	eval "$$($(MLINFRA) emulator env -f $(EXAMPLE))" && $(PY) examples/churn/canary.py register
	@echo "\n== Canary 2/5 Apply it while customers keep coming: one request in ten reaches the new"
	@echo "   version, then all of them; the alarms stay quiet, and the old fleet is stopped."
	eval "$$($(MLINFRA) emulator env -f $(EXAMPLE))" && \
	  { $(PY) examples/churn/canary.py traffic & \
	    $(MLINFRA) apply --env local -f $(EXAMPLE) --auto-approve; code=$$?; wait; exit $$code; }
	eval "$$($(MLINFRA) emulator env -f $(EXAMPLE))" && $(PY) examples/churn/canary.py status
	@echo "\n== Canary 3/5 Now a version that answers a second late (the SLO p99 is 250 ms) goes out"
	@echo "   the same way. Seconds into the canary its latency alarm fires, and the endpoint rolls"
	@echo "   back to the version before it. Apply says so and fails, as it should; what the endpoint"
	@echo "   still serves is kept."
	eval "$$($(MLINFRA) emulator env -f $(EXAMPLE))" && $(PY) examples/churn/canary.py register --slow
	eval "$$($(MLINFRA) emulator env -f $(EXAMPLE))" && \
	  { $(PY) examples/churn/canary.py traffic & \
	    if $(MLINFRA) apply --env local -f $(EXAMPLE) --auto-approve; then \
	      echo "the slow version was not rolled back" >&2; wait; exit 1; fi; wait; }
	eval "$$($(MLINFRA) emulator env -f $(EXAMPLE))" && $(PY) examples/churn/canary.py status
	@echo "\n== Canary 4/5 Reject the slow version in the registry, saying why, so nothing deploys it"
	eval "$$($(MLINFRA) emulator env -f $(EXAMPLE))" && $(PY) examples/churn/canary.py reject
	@echo "\n== Canary 5/5 Apply: the newest approved version already serves; the configuration and"
	@echo "   model the rolled-back deployment left are deleted. Nothing is left to change."
	$(MLINFRA) apply --env local -f $(EXAMPLE) --auto-approve
	$(MLINFRA) plan --env local -f $(EXAMPLE) --detailed-exitcode
# --- chapter: model quality and rollback
	@echo "\n== Quality 1/7 A second version to go back to: load a newer snapshot of customers"
	@echo "   into the feature store, retrain (changed data: a new version, approved as"
	@echo "   registered) and apply, so that the endpoint serves it"
	$(PY) examples/churn/generate_data.py --customers 1500 --seed $$(date +%s) --out $(NEWER_CUSTOMERS)
	$(MLINFRA) featurestore ingest customers --env local -f $(EXAMPLE) --source $(NEWER_CUSTOMERS)/customers.csv
	$(MLINFRA) pipeline run train-churn --env local --wait -f $(EXAMPLE)
	$(MLINFRA) apply --env local -f $(EXAMPLE) --auto-approve
	@echo "\n== Quality 2/7 Customers are served, and later their ground truth arrives (who did"
	@echo "   churn), keyed by each request's InferenceId. The model is as good as its evaluation:"
	@echo "   the quality monitor finds accuracy within its lines"
	eval "$$($(MLINFRA) emulator env -f $(EXAMPLE))" && $(PY) examples/churn/label_traffic.py --share 1.0
	$(MLINFRA) monitor run churn-quality --env local -f $(EXAMPLE)
	@echo "\n== Quality 3/7 Accuracy slides to 96% of what the version was registered with: below"
	@echo "   the alert line (97%), above the rollback line (95%). The on-call address is alerted"
	eval "$$($(MLINFRA) emulator env -f $(EXAMPLE))" && $(PY) examples/churn/label_traffic.py --share 0.96
	$(MLINFRA) monitor run churn-quality --env local -f $(EXAMPLE)
	@echo "\n== Quality 4/7 It slides on, below 95%: the monitor rolls back. It marks the serving"
	@echo "   version Rejected in the registry, with the reason, and the alert says which version"
	@echo "   serves next"
	eval "$$($(MLINFRA) emulator env -f $(EXAMPLE))" && $(PY) examples/churn/label_traffic.py --share 0.92
	$(MLINFRA) monitor run churn-quality --env local -f $(EXAMPLE)
	$(MLINFRA) monitor alerts churn-quality --env local -f $(EXAMPLE) --limit 2
	@echo "\n== Quality 5/7 Apply: the previous approved version serves again"
	$(MLINFRA) apply --env local -f $(EXAMPLE) --auto-approve
	@echo "\n== Quality 6/7 The monitor's report: accuracy over its runs against both lines, and"
	@echo "   what the endpoint predicted"
	$(MLINFRA) monitor report churn-quality --env local -f $(EXAMPLE) --html $(QUALITY_REPORT)
	@echo "\n== Quality 7/7 Nothing is left to change"
	$(MLINFRA) plan --env local -f $(EXAMPLE) --detailed-exitcode
# --- chapter: batch scoring of the approved model
	@echo "\n== Batch 1/2 Score the whole customer base with the approved churn model, as the"
	@echo "   nightly batch job churn-scores does on its schedule, now: the emulator exports the"
	@echo "   latest row of each customer from the feature store's offline store, and a batch"
	@echo "   transform job scores them with the version the endpoint serves, writing one .out"
	@echo "   line per customer: its id and its churn probability"
	$(MLINFRA) batch run churn-scores --env local --wait -f $(EXAMPLE)
	@echo "\n== Batch 2/2 Read the scores as application code would (boto3 finds the run and its"
	@echo "   transform job's output) and print the ten customers most likely to leave. Scoring"
	@echo "   changed no infrastructure: the plan is still empty."
	eval "$$($(MLINFRA) emulator env -f $(EXAMPLE))" && $(PY) examples/churn/top_churners.py
	$(MLINFRA) plan --env local -f $(EXAMPLE) --detailed-exitcode
# --- chapter: compile cache
	@echo "\n== Compile cache 1/1 Compile every environment again. When nothing render reads has"
	@echo "   changed since step 2 (the spec, the scripts and data it names, mlinfra itself), each"
	@echo "   project is written from the compile cache beside the spec (.mlinfra/cache/render/):"
	@echo "   the same bytes, without compiling. Edit anything it reads and it compiles again."
	$(MLINFRA) render --all -f $(EXAMPLE) --out $(STACKS)
	@echo "\nDone. The emulator keeps running, and with it the schedules: the pipeline's nightly"
	@echo "retraining, the monitor's daily check and the nightly batch scoring. Run \`make run\`"
	@echo "again: it picks up from here."
	@echo "See what exists with:"
	@echo "  $(MLINFRA) output --env local -f $(EXAMPLE)"
	@echo "Open $(MONITOR_REPORT) in a browser for the drift report, $(QUALITY_REPORT)"
	@echo "for the quality report. Stop the emulator with:"
	@echo "  $(MLINFRA) emulator stop -f $(EXAMPLE)"

# Regenerate the checked-in projects; tests/render/test_stacks_current.py fails when stale.
stacks: setup
	$(VENV)/bin/mlinfra render --all -f $(EXAMPLE) --out $(STACKS)

lint: setup
	$(VENV)/bin/ruff check src tests examples benchmarks

# Two workers, each taking whole files (module fixtures such as a started emulator stay with
# one worker): the suite mostly waits on emulators and subprocesses, not on the 2 cores.
unit: setup
	$(PY) -m pytest -n 2 --dist loadfile

test: lint unit

bench: bench-validate

# Validating a generated 1,000-component spec, next to PyYAML's C loader parsing it.
bench-validate: setup
	$(PY) benchmarks/validate_bench.py

# `mlinfra --version` and `mlinfra validate` of the example, cold, next to BASELINE's source.
BASELINE ?= main
bench-cold-start: setup
	$(PY) benchmarks/cold_start_bench.py --baseline $(BASELINE)

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

# Batch scoring of 1,000,000 rows through the churn model: a transform job and a batch job's
# run on the emulator, next to the same model in-process and `mlflow models predict` (peers venv).
bench-transform: bench-peers
	$(PY) benchmarks/transform_bench.py

bench-serving: bench-peers
	$(PY) benchmarks/serving_bench.py

bench-featurestore: bench-peers
	$(PY) benchmarks/featurestore_bench.py

# What checking request signatures costs: two emulators, auth on and --insecure-any-credentials.
bench-auth: setup
	$(PY) benchmarks/auth_bench.py

# Search over 10,000 runs and a version's lineage, in the service, through boto3 and as the
# `runs search` and `lineage` commands run them (issue 20).
bench-lineage: setup
	$(PY) benchmarks/lineage_bench.py

# Evidently (the drift benchmark's peer) and Checkov (the audit benchmark's) need pins of their
# own (Evidently: pandas 2; Checkov: its many dependencies), so each has its own venv too.
EVIDENTLY_VENV := benchmarks/.evidently-venv
EVIDENTLY_STAMP := $(EVIDENTLY_VENV)/.installed-stamp
CHECKOV_VENV := benchmarks/.checkov-venv
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-stamp

$(EVIDENTLY_STAMP): benchmarks/peers/evidently-requirements.txt
	$(PYTHON) -m venv $(EVIDENTLY_VENV)
	$(EVIDENTLY_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(EVIDENTLY_VENV)/bin/python -m pip install --quiet -r benchmarks/peers/evidently-requirements.txt
	touch $(EVIDENTLY_STAMP)

$(CHECKOV_STAMP): benchmarks/peers/checkov-requirements.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r benchmarks/peers/checkov-requirements.txt
	touch $(CHECKOV_STAMP)

bench-drift: setup $(EVIDENTLY_STAMP)
	$(PY) benchmarks/drift_bench.py

# Model-quality analysis of 1,000,000 labelled predictions next to Evidently's classification
# preset, interleaved in one run.
bench-quality: setup $(EVIDENTLY_STAMP)
	$(PY) benchmarks/quality_bench.py

bench-audit: setup $(CHECKOV_STAMP)
	$(PY) benchmarks/audit_bench.py

# The edit-one-component loop at 1,000 components: `mlinfra render` and `plan` cold after an
# edit, and a render with nothing changed (the compile cache), next to main and to a cold
# `cdk synth` of the same resources. CDK (the peer) is installed with npm into benchmarks/.cdk.
CDK_HOME := benchmarks/.cdk
CDK_STAMP := $(CDK_HOME)/.installed-stamp

$(CDK_STAMP): benchmarks/peers/cdk-package.json
	mkdir -p $(CDK_HOME)
	cp benchmarks/peers/cdk-package.json $(CDK_HOME)/package.json
	cd $(CDK_HOME) && npm install --no-audit --no-fund --silent
	touch $(CDK_STAMP)

bench-incremental: setup $(CDK_STAMP)
	$(PY) benchmarks/incremental_bench.py

# The monitor job (the SageMaker Processing job's code path) on 1,000,000 captured requests,
# next to the local monitor and Evidently, interleaved in one run.
bench-monitor-job: setup $(EVIDENTLY_STAMP)
	$(PY) benchmarks/monitor_job_bench.py

# The monitor job on the scikit-learn image's Python (3.10) and library versions, in a venv of
# its own: IMAGE_PYTHON must be a Python 3.10 (e.g. pyenv's). Not part of `make test`.
IMAGE_PYTHON ?= python3.10
IMAGE_VENV := benchmarks/.monitor-image-venv
check-monitor-job-image: setup
	$(IMAGE_PYTHON) -m venv $(IMAGE_VENV)
	$(IMAGE_VENV)/bin/python -m pip install --quiet -r tests/monitoring/image-requirements.txt
	MLINFRA_IMAGE_PYTHON=$(abspath $(IMAGE_VENV))/bin/python $(PY) -m pytest -q \
		tests/monitoring/test_monitor_job_image.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
