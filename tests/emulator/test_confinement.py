"""A client of the emulator reaches no file outside the project and state folders.

Each test is an attack from issue 14, made against a running emulator through boto3 (or raw
HTTP where boto3 cannot express it), asserting the refusal and that nothing outside the two
folders was read, written or deleted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from test_server import ROLE, assert_aws_error, client, raw
from test_serving_hooks import deploy, serve


@pytest.fixture()
def outside(tmp_path_factory) -> Path:
    """A folder outside the emulator's project folder, with a secret and a model in it."""
    folder = tmp_path_factory.mktemp("outside")
    (folder / "secret.txt").write_text("do not read me\n")
    return folder


def refusal(excinfo) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def names_the_roots(message: str, server) -> bool:
    return str(server.root) in message and str(server.state_dir) in message


# --- model data and inference scripts ------------------------------------------------------


@pytest.mark.parametrize("form", ["file://{}", "{}"])
def test_model_data_outside_the_project_is_refused_naming_the_allowed_roots(
    server, outside, trained_model, form
):
    (outside / "model.joblib").write_bytes((trained_model / "model.joblib").read_bytes())
    sm = client(server, "sagemaker")
    with pytest.raises(ClientError) as excinfo:
        sm.create_model(
            ModelName="stolen",
            PrimaryContainer={"Image": "sklearn", "ModelDataUrl": form.format(outside)},
            ExecutionRoleArn=ROLE,
        )
    code, message = refusal(excinfo)
    assert code == "ValidationException"
    assert "PrimaryContainer.ModelDataUrl" in message and names_the_roots(message, server)
    assert sm.list_models()["Models"] == []


def test_a_relative_path_that_climbs_out_is_refused(server):
    sm = client(server, "sagemaker")
    with pytest.raises(ClientError) as excinfo:
        sm.create_model(
            ModelName="climber",
            PrimaryContainer={"Image": "sklearn", "ModelDataUrl": "file:../../../etc"},
            ExecutionRoleArn=ROLE,
        )
    assert refusal(excinfo)[0] == "ValidationException"


def test_a_symlink_in_the_project_pointing_out_is_refused(server, outside):
    (server.root / "model").symlink_to(outside, target_is_directory=True)
    sm = client(server, "sagemaker")
    with pytest.raises(ClientError) as excinfo:
        sm.create_model(
            ModelName="linked",
            PrimaryContainer={"Image": "sklearn", "ModelDataUrl": "model"},
            ExecutionRoleArn=ROLE,
        )
    code, message = refusal(excinfo)
    assert code == "ValidationException" and f"resolves to {outside}" in message


def test_model_data_that_became_a_link_out_fails_the_endpoint_with_the_reason(
    server, model_dir, outside, trained_model
):
    sm = client(server, "sagemaker")
    sm.create_model(
        ModelName="swapped",
        PrimaryContainer={"Image": "sklearn", "ModelDataUrl": str(model_dir)},
        ExecutionRoleArn=ROLE,
    )
    # After the model was accepted, its folder is replaced by a link to another one.
    (outside / "model.joblib").write_bytes((trained_model / "model.joblib").read_bytes())
    (model_dir / "model.joblib").unlink()
    model_dir.rmdir()
    model_dir.symlink_to(outside, target_is_directory=True)

    described = serve(server, "swapped")

    assert described["EndpointStatus"] == "Failed"
    assert "outside the folders the local emulator may use" in described["FailureReason"]
    assert names_the_roots(described["FailureReason"], server)


def test_a_model_file_linked_out_of_a_project_folder_fails_the_endpoint(
    server, tmp_path, outside, trained_model
):
    (outside / "model.joblib").write_bytes((trained_model / "model.joblib").read_bytes())
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.joblib").symlink_to(outside / "model.joblib")
    described = deploy(server, "inner-link", {"Image": "sklearn", "ModelDataUrl": "model"})

    assert described["EndpointStatus"] == "Failed"
    assert str(outside / "model.joblib") in described["FailureReason"]


def test_a_submit_directory_outside_the_project_is_refused(server, model_dir, outside):
    (outside / "inference.py").write_text("raise SystemExit('ran code from outside')\n")
    sm = client(server, "sagemaker")
    container = {
        "Image": "sklearn",
        "ModelDataUrl": str(model_dir),
        "Environment": {
            "SAGEMAKER_PROGRAM": "inference.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": f"file://{outside}",
        },
    }
    with pytest.raises(ClientError) as excinfo:
        sm.create_model(ModelName="outside-code", PrimaryContainer=container, ExecutionRoleArn=ROLE)
    code, message = refusal(excinfo)
    assert code == "ValidationException"
    assert "SAGEMAKER_SUBMIT_DIRECTORY" in message and names_the_roots(message, server)


def test_a_registered_version_with_model_data_outside_is_refused(server, outside):
    sm = client(server, "sagemaker")
    sm.create_model_package_group(ModelPackageGroupName="churn")
    with pytest.raises(ClientError) as excinfo:
        sm.create_model_package(
            ModelPackageGroupName="churn",
            InferenceSpecification={
                "Containers": [{"Image": "sklearn", "ModelDataUrl": f"file://{outside}"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )
    code, message = refusal(excinfo)
    assert code == "ValidationException"
    assert "InferenceSpecification.Containers[1].ModelDataUrl" in message
    assert sm.list_model_packages(ModelPackageGroupName="churn")["ModelPackageSummaryList"] == []


def test_an_inference_script_linked_out_of_the_project_fails_the_endpoint(
    server, model_dir, outside
):
    marker = outside / "ran"
    (outside / "inference.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n")
    (model_dir / "code").mkdir()
    (model_dir / "code" / "inference.py").symlink_to(outside / "inference.py")
    container = {
        "Image": "sklearn",
        "ModelDataUrl": str(model_dir),
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py"},
    }

    described = deploy(server, "linked-script", container)

    assert described["EndpointStatus"] == "Failed"
    assert str(outside / "inference.py") in described["FailureReason"]
    assert not marker.exists()


# --- data capture --------------------------------------------------------------------------


def test_a_capture_destination_outside_the_project_is_refused(server, model_dir, outside):
    sm = client(server, "sagemaker")
    sm.create_model(
        ModelName="captured",
        PrimaryContainer={"Image": "sklearn", "ModelDataUrl": str(model_dir)},
        ExecutionRoleArn=ROLE,
    )
    with pytest.raises(ClientError) as excinfo:
        sm.create_endpoint_config(
            EndpointConfigName="captured",
            ProductionVariants=[
                {"VariantName": "AllTraffic", "ModelName": "captured",
                 "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
            ],
            DataCaptureConfig={
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": f"file://{outside}/captures",
                "CaptureOptions": [{"CaptureMode": "Input"}],
            },
        )  # fmt: skip
    code, message = refusal(excinfo)
    assert code == "ValidationException"
    assert "DestinationS3Uri" in message and names_the_roots(message, server)
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


# --- names that would become paths ---------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "params", "member"),
    [
        ("create_endpoint", {"EndpointName": "../../escape", "EndpointConfigName": "c"},
         "endpointName"),
        ("create_pipeline", {"PipelineName": "../escape", "PipelineDefinition": "{}",
                             "RoleArn": ROLE}, "pipelineName"),
        ("create_endpoint_config", {"EndpointConfigName": "c", "ProductionVariants": [
            {"VariantName": "../../escape", "ModelName": "m"}]},
         "productionVariants.1.member.variantName"),
        ("describe_monitoring_schedule", {"MonitoringScheduleName": "../x"},
         "monitoringScheduleName"),
        ("create_feature_group", {"FeatureGroupName": "../escape",
                                  "RecordIdentifierFeatureName": "id",
                                  "EventTimeFeatureName": "t",
                                  "FeatureDefinitions": [{"FeatureName": "id",
                                                          "FeatureType": "String"}]},
         "featureGroupName"),
    ],
)  # fmt: skip
def test_a_name_with_dot_dot_is_a_400_naming_the_pattern(server, operation, params, member):
    sm = client(server, "sagemaker")
    before = sorted(p.name for p in server.root.parent.iterdir())
    with pytest.raises(ClientError) as excinfo:
        getattr(sm, operation)(**params)
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    code, message = refusal(excinfo)
    assert code == "ValidationException"
    assert f"at '{member}' failed to satisfy constraint" in message
    assert "regular expression pattern" in message
    assert sorted(p.name for p in server.root.parent.iterdir()) == before


def test_a_feature_group_name_with_dot_dot_is_refused_by_the_runtime(server):
    runtime = client(server, "sagemaker-featurestore-runtime")
    with pytest.raises(ClientError) as excinfo:
        runtime.get_record(FeatureGroupName="../../x", RecordIdentifierValueAsString="1")
    assert refusal(excinfo)[0] == "ValidationError"


# --- mlinfra's own routes ------------------------------------------------------------------


def test_dot_dot_slash_in_the_alerts_route_is_refused_and_reads_nothing(server):
    # An alerts.jsonl where `..%2F` would reach from the monitors folder.
    victim = server.state_dir / "elsewhere"
    victim.mkdir(parents=True)
    (victim / "alerts.jsonl").write_text(json.dumps({"secret": "yes"}) + "\n")
    for path in (
        "/_mlinfra/monitoring-schedules/..%2Felsewhere/alerts",
        "/_mlinfra/monitoring-schedules/..%2F..%2F..%2Felsewhere/alerts",
        "/_mlinfra/monitoring-schedules/%2E%2E/alerts",
    ):
        status, headers, body = raw(server, "GET", path)
        document = assert_aws_error(status, headers, body, "ValidationException", 400)
        assert "secret" not in body.decode()
        assert "MonitoringScheduleName" in document["message"]


def test_dot_dot_slash_in_the_execution_route_is_refused(server):
    status, headers, body = raw(
        server, "GET", "/_mlinfra/monitoring-schedules/m/executions/..%2F..%2Fcontrol"
    )
    assert_aws_error(status, headers, body, "ValidationException", 400)


def test_dot_dot_slash_in_the_ingest_route_is_refused(server):
    status, headers, body = raw(
        server,
        "POST",
        "/_mlinfra/feature-groups/..%2F..%2Fx/ingest",
        body=b"id,t\n1,2\n",
        headers={"Content-Type": "text/csv"},
    )
    assert_aws_error(status, headers, body, "ValidationError", 400)


def test_nothing_was_written_outside_the_project_by_any_refusal(server, outside):
    """The sentinel folder is untouched after every kind of refused request above."""
    sm = client(server, "sagemaker")
    for call in (
        lambda: sm.create_model(
            ModelName="m",
            PrimaryContainer={"Image": "x", "ModelDataUrl": f"file://{outside}/secret.txt"},
            ExecutionRoleArn=ROLE,
        ),
        lambda: sm.create_endpoint(EndpointName=f"..{os.sep}..{os.sep}x", EndpointConfigName="c"),
    ):
        with pytest.raises(ClientError):
            call()
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "do not read me\n"
