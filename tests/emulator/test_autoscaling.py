"""Application Auto Scaling in the emulator, through boto3: scalable targets and target
tracking policies on SageMakerVariantInvocationsPerInstance that really add and remove a
variant's worker processes, with DescribeEndpoint showing the counts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from cloudwatch_helpers import clients_of, deploy, wait_for

from conftest import serving
from mlinfra.emulator.access import Access

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
RESOURCE = "endpoint/busy/variant/AllTraffic"
TRACKING = {
    "TargetValue": 5.0,
    "PredefinedMetricSpecification": {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    },
    "ScaleOutCooldown": 60,
    "ScaleInCooldown": 120,
}


@pytest.fixture()
def fast(tmp_path: Path):
    yield from serving(tmp_path, clock_scale=60.0)


@pytest.fixture()
def clients(fast, model_dir):
    return clients_of(fast, "busy", model_dir, "application-autoscaling")


def counts(sagemaker) -> tuple[int, int]:
    variant = sagemaker.describe_endpoint(EndpointName="busy")["ProductionVariants"][0]
    return variant["CurrentInstanceCount"], variant["DesiredInstanceCount"]


def target(scaling, low: int = 1, high: int = 3) -> None:
    scaling.register_scalable_target(
        ServiceNamespace=NAMESPACE, ResourceId=RESOURCE, ScalableDimension=DIMENSION,
        MinCapacity=low, MaxCapacity=high,
    )  # fmt: skip


def test_target_tracking_adds_workers_under_load_and_removes_them_after(fast, clients):
    sagemaker, runtime, scaling = clients
    target(scaling)
    policy = scaling.put_scaling_policy(
        PolicyName="invocations", ServiceNamespace=NAMESPACE, ResourceId=RESOURCE,
        ScalableDimension=DIMENSION, PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration=TRACKING,
    )  # fmt: skip
    assert policy["PolicyARN"].startswith("arn:aws:autoscaling:us-east-1:123456789012:")
    described = scaling.describe_scaling_policies(ServiceNamespace=NAMESPACE)["ScalingPolicies"]
    assert [p["PolicyName"] for p in described] == ["invocations"]
    assert counts(sagemaker) == (1, 1)

    def busy() -> bool:
        # About 40 calls a (sped-up) minute on 1 instance, against a target of 5 per instance.
        for _ in range(3):
            runtime.invoke_endpoint(EndpointName="busy", Body=b"1.0,0.0", ContentType="text/csv")
        return counts(sagemaker) == (3, 3)

    wait_for(busy, timeout=60, what="scaling out to MaxCapacity 3")
    assert len(fast.control.serving.status("busy")["variants"]["AllTraffic"]["pids"]) == 3
    # The new workers serve.
    for _ in range(6):
        runtime.invoke_endpoint(EndpointName="busy", Body=b"1.0,0.0", ContentType="text/csv")

    # No traffic: after the scale-in cooldown, back to MinCapacity.
    wait_for(lambda: counts(sagemaker) == (1, 1), timeout=60, what="scaling in to 1")
    assert len(fast.control.serving.status("busy")["variants"]["AllTraffic"]["pids"]) == 1


def test_a_new_capacity_range_applies_at_once(fast, clients):
    sagemaker, _, scaling = clients
    target(scaling, low=2, high=4)
    wait_for(lambda: counts(sagemaker) == (2, 2), timeout=30, what="MinCapacity 2")
    found = scaling.describe_scalable_targets(ServiceNamespace=NAMESPACE)["ScalableTargets"]
    assert [(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in found] == [
        (RESOURCE, 2, 4)
    ]
    scaling.deregister_scalable_target(
        ServiceNamespace=NAMESPACE, ResourceId=RESOURCE, ScalableDimension=DIMENSION
    )
    assert scaling.describe_scalable_targets(ServiceNamespace=NAMESPACE)["ScalableTargets"] == []
    time.sleep(0.5)  # deregistered: nothing scales it any more
    assert counts(sagemaker) == (2, 2)


def test_what_the_emulator_cannot_scale_is_a_validation_exception(fast, clients):
    _, _, scaling = clients
    with pytest.raises(scaling.exceptions.ValidationException) as excinfo:
        scaling.register_scalable_target(
            ServiceNamespace="ecs", ResourceId="service/default/web",
            ScalableDimension="ecs:service:DesiredCount", MinCapacity=1, MaxCapacity=2,
        )  # fmt: skip
    assert "SageMaker endpoint variants only" in str(excinfo.value)
    with pytest.raises(scaling.exceptions.ValidationException) as excinfo:
        scaling.register_scalable_target(
            ServiceNamespace=NAMESPACE, ResourceId="endpoint/busy/variant/Canary",
            ScalableDimension=DIMENSION, MinCapacity=1, MaxCapacity=2,
        )  # fmt: skip
    assert "Canary" in str(excinfo.value)
    with pytest.raises(scaling.exceptions.ValidationException) as excinfo:
        target(scaling, low=3, high=2)
    assert "cannot be greater than maximum" in str(excinfo.value)
    with pytest.raises(scaling.exceptions.ObjectNotFoundException):
        scaling.put_scaling_policy(
            PolicyName="p", ServiceNamespace=NAMESPACE, ResourceId=RESOURCE,
            ScalableDimension=DIMENSION, PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration=TRACKING,
        )  # fmt: skip
    target(scaling)
    with pytest.raises(scaling.exceptions.ValidationException) as excinfo:
        scaling.put_scaling_policy(
            PolicyName="p", ServiceNamespace=NAMESPACE, ResourceId=RESOURCE,
            ScalableDimension=DIMENSION, PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 70.0,
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "SageMakerVariantProvisionedConcurrencyUtilization"
                },
            },
        )  # fmt: skip
    assert "SageMakerVariantInvocationsPerInstance" in str(excinfo.value)
    with pytest.raises(scaling.exceptions.ObjectNotFoundException):
        scaling.delete_scaling_policy(
            PolicyName="none", ServiceNamespace=NAMESPACE, ResourceId=RESOURCE,
            ScalableDimension=DIMENSION,
        )  # fmt: skip


def test_a_restarted_emulator_serves_the_instance_count_autoscaling_set(tmp_path, model_dir):
    for server in serving(tmp_path, clock_scale=60.0):
        access = Access.for_server(server)
        sagemaker = access.client("sagemaker")
        deploy(sagemaker, "busy", {"Image": "sklearn", "ModelDataUrl": str(model_dir)})
        target(access.client("application-autoscaling"), low=2, high=3)
        wait_for(lambda sm=sagemaker: counts(sm) == (2, 2), timeout=30, what="MinCapacity 2")
    for server in serving(tmp_path, clock_scale=60.0, schedule=False):
        server.control.endpoints.redeploy()  # what a started emulator does first
        assert counts(Access.for_server(server).client("sagemaker")) == (2, 2)
        assert len(server.control.serving.status("busy")["variants"]["AllTraffic"]["pids"]) == 2
