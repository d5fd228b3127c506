"""examples/minimal on the local emulator: the step-script contract of docs/pipeline-steps.md,
each claim checked on a real run of its scripts.

One copy of the example is applied, its pipeline run, its model approved and deployed, and the
endpoint asked, with the emulator the first apply starts (stopped at the end).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlinfra.cli.main import cli
from mlinfra.emulator import process
from mlinfra.emulator.access import Access

MINIMAL = Path(__file__).resolve().parents[2] / "examples" / "minimal"
PIPELINE = "parcels-local-train"
ENDPOINT = "parcels-local-parcel-size-api"


def mlinfra(spec: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "-f", str(spec)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    """The example, applied and trained once: the spec file of the copy."""
    folder = tmp_path_factory.mktemp("minimal") / "minimal"
    shutil.copytree(MINIMAL, folder, ignore=shutil.ignore_patterns(".mlinfra", "__pycache__"))
    spec = folder / "mlinfra.yaml"
    try:
        mlinfra(spec, "apply", "--env", "local", "--auto-approve")
        mlinfra(spec, "pipeline", "run", "train", "--env", "local", "--wait")
        yield spec
    finally:
        process.stop(spec)


def sagemaker(spec: Path, service: str = "sagemaker"):
    return Access.for_spec(spec).client(service)


def executions(spec: Path) -> list[dict]:
    """The pipeline's executions, oldest first, each with its steps by name."""
    client = sagemaker(spec)
    found = client.list_pipeline_executions(PipelineName=PIPELINE)["PipelineExecutionSummaries"]
    runs = []
    for summary in reversed(found):
        arn = summary["PipelineExecutionArn"]
        steps = client.list_pipeline_execution_steps(PipelineExecutionArn=arn)
        by_name = {s["StepName"]: s for s in steps["PipelineExecutionSteps"]}
        runs.append({"arn": arn, "id": arn.rsplit("/", 1)[-1], "steps": by_name})
    return runs


def step_folder(spec: Path, run: dict, step: str) -> Path:
    return spec.parent / ".mlinfra/emulator/pipelines" / PIPELINE / "executions" / run["id"] / step


def test_every_step_runs_and_the_gate_holds(spec: Path) -> None:
    run = executions(spec)[0]
    assert {n: s["StepStatus"] for n, s in run["steps"].items()} == dict.fromkeys(
        ["split", "fit", "evaluate", "gate", "register"], "Succeeded"
    )
    assert run["steps"]["gate"]["Metadata"]["Condition"]["Outcome"] == "True"


def test_a_local_input_arrives_in_a_folder_named_after_the_file(spec: Path) -> None:
    run = executions(spec)[0]
    staged = step_folder(spec, run, "split") / "input" / "parcels" / "parcels.csv"
    assert staged.read_bytes() == (MINIMAL / "data" / "parcels.csv").read_bytes()


def test_a_processing_output_is_kept_per_run_and_its_subfolders_are_what_later_steps_read(
    spec: Path,
) -> None:
    run = executions(spec)[0]
    output = spec.parent / ".mlinfra/emulator/pipelines" / PIPELINE / "runs" / run["id"] / "split"
    assert sorted(p.name for p in output.iterdir()) == ["test", "train", "validation"]
    channels = step_folder(spec, run, "fit") / "input" / "data"
    assert sorted(p.name for p in channels.iterdir()) == ["train", "validation"]
    for name in ("train", "validation"):
        assert (channels / name / f"{name}.csv").read_bytes() == (
            output / name / f"{name}.csv"
        ).read_bytes()


def test_an_evaluate_step_after_training_gets_the_model_and_the_test_split(spec: Path) -> None:
    run = executions(spec)[0]
    inputs = step_folder(spec, run, "evaluate") / "input"
    assert sorted(p.name for p in inputs.iterdir()) == ["code", "model", "test"]
    assert (inputs / "model" / "model.tar.gz").is_file()
    assert (inputs / "test" / "test.csv").is_file()


def test_conditions_read_the_property_file_and_the_training_log(spec: Path) -> None:
    run = executions(spec)[0]
    report = (
        spec.parent
        / ".mlinfra/emulator/pipelines"
        / PIPELINE
        / "runs"
        / run["id"]
        / "evaluate/evaluation/evaluation.json"
    )
    auc = json.loads(report.read_text())["metrics"]["auc"]["value"]
    assert auc >= 0.9  # the gate's parameters.min_auc, which held
    log = (step_folder(spec, run, "fit") / "log.txt").read_text()
    assert "validation_accuracy=" in log


def test_a_gate_that_does_not_hold_skips_registration_and_the_run_succeeds(spec: Path) -> None:
    before = len(executions(spec))
    output = mlinfra(
        spec, "pipeline", "run", "train", "--env", "local", "--wait", "--param", "min_auc=1.01"
    )
    assert "condition did not hold" in output
    # With the metric against the threshold: the AUC is below 1.01, whatever it is.
    when = "evaluate.metrics.auc >= parameters.min_auc and fit.metrics.validation_accuracy >= 0.8"
    assert re.search(rf"condition did not hold \({re.escape(when)}: [0-9.]+ < 1.01 and ", output)
    run = executions(spec)[before]
    assert run["steps"]["gate"]["Metadata"]["Condition"]["Outcome"] == "False"
    assert "register" not in run["steps"]
    client = sagemaker(spec)
    status = client.describe_pipeline_execution(PipelineExecutionArn=run["arn"])
    assert status["PipelineExecutionStatus"] == "Succeeded"


def test_the_registered_model_is_served_by_the_training_scripts_hooks(spec: Path) -> None:
    mlinfra(spec, "model", "approve", "parcel-size", "--env", "local", "--yes")
    mlinfra(spec, "apply", "--env", "local", "--auto-approve")
    runtime = sagemaker(spec, "sagemaker-runtime")
    csv = runtime.invoke_endpoint(
        EndpointName=ENDPOINT, ContentType="text/csv", Accept="text/csv", Body="9.5,8.0\n1.0,2.0\n"
    )
    assert csv["ContentType"] == "text/csv"
    large, small = (float(line) for line in csv["Body"].read().decode().splitlines())
    assert large > 0.5 > small
    # output_fn's own format: four decimals, and JSON when asked for it.
    answer = runtime.invoke_endpoint(
        EndpointName=ENDPOINT,
        ContentType="application/json",
        Accept="application/json",
        Body=json.dumps({"instances": [[9.5, 8.0]]}),
    )
    assert answer["ContentType"] == "application/json"
    assert json.loads(answer["Body"].read())["predictions"][0] == pytest.approx(large, abs=1e-4)
