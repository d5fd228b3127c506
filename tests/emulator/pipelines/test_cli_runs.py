"""`mlinfra runs compare|search` against a running emulator, over real pipeline runs: what
differed between two executions (a parameter, the data's content, the code) and which runs
tried a hyperparameter, best first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pipeline_project import announce, create, mlinfra, run, write_project


@pytest.fixture()
def project(server, tmp_path: Path):
    path = write_project(tmp_path)
    sagemaker = create(server, path)
    announce(server, path)
    return path, sagemaker


def ran(sagemaker, parameters: dict | None = None) -> str:
    execution = run(sagemaker, parameters)
    assert execution["PipelineExecutionStatus"] == "Succeeded", execution.get("FailureReason")
    return execution["PipelineExecutionArn"]


def compared(spec: Path, first: str, second: str) -> dict:
    result = mlinfra(spec, "runs", "compare", first, second, "--env", "local", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_compare_names_the_parameter_and_the_data_that_changed(project):
    spec, sagemaker = project
    first = ran(sagemaker)
    data = spec.parent / "data" / "points.csv"
    data.write_text(data.read_text() + "9.9,0.1,1\n")
    second = ran(sagemaker, {"min_accuracy": "0.5"})
    found = compared(spec, first, second.rsplit("/", 1)[-1])  # an id does as well as an ARN
    changed = {(d["what"], d["key"]) for d in found["differences"]}
    assert ("parameters", "pipeline.min_accuracy") in changed
    assert ("inputs", "prepare.points") in changed
    assert not any(what == "code" for what, _ in changed)
    assert found["same"]["code"] >= 3  # prepare, train and evaluate's scripts
    point = next(d for d in found["differences"] if d["key"] == "prepare.points")
    assert point["a"].startswith("sha256:") and point["b"].startswith("sha256:")

    text = mlinfra(spec, "runs", "compare", first, second, "--env", "local").stdout
    assert "pipeline.min_accuracy: 0.6 -> 0.5" in text


def test_two_runs_of_the_same_everything_differ_in_nothing_they_were_given(project):
    spec, sagemaker = project
    first, second = ran(sagemaker), ran(sagemaker)
    found = compared(spec, first, second)
    assert {d["what"] for d in found["differences"]} <= {"metrics"}


def test_changed_code_is_named(project):
    spec, sagemaker = project
    first = ran(sagemaker)
    script = spec.parent / "steps" / "evaluate.py"
    script.write_text(script.read_text() + "\n# a change\n")
    found = compared(spec, first, ran(sagemaker))
    assert ("code", "evaluate.evaluate.py") in {(d["what"], d["key"]) for d in found["differences"]}


def test_search_finds_the_runs_that_tried_a_setting_best_first(project):
    spec, sagemaker = project
    ran(sagemaker)
    result = mlinfra(spec, "runs", "search", "--param", "C=0.5", "--metric", "accuracy",
                     "--env", "local", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found["total"] == 1
    (hit,) = found["runs"]
    assert hit["parameters"] == {"C": "0.5"} and hit["job"].endswith("-train")
    none = mlinfra(spec, "runs", "search", "--param", "C=7", "--env", "local", "--json")
    assert json.loads(none.stdout)["total"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compare", "nosuchrun", "another"], "no execution 'nosuchrun'"),
        (["search", "--param", "C"], "is not KEY=VALUE"),
    ],
)
def test_mistakes_are_explained(project, args, message):
    spec, _ = project
    result = mlinfra(spec, "runs", *args, "--env", "local")
    assert result.exit_code == 1
    assert message in result.stderr
