"""An endpoint's `slo`, `deployment` and `autoscaling` on the local target, as a user applies
them: the SLO alarms in the emulator's CloudWatch, the scaling in its Application Auto
Scaling, a new model deployed as a canary (or rolled back by an alarm), and a plan that
converges after each apply. The emulator apply starts runs its clock 60 times faster, so the
spec's one-minute canary wait lasts a second."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from shop import client, mlinfra

from mlinfra.emulator import process
from mlinfra.emulator.access import Access
from mlinfra.emulator.kit.clock import CLOCK_SCALE_VARIABLE
from mlinfra.state import backend_for

ENDPOINT = "shop-local-scorer-api"
HOOK = "webhook:http://127.0.0.1:9/alerts"


def spec(artifact: str = "models/a/model.joblib", latency_ms: int = 500) -> str:
    return f"""\
version: 1
project: shop
environments:
  local:
    target: local
models:
  scorer:
    framework: sklearn
    framework_version: "1.2-1"
    artifact: {artifact}
endpoints:
  scorer-api:
    model: scorer
    instance_type: ml.m5.large
    autoscaling: {{min: 1, max: 2, target_invocations_per_instance: 100}}
    deployment:
      strategy: canary
      canary_percent: 25
      wait_minutes: 1
      rollback_on: [latency, errors]
    slo:
      latency_p99_ms: {latency_ms}
      error_rate_percent: 5
      alert: ["{HOOK}"]
"""


@pytest.fixture()
def spec_file(project: Path, monkeypatch):
    monkeypatch.setenv(CLOCK_SCALE_VARIABLE, "60")
    path = project / "mlinfra.yaml"
    path.write_text(spec())
    yield path
    process.stop(path)


def apply(spec_file: Path) -> tuple[int, str]:
    return mlinfra("apply", "--env", "local", "-f", str(spec_file), "--auto-approve")


def converged(spec_file: Path) -> bool:
    code, out = mlinfra("plan", "--env", "local", "-f", str(spec_file), "--detailed-exitcode")
    assert code in (0, 2), out
    return code == 0


def clients(spec_file: Path) -> tuple:
    access = Access.for_spec(spec_file)
    return (
        client(access),
        access.client("cloudwatch"),
        access.client("application-autoscaling"),
    )


def test_apply_creates_the_slo_alarms_the_scaling_and_converges(spec_file: Path) -> None:
    code, out = apply(spec_file)
    assert code == 0, out
    sagemaker, cloudwatch, scaling = clients(spec_file)
    alarms = {a["AlarmName"]: a for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    assert set(alarms) == {f"{ENDPOINT}-latency-p99", f"{ENDPOINT}-error-rate"}
    latency = alarms[f"{ENDPOINT}-latency-p99"]
    assert (latency["ExtendedStatistic"], latency["Threshold"]) == ("p99", 500000.0)
    assert [d["Value"] for d in latency["Dimensions"]] == [ENDPOINT, "primary"]
    assert latency["AlarmActions"] == [f"arn:aws:sns:us-east-1:123456789012:{ENDPOINT}-alerts"]
    targets = scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert [(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [
        (f"endpoint/{ENDPOINT}/variant/primary", 1, 2)
    ]
    policies = scaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    tracking = policies[0]["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["TargetValue"] == 100.0
    assert converged(spec_file)

    # A new latency threshold changes the alarm in place; the plan converges again.
    spec_file.write_text(spec(latency_ms=300))
    code, out = mlinfra("plan", "--env", "local", "-f", str(spec_file))
    assert "1 to update, 0 to replace" in out and "~ endpoint.scorer-api/alarm-latency" in out
    assert apply(spec_file)[0] == 0
    found = cloudwatch.describe_alarms(AlarmNames=[f"{ENDPOINT}-latency-p99"])["MetricAlarms"]
    assert found[0]["Threshold"] == 300000.0
    assert converged(spec_file)

    # Removed from the state and the emulator by destroy.
    code, out = mlinfra("destroy", "--env", "local", "-f", str(spec_file), "--auto-approve")
    assert code == 0, out
    assert cloudwatch.describe_alarms()["MetricAlarms"] == []
    assert scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []
    assert sagemaker.list_endpoints()["Endpoints"] == []


def test_a_new_model_goes_out_as_a_canary_and_the_plan_converges(spec_file: Path) -> None:
    assert apply(spec_file)[0] == 0
    sagemaker, _, _ = clients(spec_file)
    spec_file.write_text(spec(artifact="models/b/model.joblib"))
    code, out = apply(spec_file)
    assert code == 0, out
    described = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    assert described["EndpointStatus"] == "InService"
    routing = described["LastDeploymentConfig"]["BlueGreenUpdatePolicy"][
        "TrafficRoutingConfiguration"
    ]
    assert routing == {
        "Type": "CANARY",
        "WaitIntervalInSeconds": 60,
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 25},
    }
    state = backend_for(".mlinfra/state", spec_file.parent).read("shop", "local")
    assert (
        described["EndpointConfigName"]
        == (state.resources["endpoint.scorer-api/config"].inputs["EndpointConfigName"])
    )
    assert converged(spec_file)


def test_an_alarm_during_the_canary_rolls_back_and_apply_says_so(spec_file: Path) -> None:
    assert apply(spec_file)[0] == 0
    sagemaker, cloudwatch, _ = clients(spec_file)
    before = sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]
    spec_file.write_text(spec(artifact="models/b/model.joblib"))

    def status() -> str:
        return sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointStatus"]

    def trip() -> None:
        # As one tests a rollback on AWS: the alarm set to ALARM (until its next evaluation
        # finds the quiet endpoint OK again, so again and again) while the canary bakes.
        while status() != "Updating":
            threading.Event().wait(0.02)
        while status() == "Updating":
            cloudwatch.set_alarm_state(
                AlarmName=f"{ENDPOINT}-error-rate", StateValue="ALARM",
                StateReason="test", StateReasonData=json.dumps({}),
            )  # fmt: skip
            threading.Event().wait(0.02)

    tripper = threading.Thread(target=trip, daemon=True)
    tripper.start()
    code, out = apply(spec_file)
    tripper.join(30)
    assert code != 0
    assert "was rolled back" in out and f"Alarm {ENDPOINT}-error-rate went into ALARM" in out
    described = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == before
    # The state still records the old configuration serving: the change is still to do.
    # What it serves was kept (not deleted with the replaced configuration and model).
    assert "kept: endpoint.scorer-api/config" in out and "kept: model.scorer" in out
    assert sagemaker.describe_endpoint_config(EndpointConfigName=before)["EndpointConfigName"]
    code, out = mlinfra("plan", "--env", "local", "-f", str(spec_file), "--detailed-exitcode")
    assert code == 2 and "~ endpoint.scorer-api" in out, out
    assert "- endpoint.scorer-api/config#deposed" in out, out

    # Without the alarm, the next apply deploys it, and deletes what nothing uses any more.
    code, out = apply(spec_file)
    assert code == 0, out
    after = sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]
    assert after != before
    assert len(sagemaker.list_endpoint_configs()["EndpointConfigs"]) == 1
    assert converged(spec_file)


def test_going_back_to_what_a_rollback_kept_keeps_it(spec_file: Path) -> None:
    """A rollback kept the old configuration and model; the spec goes back to them (as when
    the rolled-back version is rejected): they are the live ones, and are not deleted."""
    assert apply(spec_file)[0] == 0
    sagemaker, cloudwatch, _ = clients(spec_file)
    before = sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]
    spec_file.write_text(spec(artifact="models/b/model.joblib"))
    stop = threading.Event()

    def trip() -> None:
        while not stop.is_set():
            cloudwatch.set_alarm_state(
                AlarmName=f"{ENDPOINT}-error-rate", StateValue="ALARM", StateReason="test"
            )
            stop.wait(0.02)

    tripper = threading.Thread(target=trip, daemon=True)
    tripper.start()
    try:
        assert apply(spec_file)[0] != 0  # rolled back before any traffic shifted
    finally:
        stop.set()
        tripper.join(10)
    spec_file.write_text(spec())
    code, out = apply(spec_file)
    assert code == 0, out
    assert sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"] == before
    listed = sagemaker.list_endpoint_configs()["EndpointConfigs"]
    configs = [c["EndpointConfigName"] for c in listed]
    assert configs == [before]
    assert len(sagemaker.list_models()["Models"]) == 1
    assert converged(spec_file)
