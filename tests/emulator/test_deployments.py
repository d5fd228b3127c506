"""Blue/green endpoint updates in the emulator, through boto3: UpdateEndpoint's DeploymentConfig
shifts real traffic to the new fleet step by step, watches its rollback alarms and rolls back
when one fires; DescribeEndpoint reports the deployment as SageMaker does. The clock runs 60
times faster, so a minute's wait is a second."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from cloudwatch_helpers import clients_of, configure, deploy, dimensions, wait_for

from conftest import serving
from mlinfra.emulator.access import Access

SCALE = 60.0
BODY = b"1.0,0.0"
# The first model (a logistic regression) answers a probability; the new version 42.
NEW_ANSWER = "42"


def old(answer: str) -> bool:
    """Whether the old fleet (the first model) gave this answer."""
    return answer not in (NEW_ANSWER, "error") and 0.0 <= float(answer) <= 1.0


@pytest.fixture()
def fast(tmp_path: Path):
    yield from serving(tmp_path, clock_scale=SCALE)


@pytest.fixture()
def clients(fast, model_dir):
    return clients_of(fast, "api", model_dir, "cloudwatch")


def scripted(tmp_path: Path, model_dir: Path, name: str, predict: str) -> dict:
    """A container whose inference script's predict_fn is `predict` (its body)."""
    folder = tmp_path / name
    (folder / "code").mkdir(parents=True)
    shutil.copy2(model_dir / "model.joblib", folder / "model.joblib")
    (folder / "code" / "inference.py").write_text(
        "import time\n\ndef predict_fn(data, model):\n" + predict
    )
    return {
        "Image": "sklearn",
        "ModelDataUrl": str(folder),
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"},
    }  # fmt: skip


def good(tmp_path, model_dir) -> dict:
    return scripted(tmp_path, model_dir, "v2", f"    return [{NEW_ANSWER}] * len(data)\n")


def failing(tmp_path, model_dir) -> dict:
    return scripted(tmp_path, model_dir, "broken", "    raise ValueError('v3 is broken')\n")


def error_alarm(cloudwatch, name: str = "api-errors") -> str:
    """The SLO's error-rate alarm as mlinfra renders it, on one-minute periods."""

    def summed(query_id: str, metric: str) -> dict:
        return {
            "Id": query_id,
            "MetricStat": {
                "Metric": {"Namespace": "AWS/SageMaker", "MetricName": metric,
                           "Dimensions": dimensions("api")},
                "Period": 60, "Stat": "Sum",
            },
            "ReturnData": False,
        }  # fmt: skip

    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Metrics=[
            summed("errors", "Invocation5XXErrors"),
            summed("invocations", "Invocations"),
            {"Id": "rate", "Expression": "100 * errors / invocations", "ReturnData": True},
        ],
        ComparisonOperator="GreaterThanThreshold",
        Threshold=5.0,
        EvaluationPeriods=1,
        TreatMissingData="notBreaching",
    )
    return name


def canary(percent: int, wait: int, alarms: tuple[str, ...] = (), **policy) -> dict:
    config: dict = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": percent},
                "WaitIntervalInSeconds": wait,
            },
            **policy,
        }
    }
    if alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": a} for a in alarms]}
    return config


def invoke(runtime) -> str:
    """The endpoint's answer, or 'error' when the model failed."""
    try:
        out = runtime.invoke_endpoint(EndpointName="api", Body=BODY, ContentType="text/csv")
    except runtime.exceptions.ModelError:
        return "error"
    return out["Body"].read().decode().strip().strip("[]")


def status(sagemaker) -> str:
    return sagemaker.describe_endpoint(EndpointName="api")["EndpointStatus"]


def test_a_canary_that_stays_healthy_shifts_all_traffic_to_the_new_fleet(
    fast, clients, model_dir, tmp_path
):
    sagemaker, runtime, cloudwatch = clients
    config = configure(sagemaker, "v2", good(tmp_path, model_dir))
    deployment = canary(25, wait=120, alarms=(error_alarm(cloudwatch),))
    sagemaker.update_endpoint(EndpointName="api", EndpointConfigName=config,
                              DeploymentConfig=deployment)  # fmt: skip

    described = sagemaker.describe_endpoint(EndpointName="api")
    assert described["EndpointStatus"] == "Updating"
    assert described["EndpointConfigName"] == "api"  # the old fleet's, until it is done
    assert described["PendingDeploymentSummary"]["EndpointConfigName"] == "v2"

    # During the canary's two minutes (two seconds), a quarter of the answers are v2's.
    wait_for(lambda: sagemaker.describe_endpoint(EndpointName="api")["PendingDeploymentSummary"]
             ["ProductionVariants"][0]["VariantStatus"][0]["Status"] == "Baking",
             timeout=30, what="the canary baking")  # fmt: skip
    answers = [invoke(runtime) for _ in range(80)]
    assert 5 <= answers.count(NEW_ANSWER) <= 40, answers
    assert all(old(a) for a in answers if a != NEW_ANSWER)
    pending = sagemaker.describe_endpoint(EndpointName="api")["PendingDeploymentSummary"]
    assert pending["ProductionVariants"][0]["CurrentWeight"] == pytest.approx(0.25)

    wait_for(lambda: status(sagemaker) == "InService", timeout=30, what="the deployment's end")
    described = sagemaker.describe_endpoint(EndpointName="api")
    assert described["EndpointConfigName"] == "v2"
    assert described["LastDeploymentConfig"] == deployment
    assert "PendingDeploymentSummary" not in described
    assert "FailureReason" not in described
    assert {invoke(runtime) for _ in range(10)} == {NEW_ANSWER}
    assert fast.control.serving.share_of_new_fleet("api") is None  # the old fleet is gone


def test_a_failing_canary_trips_the_error_alarm_and_is_rolled_back(
    fast, clients, model_dir, tmp_path
):
    sagemaker, runtime, cloudwatch = clients
    config = configure(sagemaker, "v3", failing(tmp_path, model_dir))
    alarm = error_alarm(cloudwatch)
    # Ten minutes of canary (ten seconds): the alarm must stop it long before.
    deployment = canary(50, wait=600, alarms=(alarm,))
    started = time.monotonic()
    sagemaker.update_endpoint(EndpointName="api", EndpointConfigName=config,
                              DeploymentConfig=deployment)  # fmt: skip
    seen = set()
    while status(sagemaker) in ("Updating", "RollingBack") and time.monotonic() - started < 30:
        seen.add(invoke(runtime))
    assert "error" in seen  # the canary really took traffic, and failed it
    described = sagemaker.describe_endpoint(EndpointName="api")
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == "api"  # the old configuration serves again
    # During the canary: with half the traffic, not all of it.
    assert f"Alarm {alarm} went into ALARM with 50% of the traffic" in described["FailureReason"]
    assert described["LastDeploymentConfig"] == deployment
    assert cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"] == (
        "ALARM"
    )
    assert all(old(invoke(runtime)) for _ in range(20))  # all on the old fleet again


def test_a_new_fleet_that_cannot_start_is_rolled_back_with_the_reason(
    fast, clients, model_dir, tmp_path
):
    sagemaker, runtime, _ = clients
    container = {"Image": "sklearn", "ModelDataUrl": str(tmp_path / "no-such-model")}
    config = configure(sagemaker, "missing", container)
    sagemaker.update_endpoint(EndpointName="api", EndpointConfigName=config,
                              DeploymentConfig=canary(10, wait=60))  # fmt: skip
    wait_for(lambda: status(sagemaker) == "InService", timeout=30, what="the rollback")
    described = sagemaker.describe_endpoint(EndpointName="api")
    assert described["EndpointConfigName"] == "api"
    assert "The new fleet (missing) failed to start" in described["FailureReason"]
    assert old(invoke(runtime))


def test_linear_steps_shift_the_traffic_in_equal_steps(fast, clients, model_dir, tmp_path):
    sagemaker, runtime, _ = clients
    config = configure(sagemaker, "v2", good(tmp_path, model_dir), instances=2)
    deployment = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "LINEAR",
                "LinearStepSize": {"Type": "INSTANCE_COUNT", "Value": 1},  # 1 of 2: 50%
                "WaitIntervalInSeconds": 90,
            },
            "TerminationWaitInSeconds": 30,
        }
    }
    sagemaker.update_endpoint(EndpointName="api", EndpointConfigName=config,
                              DeploymentConfig=deployment)  # fmt: skip
    weights, messages = [], []
    while status(sagemaker) == "Updating":
        pending = sagemaker.describe_endpoint(EndpointName="api").get("PendingDeploymentSummary")
        if pending:
            variant = pending["ProductionVariants"][0]
            if not weights or weights[-1] != variant["CurrentWeight"]:
                weights.append(variant["CurrentWeight"])
                messages.append(variant["VariantStatus"][0]["StatusMessage"])
        time.sleep(0.05)
    assert weights == [0.0, 0.5, 1.0]
    assert "Step 1 of 2: 50% of the traffic." in messages
    assert "Step 2 of 2: 100% of the traffic." in messages
    described = sagemaker.describe_endpoint(EndpointName="api")
    assert described["EndpointConfigName"] == "v2"
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    assert invoke(runtime) == NEW_ANSWER


def test_retain_deployment_config_reuses_the_last_one(fast, clients, model_dir, tmp_path):
    sagemaker, runtime, _ = clients
    first = configure(sagemaker, "v2", good(tmp_path, model_dir))
    deployment = canary(20, wait=60)
    sagemaker.update_endpoint(EndpointName="api", EndpointConfigName=first,
                              DeploymentConfig=deployment)  # fmt: skip
    with pytest.raises(ClientError) as excinfo:  # one deployment at a time
        sagemaker.update_endpoint(EndpointName="api", EndpointConfigName="api")
    assert "Cannot update in-progress endpoint" in str(excinfo.value)
    wait_for(lambda: status(sagemaker) == "InService", timeout=30, what="the first deployment")
    sagemaker.update_endpoint(EndpointName="api", EndpointConfigName="api",
                              RetainDeploymentConfig=True)  # fmt: skip
    described = sagemaker.describe_endpoint(EndpointName="api")
    assert described["EndpointStatus"] == "Updating"  # a canary again, not at once
    wait_for(lambda: status(sagemaker) == "InService", timeout=30, what="the second deployment")
    assert sagemaker.describe_endpoint(EndpointName="api")["LastDeploymentConfig"] == deployment
    assert old(invoke(runtime))


def test_deleting_an_endpoint_mid_deployment_stops_both_fleets(fast, clients, model_dir, tmp_path):
    sagemaker, _, _ = clients
    config = configure(sagemaker, "v2", good(tmp_path, model_dir))
    sagemaker.update_endpoint(EndpointName="api", EndpointConfigName=config,
                              DeploymentConfig=canary(10, wait=3600))  # fmt: skip
    wait_for(lambda: fast.control.serving.share_of_new_fleet("api") is not None, timeout=30,
             what="the new fleet")  # fmt: skip
    sagemaker.delete_endpoint(EndpointName="api")
    assert "api" not in fast.control.serving.endpoints()
    wait_for(lambda: "api" not in fast.control.endpoints._rollouts, timeout=10,
             what="the deployment's thread to end")  # fmt: skip


def test_a_restart_mid_deployment_rolls_it_back_to_the_old_fleet(tmp_path, model_dir):
    for server in serving(tmp_path, clock_scale=SCALE):
        sagemaker = Access.for_server(server).client("sagemaker")
        deploy(sagemaker, "api", {"Image": "sklearn", "ModelDataUrl": str(model_dir)})
        config = configure(sagemaker, "v2", good(tmp_path, model_dir))
        sagemaker.update_endpoint(EndpointName="api", EndpointConfigName=config,
                                  DeploymentConfig=canary(10, wait=3600))  # fmt: skip
        assert status(sagemaker) == "Updating"
    for server in serving(tmp_path, clock_scale=SCALE):
        server.control.endpoints.redeploy()  # what `mlinfra emulator start` does at start-up
        access = Access.for_server(server)
        sagemaker = access.client("sagemaker")
        described = sagemaker.describe_endpoint(EndpointName="api")
        assert described["EndpointStatus"] == "InService"
        assert described["EndpointConfigName"] == "api"
        assert "interrupted by a restart" in described["FailureReason"]
        assert described["LastDeploymentConfig"] == canary(10, wait=3600)
        assert "PendingDeploymentSummary" not in described
        assert old(invoke(access.client("sagemaker-runtime")))
        # And it can be deployed again.
        sagemaker.update_endpoint(EndpointName="api", EndpointConfigName="v2")
        assert status(sagemaker) == "InService"


ROUTING = "TrafficRoutingConfiguration"


@pytest.mark.parametrize(
    ("deployment", "says"),
    [
        (
            {
                "RollingUpdatePolicy": {
                    "MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1},
                    "WaitIntervalInSeconds": 60,
                }
            },
            "RollingUpdatePolicy is not emulated",
        ),
        (
            {"BlueGreenUpdatePolicy": {ROUTING: {"Type": "CANARY", "WaitIntervalInSeconds": 60}}},
            "CANARY needs CanarySize",
        ),
        (
            {"BlueGreenUpdatePolicy": {ROUTING: {"Type": "LINEAR", "WaitIntervalInSeconds": 60}}},
            "LINEAR needs LinearStepSize",
        ),
        (
            {
                "BlueGreenUpdatePolicy": {
                    ROUTING: {
                        "Type": "ALL_AT_ONCE",
                        "WaitIntervalInSeconds": 60,
                        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
                    }
                }
            },
            "ALL_AT_ONCE takes neither",
        ),
        (canary(60, wait=60), "CanarySize: 60% is outside 0-50%"),
        (
            {
                "BlueGreenUpdatePolicy": {
                    ROUTING: {
                        "Type": "LINEAR",
                        "WaitIntervalInSeconds": 60,
                        "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 5},
                    }
                }
            },
            "LinearStepSize: 5% is outside 10-50%",
        ),
        (
            {
                "BlueGreenUpdatePolicy": {
                    ROUTING: {
                        "Type": "CANARY",
                        "WaitIntervalInSeconds": 60,
                        "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
                    }
                }
            },
            "1 of the new fleet's 1 instance(s) is outside 0-50%",
        ),
        (
            canary(10, wait=600, MaximumExecutionTimeoutInSeconds=1000),
            "must be larger than the deployment's waits (1200 seconds",
        ),
        (canary(10, wait=60, alarms=("no-such-alarm",)), "no CloudWatch alarm named"),
    ],  # fmt: skip
)
def test_an_invalid_deployment_config_is_a_validation_exception(fast, clients, deployment, says):
    sagemaker, runtime, _ = clients
    with pytest.raises(ClientError) as excinfo:
        sagemaker.update_endpoint(EndpointName="api", EndpointConfigName="api",
                                  DeploymentConfig=deployment)  # fmt: skip
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert says in excinfo.value.response["Error"]["Message"]
    assert status(sagemaker) == "InService"  # nothing started
    assert old(invoke(runtime))


@pytest.mark.parametrize(
    "deployment",
    [
        {"BlueGreenUpdatePolicy": {ROUTING: {"Type": "BOGUS", "WaitIntervalInSeconds": 60}}},
        {
            "BlueGreenUpdatePolicy": {
                ROUTING: {
                    "Type": "CANARY",
                    "WaitIntervalInSeconds": -5,
                    "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
                }
            }
        },
        {
            "BlueGreenUpdatePolicy": {
                ROUTING: {
                    "Type": "CANARY",
                    "WaitIntervalInSeconds": 60,
                    "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 0},
                }
            }
        },
        {"BlueGreenUpdatePolicy": {}},
        {"AutoRollbackConfiguration": {"Alarms": []}},
        {"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "x" * 300}]}},
    ],  # fmt: skip
)
def test_hostile_deployment_configs_are_refused_never_a_5xx(fast, clients, deployment):
    sagemaker, _, _ = clients
    # botocore would refuse these before sending: a client that does not check sends them.
    raw = Access.for_server(fast).client("sagemaker", config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as excinfo:
        raw.update_endpoint(EndpointName="api", EndpointConfigName="api",
                            DeploymentConfig=deployment)  # fmt: skip
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    assert status(sagemaker) == "InService"
