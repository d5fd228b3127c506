"""Benchmark: Search over recorded runs, and the lineage of a model version, in the emulator.

Run it as `.venv/bin/python benchmarks/lineage_bench.py` (options: `--components`, `--versions`,
`--reps`). These are measurements to read, not timed unit tests: nothing here fails on a slow
number.

1. Starts an emulator on a loopback port in this process (as the tests do) over a fresh
   temporary folder, and records through its control plane (not timed):
     - `--components` trial components (default 10,000), 20 runs to a trial, 100 trials to an
       experiment, each with the parameters a training job has (C, max_depth, n_estimators,
       solver) and one value of `accuracy` and `auc`;
     - `--versions` model versions (default 200), each with the lineage a pipeline execution
       writes (`services/tracking.py`): raw data -> prepare job -> prepared data -> train
       job -> model -> model package, with each job's code and image, and the model group.
2. Times, over boto3 (what users call; signing, HTTP and parsing included) and in-process
   (`ControlPlane.call`, the service alone), in interleaved rounds:
     - Search over ExperimentTrialComponent: a parameter and a metric filter, sorted by the
       metric, 10 results (what `runs search --param C=0.5 --metric accuracy` asks);
     - Search with an Or of two sub-expressions and a nested filter on the run's trial;
     - QueryLineage from a version's model package artifact, Ascendants, depth 10: the whole
       way back to the raw data.
   And once, the first Search after a restart (reading the components from SQLite).
3. Restarts the emulator on the same state as `mlinfra emulator start` does (a process of
   its own), and times the commands as a user runs them, in this process through click
   (argument parsing, the spec's validation, every call and the rendering; the boto3 client
   is made by the first invocation and kept, as a process does), interleaved; then each once
   in a fresh process (the interpreter's start and every import included):
     - `mlinfra runs search --param C=0.5 --metric accuracy --env local --json`;
     - `mlinfra lineage --model churn-model --version N --env local --format json`, of the
       last version, over its whole lineage;
   the spec a one-model project beside the emulator, which it finds through its run file.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from mlinfra.cli.main import cli
from mlinfra.emulator import process
from mlinfra.emulator.access import Access
from mlinfra.emulator.server import EmulatorServer

REGION = "us-east-1"
RUNS_PER_TRIAL = 20
TRIALS_PER_EXPERIMENT = 100
GROUP = "bench-local-churn"  # the spec's registry group, as the local target names it
SPEC = """\
version: 1
project: bench
environments:
  local: {target: local}
models:
  churn-model:
    registry_group: churn
    framework: sklearn
    framework_version: "1.2-1"
"""


def start(root: Path) -> tuple[EmulatorServer, threading.Thread]:
    state = root / ".mlinfra" / "emulator"
    state.mkdir(parents=True, exist_ok=True)
    server = EmulatorServer(root, state, 0, schedule=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def stop(server: EmulatorServer, thread: threading.Thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join(5)


def record_runs(server: EmulatorServer, count: int, seed: int) -> None:
    call = server.control.call
    rng = random.Random(seed)
    for index in range(count):
        if index % (RUNS_PER_TRIAL * TRIALS_PER_EXPERIMENT) == 0:
            call("CreateExperiment", {"ExperimentName": f"exp-{index}"}, REGION)
            experiment = f"exp-{index}"
        if index % RUNS_PER_TRIAL == 0:
            trial = f"trial-{index}"
            call("CreateTrial", {"TrialName": trial, "ExperimentName": experiment}, REGION)
        name = f"run-{index}-aws-training-job"
        parameters = {
            "C": {"NumberValue": rng.choice([0.1, 0.25, 0.5, 1.0, 2.0])},
            "max_depth": {"NumberValue": float(rng.randint(2, 12))},
            "n_estimators": {"NumberValue": float(rng.choice([50, 100, 200, 400]))},
            "solver": {"StringValue": rng.choice(["lbfgs", "liblinear", "saga"])},
        }
        call("CreateTrialComponent", {"TrialComponentName": name, "Parameters": parameters}, REGION)
        metrics = {"accuracy": rng.uniform(0.6, 0.95), "auc": rng.uniform(0.6, 0.99)}
        server.control.experiments.put_metrics(name, metrics, time.time())
        call("AssociateTrialComponent", {"TrialComponentName": name, "TrialName": trial}, REGION)


def record_versions(server: EmulatorServer, count: int) -> str:
    """`count` versions in the spec's registry group, each with a pipeline's lineage; the
    package artifact of the last."""
    control = server.control
    lineage, experiments = control.lineage, control.experiments
    control.call("CreateModelPackageGroup", {"ModelPackageGroupName": GROUP}, REGION)
    package = ""
    for index in range(count):
        run = f"pipelines-{index:06d}"

        digest = f"{index:064x}"  # each version's data and model differ

        def job(kind, step, reads, writes, run=run, digest=digest):  # bound now, not later
            arn = f"arn:aws:sagemaker:{REGION}:123456789012:{kind}/{run}-{step}"
            source = {"SourceArn": arn, "SourceType": "SageMakerTrainingJob"}
            component = experiments.record_job(f"{run}-{step}-{kind}", source, {}, REGION)
            for artifact_type, uri in reads:
                read = lineage.track(artifact_type, uri, REGION, digest)
                lineage.associate(read, component, "ContributedTo")
            made = []
            for artifact_type, uri in writes:
                written = lineage.track(artifact_type, uri, REGION, digest)
                lineage.associate(component, written, "Produced")
                made.append(written)
            return made

        prepared = f"file:runs/{run}/prepare"
        (prepared_artifact,) = job(
            "processing-job", "prepare",
            [("DataSet", f"file:data/raw-{index}.csv"), ("Code", "file:steps/prepare.py"),
             ("Image", "sklearn:1.2-1")],
            [("DataSet", prepared)],
        )  # fmt: skip
        channel = lineage.track("DataSet", f"{prepared}/train", REGION, digest)
        lineage.associate(prepared_artifact, channel, "ContributedTo")
        model_uri = f"file:runs/{run}/train/model.tar.gz"
        (model,) = job(
            "training-job", "train",
            [("DataSet", f"{prepared}/train"), ("Code", "file:steps/train.py"),
             ("Image", "sklearn:1.2-1")],
            [("Model", model_uri)],
        )  # fmt: skip
        registered = {
            "ModelPackageGroupName": GROUP,
            "ModelApprovalStatus": "Approved",
            "InferenceSpecification": {
                "Containers": [{"Image": "sklearn", "ModelDataUrl": model_uri}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        }
        version = control.call("CreateModelPackage", registered, REGION)["ModelPackageArn"]
        package = lineage.track("ModelPackage", version, REGION)
        lineage.associate(model, package, "ContributedTo")
        group = lineage.context("churn-model-group", "ModelGroup", "group", REGION)
        lineage.associate(package, group, "ContributedTo")
    return package


def command_times(spec: Path, versions: int, reps: int) -> None:
    """`runs search` and `lineage` as the CLI runs them, in interleaved rounds; and once
    each in a fresh process (interpreter start, imports and all)."""
    runner = CliRunner()

    def mlinfra(*args: str) -> dict:
        result = runner.invoke(cli, [*args, "--env", "local", "-f", str(spec)])
        if result.exit_code != 0:
            raise SystemExit(f"mlinfra {' '.join(args)} failed:\n{result.output}")
        return json.loads(result.stdout)

    commands = {
        "mlinfra runs search --param C=0.5 --metric accuracy --json": lambda: mlinfra(
            "runs", "search", "--param", "C=0.5", "--metric", "accuracy", "--json"
        ),
        f"mlinfra lineage --model churn-model --version {versions} --format json": lambda: mlinfra(
            "lineage", "--model", "churn-model", "--version", str(versions), "--format", "json"
        ),  # fmt: skip
    }
    searched = next(iter(commands.values()))()
    traced = list(commands.values())[1]()
    print(
        f"runs search: {searched['total']} of the recorded runs match, first "
        f"{searched['runs'][0]['name']}; lineage: {len(traced['entities'])} entities"
    )
    results: dict[str, list[float]] = {label: [] for label in commands}
    rounds = 5
    for round_ in range(rounds):
        labels = list(commands)
        labels = labels[round_ % len(labels) :] + labels[: round_ % len(labels)]
        for label in labels:
            results[label] += timed(commands[label], max(1, reps // rounds))
    for label, times in results.items():
        print(summary(label, times))
    for label in commands:
        words = label.split()[1:]
        command = [sys.executable, "-m", "mlinfra.cli.main", *words, "--env", "local"]
        begin = time.perf_counter()
        done = subprocess.run([*command, "-f", str(spec)], capture_output=True, check=False)  # noqa: S603
        elapsed = (time.perf_counter() - begin) * 1000
        print(f"{label:<62} a fresh process: {elapsed:7.1f} ms (exit {done.returncode})")


def timed(fn: Callable[[], object], reps: int) -> list[float]:
    found = []
    for _ in range(reps):
        begin = time.perf_counter()
        fn()
        found.append((time.perf_counter() - begin) * 1000)
    return found


def summary(label: str, times: list[float]) -> str:
    ordered = sorted(times)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{label:<62} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   max {ordered[-1]:7.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--components", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=200)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="lineage-bench-"))
    try:
        server, thread = start(root)
        begin = time.perf_counter()
        record_runs(server, args.components, args.seed)
        package = record_versions(server, args.versions)
        print(
            f"recorded {args.components} trial components and {args.versions} versions' lineage "
            f"in {time.perf_counter() - begin:.1f} s"
        )
        sm = Access.for_server(server).client("sagemaker")
        by_parameter = {
            "Resource": "ExperimentTrialComponent",
            "SearchExpression": {"Filters": [
                {"Name": "Parameters.C", "Operator": "Equals", "Value": "0.5"},
                {"Name": "Metrics.accuracy.Max", "Operator": "GreaterThan", "Value": "0.9"},
            ]},
            "SortBy": "Metrics.accuracy.Max",
            "SortOrder": "Descending",
            "MaxResults": 10,
        }  # fmt: skip
        either = {
            "Resource": "ExperimentTrialComponent",
            "SearchExpression": {
                "Operator": "Or",
                "SubExpressions": [
                    {"Filters": [{"Name": "Parameters.solver", "Operator": "Equals",
                                  "Value": "saga"}]},
                    {"Filters": [{"Name": "Parameters.max_depth", "Operator": "GreaterThan",
                                  "Value": "10"}]},
                ],
                "NestedFilters": [{"NestedPropertyName": "Parents", "Filters": [
                    {"Name": "Parents.ExperimentName", "Operator": "Equals", "Value": "exp-0"}]}],
            },
            "MaxResults": 100,
        }  # fmt: skip
        lineage = {
            "StartArns": [package],
            "Direction": "Ascendants",
            "IncludeEdges": True,
            "MaxDepth": 10,
        }
        found = sm.query_lineage(**lineage)
        print(
            f"lineage of the last version: {len(found['Vertices'])} entities, "
            f"{len(found['Edges'])} edges; search by parameter: "
            f"{sm.search(**by_parameter)['TotalHits']['Value']} hits"
        )
        call = server.control.call
        cases = {
            "Search, parameter + metric, 10 results (boto3)": lambda: sm.search(**by_parameter),
            "Search, parameter + metric, 10 results (in-process)": lambda: call(
                "Search", by_parameter, REGION
            ),
            "Search, Or + nested, 100 results (boto3)": lambda: sm.search(**either),
            "Search, Or + nested, 100 results (in-process)": lambda: call("Search", either, REGION),
            "QueryLineage, version -> raw data, depth 10 (boto3)": lambda: sm.query_lineage(
                **lineage
            ),
            "QueryLineage, version -> raw data, depth 10 (in-process)": lambda: call(
                "QueryLineage", lineage, REGION
            ),
        }
        results: dict[str, list[float]] = {label: [] for label in cases}
        for fn in cases.values():  # warm-up
            fn()
        rounds = 5
        for round_ in range(rounds):
            labels = list(cases)
            labels = labels[round_ % len(labels) :] + labels[: round_ % len(labels)]
            for label in labels:
                results[label] += timed(cases[label], max(1, args.reps // rounds))
        for label, times in results.items():
            print(summary(label, times))
        stop(server, thread)

        # The commands against the emulator as users run it: its own process, detached.
        spec = root / "mlinfra.yaml"
        spec.write_text(SPEC)
        process.start(spec)
        try:
            command_times(spec, args.versions, args.reps)
        finally:
            process.stop(spec)

        server, thread = start(root)  # the same state, read afresh
        sm = Access.for_server(server).client("sagemaker")
        first = timed(lambda: sm.search(**by_parameter), 1)[0]
        first_lineage = timed(lambda: sm.query_lineage(**lineage), 1)[0]
        print(f"first Search after a restart (boto3): {first:.1f} ms")
        print(f"first QueryLineage after a restart (boto3): {first_lineage:.1f} ms")
        stop(server, thread)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
