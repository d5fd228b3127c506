"""`mlinfra batch run|runs` against a running emulator: a batch job runs now, its runs are
listed with the transform job of each and the .out files it wrote.

The emulator is the `server` fixture's, announced in the spec folder's run file as
`mlinfra emulator start` does; the batch job's pipeline is the local lowering's.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pipeline_project import announce, client

from mlinfra.cli.main import cli
from mlinfra.engines.providers.values import resolve
from mlinfra.ir.lower import lower
from mlinfra.spec.validate import validate_file

SPEC = """\
version: 1
project: shop
environments:
  local: {target: local}
models:
  scorer:
    framework: sklearn
    framework_version: "1.2-1"
    artifact: model.tar.gz
batch_jobs:
  scores:
    model: scorer
    input: data/to-score.csv
    output: scores
"""
MODEL_NAME = "shop-local-scorer"
ROWS = 40


def mlinfra(spec: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, [*args, "-f", str(spec)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    return result


@pytest.fixture()
def spec(server, tmp_path: Path, trained_model: Path) -> Path:
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as archive:
        archive.add(trained_model / "model.joblib", arcname="model.joblib")
    (tmp_path / "data").mkdir()
    rows = "".join(f"{(i % 7) - 3},{(i % 5) - 2}\n" for i in range(ROWS))
    (tmp_path / "data" / "to-score.csv").write_text(rows)
    path = tmp_path / "mlinfra.yaml"
    path.write_text(SPEC)
    announce(server, path)
    return path


def create(server, spec: Path) -> None:
    """The model and the batch job's pipeline, as `mlinfra apply` creates them."""
    validation = validate_file(spec)
    assert validation.ok, validation.diagnostics
    graph = lower(validation.environments["local"], spec.parent)
    (pipeline,) = graph.of_type("local.Pipeline")
    sagemaker = client(server)
    sagemaker.create_model(
        ModelName=MODEL_NAME,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/m",
        PrimaryContainer={"Image": "sklearn", "ModelDataUrl": "model.tar.gz"},
    )
    # The model's name is the one `apply` gives it (a hash): here, the one created above.
    sagemaker.create_pipeline(**resolve(pipeline.properties, lambda ref: MODEL_NAME, None))


def test_a_batch_job_not_created_yet_says_what_creates_it(spec):
    result = mlinfra(spec, "batch", "run", "scores", "--env", "local")
    assert result.exit_code == 1
    assert "batch job scores (pipeline shop-local-scores) does not exist" in result.output
    assert "creates it once model 'scorer' has a version to serve" in result.output


def test_an_unknown_batch_job_is_named_with_the_ones_there_are(server, spec):
    create(server, spec)
    result = mlinfra(spec, "batch", "run", "score", "--env", "local")
    assert result.exit_code == 1
    assert "has no batch job 'score' (it has: scores)" in result.output
    assert "did you mean 'scores'?" in result.output


def test_run_waits_and_says_where_the_scores_are_and_runs_lists_them(server, spec):
    create(server, spec)
    result = mlinfra(spec, "batch", "run", "scores", "--env", "local", "--wait")
    assert result.exit_code == 0, result.output
    assert "score" in result.stdout and "execution succeeded" in result.stdout
    assert "scores: file:scores" in result.stdout
    assert "scores/to-score.csv.out" in result.stdout
    out = spec.parent / "scores" / "to-score.csv.out"
    assert len(out.read_text().splitlines()) == ROWS

    listed = mlinfra(spec, "batch", "runs", "scores", "--env", "local")
    assert listed.exit_code == 0, listed.output
    assert "Succeeded" in listed.stdout and "score:Succeeded" in listed.stdout
    assert "file:scores (1 .out file(s))" in listed.stdout

    document = json.loads(
        mlinfra(spec, "batch", "runs", "scores", "--env", "local", "--json").stdout
    )
    (run,) = document["runs"]
    assert run["Scores"]["TransformJobStatus"] == "Completed"
    assert run["Scores"]["Files"] == ["scores/to-score.csv.out"]


def test_runs_of_a_batch_job_that_never_ran_say_how_to_start_it(server, spec):
    create(server, spec)
    result = mlinfra(spec, "batch", "runs", "scores", "--env", "local")
    assert result.exit_code == 0, result.output
    assert "scores has not run yet: start it with `mlinfra batch run scores --env local`" in (
        result.stdout
    )
