"""Endpoints served by the model's own inference script, as SageMaker's scikit-learn container
serves them: its hooks where it defines them, the defaults where it does not."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest
from test_server import ROLE, client

CHURN = Path(__file__).resolve().parents[2] / "examples" / "churn"

ALL_HOOKS = """\
import os
import joblib
import numpy as np
from helper import DECIMALS  # a sibling module: the script's folder is on sys.path


def model_fn(model_dir):
    return {"model": joblib.load(os.path.join(model_dir, "weights.joblib"))}


def input_fn(body, content_type):
    assert isinstance(body, str), type(body)  # text/csv arrives as text, as in the container
    return np.array([[float(v) for v in line.split(",")] for line in body.split()])


def predict_fn(data, model):
    return model["model"].predict_proba(data)[:, 1]


def output_fn(prediction, accept):
    body = "".join(f"{p:.{DECIMALS}f}\\n" for p in prediction)
    return body, "text/x-rounded; accept=" + accept
"""

OUTPUT_ONLY = """\
import json


def output_fn(prediction, accept):
    return json.dumps({"scores": [round(float(p), 2) for p in prediction], "accept": accept})
"""

TRANSFORM = """\
def transform_fn(model, body, content_type, accept):
    rows = [[float(v) for v in line.split(",")] for line in body.split()]
    labels = model.predict(rows)
    return b"|".join(str(int(v)).encode() for v in labels)
"""

RAISES = """\
def predict_fn(data, model):
    raise ValueError("predict_fn cannot score " + str(len(data)) + " rows")
"""


def deploy(server, name: str, container: dict) -> dict:
    """Create model, config and endpoint `name` from `container`; DescribeEndpoint after."""
    sm = client(server, "sagemaker")
    sm.create_model(ModelName=name, PrimaryContainer=container, ExecutionRoleArn=ROLE)
    return serve(server, name)


def serve(server, name: str) -> dict:
    """Config and endpoint `name` serving model `name`; DescribeEndpoint after."""
    sm = client(server, "sagemaker")
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
             "InstanceType": "ml.m5.large"}
        ],
    )  # fmt: skip
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return sm.describe_endpoint(EndpointName=name)


def invoke(server, name: str, body: bytes, **extra):
    runtime = client(server, "sagemaker-runtime")
    return runtime.invoke_endpoint(EndpointName=name, Body=body, ContentType="text/csv", **extra)


def with_script(model_dir: Path, folder: Path, script: str, name: str = "inference.py") -> Path:
    """A copy of the model folder with `script` in its code/ folder, as train.py saves one."""
    target = folder / "model"
    target.mkdir(parents=True)
    (target / "model.joblib").write_bytes((model_dir / "model.joblib").read_bytes())
    (target / "code").mkdir()
    (target / "code" / name).write_text(textwrap.dedent(script))
    return target


def environment(program: str = "inference.py", submit: str = "/opt/ml/model/code") -> dict:
    return {"SAGEMAKER_PROGRAM": program, "SAGEMAKER_SUBMIT_DIRECTORY": submit}


# --- hooks --------------------------------------------------------------------------------


def test_all_four_hooks_shape_the_answer_from_a_sourcedir_archive(server, model_dir, tmp_path):
    # The model folder has no model.joblib: model_fn loads a file of its own choosing.
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.joblib").write_bytes((model_dir / "model.joblib").read_bytes())
    source = tmp_path / "source"
    source.mkdir()
    (source / "inference.py").write_text(ALL_HOOKS)
    (source / "helper.py").write_text("DECIMALS = 3\n")
    with tarfile.open(tmp_path / "sourcedir.tar.gz", "w:gz") as tar:
        for name in ("inference.py", "helper.py"):
            tar.add(source / name, arcname=name)
    container = {
        "Image": "sklearn",
        "ModelDataUrl": f"file://{model}",
        "Environment": environment(submit=f"file://{tmp_path / 'sourcedir.tar.gz'}"),
    }
    assert deploy(server, "hooks", container)["EndpointStatus"] == "InService"

    answer = invoke(server, "hooks", b"1.0,0.0\n-1.0,0.0\n", Accept="text/csv")

    assert answer["ContentType"] == "text/x-rounded; accept=text/csv"
    lines = answer["Body"].read().decode().splitlines()
    assert len(lines) == 2 and all(len(line.split(".")[1]) == 3 for line in lines)
    assert float(lines[0]) > 0.5 > float(lines[1])


def test_a_script_with_only_output_fn_keeps_the_default_input_and_predict(
    server, model_dir, tmp_path
):
    model = with_script(model_dir, tmp_path, OUTPUT_ONLY)
    container = {"Image": "sklearn", "ModelDataUrl": str(model), "Environment": environment()}
    assert deploy(server, "output-only", container)["EndpointStatus"] == "InService"

    answer = invoke(server, "output-only", b"1.0,0.0\n-1.0,0.0\n")

    # No Accept: the hook gets the container's default, and its str body goes out as that type.
    assert answer["ContentType"] == "application/json"
    document = json.loads(answer["Body"].read())
    assert document["accept"] == "application/json"
    high, low = document["scores"]
    assert high > 0.5 > low and high == round(high, 2)


def test_transform_fn_answers_alone_with_the_accept_type(server, model_dir, tmp_path):
    model = with_script(model_dir, tmp_path, TRANSFORM, name="serve.py")
    container = {
        "Image": "sklearn",
        "ModelDataUrl": str(model),
        "Environment": environment(program="serve.py"),
    }
    assert deploy(server, "transform", container)["EndpointStatus"] == "InService"

    answer = invoke(server, "transform", b"1.0,0.0\n-1.0,0.0\n", Accept="text/plain")

    assert answer["ContentType"] == "text/plain"
    assert answer["Body"].read() == b"1|0"


def test_a_hook_that_raises_is_a_model_error_with_its_message(server, model_dir, tmp_path):
    model = with_script(model_dir, tmp_path, RAISES)
    container = {"Image": "sklearn", "ModelDataUrl": str(model), "Environment": environment()}
    assert deploy(server, "raises", container)["EndpointStatus"] == "InService"
    runtime = client(server, "sagemaker-runtime")

    with pytest.raises(runtime.exceptions.ModelError) as excinfo:
        invoke(server, "raises", b"1.0,0.0\n-1.0,0.0\n")

    response = excinfo.value.response
    assert "server error (500)" in response["Error"]["Message"]
    assert "ValueError: predict_fn cannot score 2 rows" in response["Error"]["Message"]
    # As InvokeEndpoint's ModelError has them: what the container itself answered.
    assert response["OriginalStatusCode"] == 500
    assert "ValueError: predict_fn cannot score 2 rows" in response["OriginalMessage"]


def test_the_package_environment_names_the_script_and_the_model_environment_wins(
    server, model_dir, tmp_path
):
    model = with_script(model_dir, tmp_path, OUTPUT_ONLY)
    sm = client(server, "sagemaker")
    sm.create_model_package_group(ModelPackageGroupName="scorers")
    arn = sm.create_model_package(
        ModelPackageGroupName="scorers",
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [
                {"Image": "sklearn", "ModelDataUrl": str(model), "Environment": environment()}
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    container = {
        "ModelPackageName": arn,
        "Environment": {"SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "text/csv"},
    }
    assert deploy(server, "registered", container)["EndpointStatus"] == "InService"

    answer = invoke(server, "registered", b"1.0,0.0\n")

    assert answer["ContentType"] == "text/csv"
    assert json.loads(answer["Body"].read())["accept"] == "text/csv"


@pytest.fixture()
def churn_archive(trained_churn_archive: Path, tmp_path: Path) -> Path:
    """The trained archive, inside the project folder `server` serves."""
    shutil.copy2(trained_churn_archive, tmp_path / "churn-model.tar.gz")
    return tmp_path / "churn-model.tar.gz"


@pytest.fixture(scope="module")
def trained_churn_archive(tmp_path_factory) -> Path:
    """The churn example trained by its own train.py, packed as SageMaker packs /opt/ml/model."""
    root = tmp_path_factory.mktemp("churn")
    (root / "train").mkdir()
    (root / "train" / "customers.csv").symlink_to(CHURN / "data" / "customers.csv")
    env = {
        **os.environ,
        "SM_CHANNEL_TRAIN": str(root / "train"),
        "SM_MODEL_DIR": str(root / "model"),
        "SM_OUTPUT_DATA_DIR": str(root / "output"),
    }
    subprocess.run(
        [sys.executable, str(CHURN / "pipelines" / "train.py"), "--n_estimators", "10"],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    with tarfile.open(root / "model.tar.gz", "w:gz") as tar:
        for item in sorted((root / "model").iterdir()):
            tar.add(item, arcname=item.name)
    return root / "model.tar.gz"


def test_the_churn_example_answers_with_its_own_hooks_from_the_model_code(server, churn_archive):
    container = {
        "Image": "sklearn",
        "ModelDataUrl": str(churn_archive),
        "Environment": environment(program="train.py"),
    }
    assert deploy(server, "churn", container)["EndpointStatus"] == "InService"
    lines = (CHURN / "data" / "baseline.csv").read_text().splitlines()[:4]  # header and 3 rows
    # Without the last column, the model's prediction: what the endpoint receives.
    rows = [line.rsplit(",", 1)[0] for line in lines]

    answer = invoke(server, "churn", "\n".join(rows).encode(), Accept="text/csv")

    assert answer["ContentType"] == "text/csv"
    lines = answer["Body"].read().decode().splitlines()
    assert len(lines) == 3 and all(len(line.split(".")[1]) == 6 for line in lines)


# --- failures and defaults ----------------------------------------------------------------


def test_a_program_that_is_not_there_fails_the_endpoint_saying_where_it_looked(
    server, model_dir, tmp_path
):
    submit = tmp_path / "src"
    submit.mkdir()
    container = {
        "Image": "sklearn",
        "ModelDataUrl": str(model_dir),
        "Environment": environment(program="missing.py", submit=str(submit)),
    }

    described = deploy(server, "missing", container)

    assert described["EndpointStatus"] == "Failed"
    reason = described["FailureReason"]
    assert "SAGEMAKER_PROGRAM=missing.py" in reason
    assert str(submit) in reason and str(model_dir / "code") in reason
    assert "Traceback" not in reason


def test_a_program_given_as_a_path_fails_the_endpoint(server, model_dir):
    container = {
        "Image": "sklearn",
        "ModelDataUrl": str(model_dir),
        "Environment": environment(program="../../elsewhere.py"),
    }

    described = deploy(server, "pathlike", container)

    assert described["EndpointStatus"] == "Failed"
    assert "must be the file name of a script" in described["FailureReason"]


def test_a_script_that_fails_to_import_fails_the_endpoint(server, model_dir, tmp_path):
    model = with_script(model_dir, tmp_path, "raise RuntimeError('no serving here')\n")
    container = {"Image": "sklearn", "ModelDataUrl": str(model), "Environment": environment()}

    described = deploy(server, "broken", container)

    assert described["EndpointStatus"] == "Failed"
    assert "could not load its model" in described["FailureReason"]
    assert "RuntimeError: no serving here" in described["FailureReason"]


def test_a_script_that_trains_when_imported_says_where_its_training_code_belongs(
    server, model_dir, tmp_path
):
    trains = "import argparse\nargparse.ArgumentParser().parse_args(['--epochs', '3'])\n"
    model = with_script(model_dir, tmp_path, trains)
    container = {"Image": "sklearn", "ModelDataUrl": str(model), "Environment": environment()}

    described = deploy(server, "trains", container)

    assert described["EndpointStatus"] == "Failed"
    assert "inference.py exited while being imported (exit code 2)" in (described["FailureReason"])
    assert 'if __name__ == "__main__":' in described["FailureReason"]


def test_a_model_without_an_environment_is_served_by_the_defaults(server, model_dir):
    assert (
        deploy(server, "plain", {"Image": "sklearn", "ModelDataUrl": str(model_dir)})[
            "EndpointStatus"
        ]
        == "InService"
    )

    answer = invoke(server, "plain", b"1.0,0.0\n-1.0,0.0\n")

    assert answer["ContentType"] == "text/csv"
    high, low = (float(v) for v in answer["Body"].read().decode().split())
    assert high > 0.5 > low
