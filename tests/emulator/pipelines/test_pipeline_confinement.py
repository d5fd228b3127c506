"""Pipeline steps read and write only inside the project and state folders.

A one-step processing pipeline, driven by boto3 against a running emulator, is pointed at
places outside the project: each step fails saying so, and the places are left as they were.
Publishing an output replaces only what the step published there before, as S3 overwrites
keys, never the folder around it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from pipeline_project import client, processing_definition, steps, wait

ROLE = "arn:aws:iam::123456789012:role/mlinfra-local-pipeline"
PIPELINE = "confined"
# The step writes one file per name given in its environment, and lists its input.
SCRIPT = """\
import os
from pathlib import Path

inputs = Path("/opt/ml/processing/input/data".replace("/opt/ml/processing", os.environ["ROOT"]))
out = Path(os.environ["ROOT"]) / "output"
for name in os.environ["WRITE"].split(","):
    (out / name).write_text("written by the step\\n")
print(sorted(p.name for p in inputs.iterdir()) if inputs.exists() else "no input")
"""


@pytest.fixture()
def outside(tmp_path_factory) -> Path:
    """A folder outside the project, with a file that must survive every step."""
    folder = tmp_path_factory.mktemp("outside")
    (folder / "keep.txt").write_text("precious\n")
    return folder


def definition(
    output: str, data: str | None = None, write: str = "result.csv", step: str = "copy"
) -> str:
    environment = {"ROOT": "/opt/ml/processing", "WRITE": write}
    return processing_definition(environment, data, output, step)


def write_script(root: Path) -> None:
    (root / "steps").mkdir(exist_ok=True)
    (root / "steps" / "step.py").write_text(SCRIPT)


def run_step(server, tmp_path: Path, **kwargs) -> tuple[dict, dict]:
    """Create (or update) the pipeline, run it, and return the execution and its step."""
    write_script(tmp_path)
    sagemaker = client(server)
    request = {"PipelineName": PIPELINE, "PipelineDefinition": definition(**kwargs)}
    try:
        sagemaker.create_pipeline(**request, RoleArn=ROLE)
    except ClientError:
        sagemaker.update_pipeline(**request)
    arn = sagemaker.start_pipeline_execution(PipelineName=PIPELINE)["PipelineExecutionArn"]
    execution = wait(sagemaker, arn, timeout=60)
    (step,) = steps(sagemaker, arn).values()
    return execution, step


def test_an_output_outside_the_project_fails_the_step_and_leaves_the_folder(
    server, tmp_path, outside
):
    execution, step = run_step(server, tmp_path, output=f"file://{outside}")
    assert execution["PipelineExecutionStatus"] == "Failed"
    assert step["StepStatus"] == "Failed"
    assert "outside the folders the local emulator may use" in step["FailureReason"]
    assert str(server.root) in step["FailureReason"]
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]
    assert (outside / "keep.txt").read_text() == "precious\n"


def test_an_input_outside_the_project_is_refused_and_not_copied(server, tmp_path, outside):
    execution, step = run_step(
        server, tmp_path, output="file:out", data=f"file://{outside}/keep.txt"
    )
    assert step["StepStatus"] == "Failed"
    assert f"{outside}/keep.txt is outside" in step["FailureReason"]
    copied = [p for p in server.state_dir.rglob("keep.txt")]
    assert copied == []


def test_an_input_folder_with_a_link_out_is_refused(server, tmp_path, outside):
    data = tmp_path / "data"
    data.mkdir()
    (data / "fine.csv").write_text("a\n1\n")
    (data / "leak.txt").symlink_to(outside / "keep.txt")
    execution, step = run_step(server, tmp_path, output="file:out", data="file:data")
    assert step["StepStatus"] == "Failed"
    assert str(outside / "keep.txt") in step["FailureReason"]
    assert [p for p in server.state_dir.rglob("leak.txt") if p.is_file()] == []


def test_an_output_linked_out_of_the_project_is_refused(server, tmp_path, outside):
    (tmp_path / "out").symlink_to(outside, target_is_directory=True)
    execution, step = run_step(server, tmp_path, output="file:out")
    assert step["StepStatus"] == "Failed"
    assert f"resolves to {outside}" in step["FailureReason"]
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]


def test_an_output_in_the_project_keeps_the_files_the_step_did_not_write(server, tmp_path):
    target = tmp_path / "reports"
    target.mkdir()
    (target / "notes.md").write_text("mine\n")
    execution, step = run_step(server, tmp_path, output="file:reports", write="a.csv,b.csv")
    assert execution["PipelineExecutionStatus"] == "Succeeded", execution.get("FailureReason")
    assert sorted(p.name for p in target.iterdir()) == ["a.csv", "b.csv", "notes.md"]

    # Run again writing other files: what the step wrote before goes, the user's file stays.
    execution, _ = run_step(server, tmp_path, output="file:reports", write="c.csv")
    assert execution["PipelineExecutionStatus"] == "Succeeded", execution.get("FailureReason")
    assert sorted(p.name for p in target.iterdir()) == ["c.csv", "notes.md"]
    assert (target / "notes.md").read_text() == "mine\n"


def test_a_step_output_of_the_same_name_overwrites_as_s3_does(server, tmp_path):
    target = tmp_path / "reports"
    target.mkdir()
    (target / "result.csv").write_text("old\n")
    execution, _ = run_step(server, tmp_path, output="file:reports")
    assert execution["PipelineExecutionStatus"] == "Succeeded", execution.get("FailureReason")
    assert (target / "result.csv").read_text() == "written by the step\n"


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", "x" * 65])
def test_a_step_name_that_is_not_a_plain_name_is_refused_at_create(server, tmp_path, name):
    sagemaker = client(server)
    with pytest.raises(ClientError) as excinfo:
        sagemaker.create_pipeline(
            PipelineName=PIPELINE,
            PipelineDefinition=definition(output="file:out", step=name),
            RoleArn=ROLE,
        )
    error = excinfo.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "Step name" in error["Message"]


def test_a_local_path_climbing_out_of_the_container_folder_fails_the_step(server, tmp_path):
    document = json.loads(definition(output="file:out"))
    outputs = document["Steps"][0]["Arguments"]["ProcessingOutputConfig"]["Outputs"]
    outputs[0]["S3Output"]["LocalPath"] = "/opt/ml/processing/../../../../escape"
    write_script(tmp_path)
    sagemaker = client(server)
    sagemaker.create_pipeline(
        PipelineName=PIPELINE, PipelineDefinition=json.dumps(document), RoleArn=ROLE
    )
    arn = sagemaker.start_pipeline_execution(PipelineName=PIPELINE)["PipelineExecutionArn"]
    execution = wait(sagemaker, arn, timeout=60)
    (step,) = steps(sagemaker, arn).values()
    assert execution["PipelineExecutionStatus"] == "Failed"
    assert "is outside /opt/ml/processing" in step["FailureReason"]
    assert not (server.root.parent / "escape").exists()
