"""`mlinfra lineage` against a running emulator: a version registered by a real pipeline run,
traced back to its training job (hyperparameters), the processing job before it, and the
data and code they read, as a tree, JSON and Mermaid."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from pipeline_project import announce, create, mlinfra, register_version, run, write_project


@pytest.fixture()
def spec(server, tmp_path: Path) -> Path:
    path = write_project(tmp_path)
    sagemaker = create(server, path)
    announce(server, path)
    execution = run(sagemaker)
    assert execution["PipelineExecutionStatus"] == "Succeeded", execution.get("FailureReason")
    return path


def lineage(spec: Path, *args: str):
    return mlinfra(spec, "lineage", "--model", "tiny-model", "--version", "1",
                   "--env", "local", *args)  # fmt: skip


def test_a_versions_lineage_reaches_its_training_run_data_and_code(spec):
    found = json.loads(lineage(spec, "--format", "json").stdout)
    entities = {e["arn"]: e for e in found["entities"]}
    root = entities[found["root"]]
    assert root["type"] == "ModelPackage" and root["uri"].endswith("/tiny-local-tiny/1")
    by_type: dict[str, list] = {}
    for entity in entities.values():
        by_type.setdefault(entity["type"], []).append(entity)
    (training,) = by_type["TrainingJob"]
    assert training["parameters"]["C"] == "0.5"
    assert {"ProcessingJob", "Model", "DataSet", "Code"} <= set(by_type)
    data = hashlib.sha256((spec.parent / "data/points.csv").read_bytes()).hexdigest()
    assert any(e["uri"].endswith("points.csv") for e in by_type["DataSet"]), by_type["DataSet"]
    assert any("prepare.py" in (e["uri"] or "") for e in by_type["Code"])
    # The model the version names is the one the training job produced.
    (model,) = by_type["Model"]
    produced = {(e["source"], e["destination"]) for e in found["edges"]}
    assert (training["arn"], model["arn"]) in produced
    assert (model["arn"], found["root"]) in produced
    assert data  # the data file is the project's own


def test_the_tree_shows_the_version_over_its_training_run(spec):
    result = lineage(spec)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ModelPackage")
    training = next(i for i, line in enumerate(lines) if "TrainingJob" in line)
    model = next(i for i, line in enumerate(lines) if "── Model " in line)
    assert model < training
    assert "parameters: C=0.5" in "".join(lines[training : training + 6])


def test_mermaid_draws_every_association(spec):
    found = json.loads(lineage(spec, "--format", "json").stdout)
    drawn = lineage(spec, "--format", "mermaid").stdout
    assert drawn.startswith("flowchart BT\n")
    assert drawn.count("-->") == len(found["edges"])


def test_a_version_made_outside_a_pipeline_has_its_own_lineage_only(server, spec):
    from pipeline_project import client

    register_version(client(server))
    result = mlinfra(spec, "lineage", "--model", "tiny-model", "--version", "2", "--env", "local")
    assert result.exit_code == 0, result.output
    assert "TrainingJob" not in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "tiny-model", "--version", "9"], "has no version 9 (it has: 1)"),
        (["--model", "tiny-model"], "--model needs --version N"),
        (["endpoint.nowhere"], "has no endpoint 'nowhere'"),
        (["model.tiny-model"], "is not an endpoint's address"),
        ([], "name one endpoint (ADDRESS) or one model version"),
    ],
)
def test_what_cannot_be_traced_is_explained(spec, args, message):
    result = mlinfra(spec, "lineage", *args, "--env", "local")
    assert result.exit_code == 1
    assert message in result.stderr
