"""Application Auto Scaling for endpoint variants: scalable targets, target tracking policies,
and the scaling itself, on the emulator's scheduler.

Only what SageMaker uses is emulated: the namespace `sagemaker`, resources
`endpoint/<EndpointName>/variant/<VariantName>`, the dimension
`sagemaker:variant:DesiredInstanceCount`, and `TargetTrackingScaling` policies on the predefined
metric `SageMakerVariantInvocationsPerInstance`; anything else is a ValidationException that
says so. `evaluate()` (the scheduler calls it) compares the variant's InvocationsPerInstance of
the last whole minute (`cloudwatch.metrics`) with each policy's target and changes the
variant's worker processes (`EndpointPool.scale`), between MinCapacity and MaxCapacity, as
target tracking does: the capacity that would bring the metric to the target,
`ceil(current * metric / target)`, scaling out at once and in only after the cooldowns (of the
emulator's clock, which a demo may speed up). DescribeEndpoint shows the counts. The
CloudWatch alarms AWS creates for a target tracking policy are not created (`Alarms` is empty).
"""

from __future__ import annotations

import logging
import math
import re
import uuid
from typing import Any

from mlinfra.emulator.kit.arns import ACCOUNT
from mlinfra.emulator.kit.clock import Clock
from mlinfra.emulator.kit.errors import ApiError
from mlinfra.emulator.protocol import AUTOSCALING_SERVICE
from mlinfra.emulator.services.cloudwatch.metrics import SAGEMAKER, MetricKey, Metrics
from mlinfra.emulator.services.endpoints import Endpoints
from mlinfra.emulator.store import Store

TARGET, POLICY = "scalable-target", "scaling-policy"  # the store's kinds
NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
METRIC = "SageMakerVariantInvocationsPerInstance"
DEFAULT_COOLDOWN = 300  # seconds, AWS's default for target tracking
_RESOURCE = re.compile(r"endpoint/(?P<endpoint>[^/]+)/variant/(?P<variant>[^/]+)")

log = logging.getLogger("mlinfra.emulator.autoscaling")


def invalid(message: str) -> ApiError:
    return ApiError("ValidationException", message)


def missing(message: str) -> ApiError:
    return ApiError("ObjectNotFoundException", message)


class AutoScaling:
    """The scalable target and scaling policy operations, and target tracking itself."""

    API = AUTOSCALING_SERVICE
    OPERATIONS = (
        "RegisterScalableTarget", "DescribeScalableTargets", "DeregisterScalableTarget",
        "PutScalingPolicy", "DescribeScalingPolicies", "DeleteScalingPolicy",
    )  # fmt: skip
    KINDS = ()

    def __init__(self, store: Store, endpoints: Endpoints, metrics: Metrics, clock: Clock) -> None:
        self.store = store
        self.endpoints = endpoints
        self.metrics = metrics
        self.clock = clock

    # --- scalable targets ------------------------------------------------------------------

    def register_scalable_target(self, p: dict, region: str) -> dict:
        endpoint, variant = self._resource(p, region)
        name = _key(p)
        old = self.store.get(TARGET, name)
        if old is None:
            for field in ("MinCapacity", "MaxCapacity"):
                if field not in p:
                    raise invalid(f"{field} is required when registering a new scalable target.")
        record = dict(old or {})
        record.update({k: v for k, v in p.items() if k != "Tags"})
        if record["MinCapacity"] > record["MaxCapacity"]:
            raise invalid(
                f"Minimum capacity ({record['MinCapacity']}) cannot be greater than maximum "
                f"capacity ({record['MaxCapacity']})."
            )
        if record["MinCapacity"] < 1:
            raise invalid("A SageMaker variant's MinCapacity must be at least 1.")
        record.setdefault("CreationTime", self.clock.now())
        record.setdefault(
            "RoleARN",
            f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/sagemaker.application-autoscaling."
            "amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
        )
        record.setdefault(
            "ScalableTargetARN",
            f"arn:aws:application-autoscaling:{region}:{ACCOUNT}:scalable-target/"
            f"{uuid.uuid4().hex}",
        )
        record.update(_Endpoint=endpoint, _Variant=variant)
        self.store.put(TARGET, name, record, record["CreationTime"])
        return {"ScalableTargetARN": record["ScalableTargetARN"]}

    def describe_scalable_targets(self, p: dict, region: str) -> dict:
        found = [
            _public(r)
            for r in self.store.all(TARGET)
            if r["ServiceNamespace"] == p["ServiceNamespace"]
            and (not p.get("ResourceIds") or r["ResourceId"] in p["ResourceIds"])
            and p.get("ScalableDimension") in (None, r["ScalableDimension"])
        ]
        return {"ScalableTargets": found}

    def deregister_scalable_target(self, p: dict, region: str) -> None:
        name = _key(p)
        if self.store.get(TARGET, name) is None:
            raise missing(
                f"No scalable target registered for service namespace: {p['ServiceNamespace']}, "
                f"resource ID: {p['ResourceId']}, scalable dimension: {p['ScalableDimension']}"
            )
        for policy in self.store.all(POLICY, name + "|"):  # its policies go with it, as on AWS
            self.store.delete(POLICY, f"{name}|{policy['PolicyName']}")
        self.store.delete(TARGET, name)

    # --- scaling policies ------------------------------------------------------------------

    def put_scaling_policy(self, p: dict, region: str) -> dict:
        self._resource(p, region)
        target = self.store.get(TARGET, _key(p))
        if target is None:
            raise missing(
                f"No scalable target registered for service namespace: {p['ServiceNamespace']}, "
                f"resource ID: {p['ResourceId']}, scalable dimension: {p['ScalableDimension']}"
            )
        if p.get("PolicyType", "StepScaling") != "TargetTrackingScaling":
            raise invalid(
                f"PolicyType {p.get('PolicyType', 'StepScaling')} is not emulated locally: use "
                f"TargetTrackingScaling with the predefined metric {METRIC}."
            )
        config = p.get("TargetTrackingScalingPolicyConfiguration")
        if not config:
            raise invalid("TargetTrackingScalingPolicyConfiguration is required.")
        metric = (config.get("PredefinedMetricSpecification") or {}).get("PredefinedMetricType")
        if metric != METRIC:
            raise invalid(
                f"The local emulator tracks the predefined metric {METRIC} only, not "
                f"{metric or 'a customized metric'}."
            )
        if config["TargetValue"] <= 0:
            raise invalid("TargetValue must be greater than 0.")
        name = f"{_key(p)}|{p['PolicyName']}"
        old = self.store.get(POLICY, name)
        record = dict(p, Alarms=[], CreationTime=(old or {}).get("CreationTime", self.clock.now()))
        record["PolicyARN"] = (old or {}).get("PolicyARN") or (
            f"arn:aws:autoscaling:{region}:{ACCOUNT}:scalingPolicy:"
            f"{uuid.uuid4()}:resource/{NAMESPACE}/{p['ResourceId']}:"
            f"policyName/{p['PolicyName']}"
        )
        self.store.put(POLICY, name, record, record["CreationTime"])
        return {"PolicyARN": record["PolicyARN"], "Alarms": []}

    def describe_scaling_policies(self, p: dict, region: str) -> dict:
        found = [
            _public(r)
            for r in self.store.all(POLICY)
            if r["ServiceNamespace"] == p["ServiceNamespace"]
            and p.get("ResourceId") in (None, r["ResourceId"])
            and p.get("ScalableDimension") in (None, r["ScalableDimension"])
            and (not p.get("PolicyNames") or r["PolicyName"] in p["PolicyNames"])
        ]
        return {"ScalingPolicies": found}

    def delete_scaling_policy(self, p: dict, region: str) -> None:
        if not self.store.delete(POLICY, f"{_key(p)}|{p['PolicyName']}"):
            raise missing(
                f"No scaling policy found for service namespace: {p['ServiceNamespace']}, "
                f"resource ID: {p['ResourceId']}, scalable dimension: {p['ScalableDimension']}, "
                f"policy name: {p['PolicyName']}"
            )

    # --- the scheduler's part --------------------------------------------------------------

    def evaluate(self) -> list[tuple[str, str, int, int]]:
        """Scale every variant a policy tracks; (endpoint, variant, before, after) of each."""
        now = self.clock.now()
        minute = math.floor(now / 60) * 60 - 60  # the last whole minute
        changes = []
        for target in self.store.all(TARGET):
            if (target.get("SuspendedState") or {}).get("DynamicScalingInSuspended") and (
                target.get("SuspendedState") or {}
            ).get("DynamicScalingOutSuspended"):
                continue
            policies = self.store.all(POLICY, _key(target) + "|")
            try:
                change = self._track(target, policies, now, minute)
            except Exception as exc:  # an endpoint deleted or failing: this target, this tick
                log.warning("autoscaling %s: %s", target["ResourceId"], exc)
                continue
            if change is not None:
                changes.append(change)
        return changes

    def _track(
        self, target: dict, policies: list[dict], now: float, minute: int
    ) -> tuple[str, str, int, int] | None:
        endpoint, variant = target["_Endpoint"], target["_Variant"]
        current = self.endpoints.instance_count(endpoint, variant)
        if current is None:
            return None
        low, high = int(target["MinCapacity"]), int(target["MaxCapacity"])
        suspended = target.get("SuspendedState") or {}
        desired = min(max(current, low), high)  # a new range applies at once
        reason = "capacity range"
        if desired == current and policies:
            key = MetricKey.of(
                SAGEMAKER,
                "InvocationsPerInstance",
                [
                    {"Name": "EndpointName", "Value": endpoint},
                    {"Name": "VariantName", "Value": variant},
                ],
            )
            bucket = self.metrics.statistics(key, minute, minute + 60, 60).get(minute)
            per_instance = bucket.total if bucket is not None else 0.0
            wanted = [
                (
                    math.ceil(
                        current
                        * per_instance
                        / p["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]
                    ),
                    p,
                )
                for p in policies
            ]
            # Several policies: the one asking for the most capacity wins, as on AWS.
            best, policy = max(wanted, key=lambda w: w[0])
            config = policy["TargetTrackingScalingPolicyConfiguration"]
            best = min(max(best, low), high)
            if best > current and not suspended.get("DynamicScalingOutSuspended"):
                cooldown = config.get("ScaleOutCooldown", DEFAULT_COOLDOWN)
                if now - target.get("_LastScaleOut", -math.inf) >= cooldown:
                    desired = best
            elif best < current and not config.get("DisableScaleIn"):
                cooldown = config.get("ScaleInCooldown", DEFAULT_COOLDOWN)
                last = max(
                    target.get("_LastScaleOut", -math.inf), target.get("_LastScaleIn", -math.inf)
                )
                if not suspended.get("DynamicScalingInSuspended") and now - last >= cooldown:
                    desired = best
            reason = (
                f"InvocationsPerInstance {per_instance:g} against target {config['TargetValue']:g}"
            )
        if desired == current:
            return None
        log.info("scaling %s/%s from %d to %d (%s)", endpoint, variant, current, desired, reason)
        self.endpoints.scale_variant(endpoint, variant, desired)
        with self.store.lock:
            record = self.store.get(TARGET, _key(target))
            if record is not None:
                record["_LastScaleOut" if desired > current else "_LastScaleIn"] = now
                self.store.put(TARGET, _key(target), record, record["CreationTime"])
        return endpoint, variant, current, desired

    def _resource(self, p: dict, region: str) -> tuple[str, str]:
        if p["ServiceNamespace"] != NAMESPACE:
            raise invalid(
                f"The local emulator scales SageMaker endpoint variants only (ServiceNamespace "
                f"{NAMESPACE}), not {p['ServiceNamespace']}."
            )
        if p["ScalableDimension"] != DIMENSION:
            raise invalid(
                f"Unsupported scalable dimension {p['ScalableDimension']} for service namespace "
                f"{NAMESPACE}: use {DIMENSION}."
            )
        found = _RESOURCE.fullmatch(p["ResourceId"])
        if found is None:
            raise invalid(
                f"Unsupported resource ID {p['ResourceId']}: a SageMaker variant is "
                "endpoint/<EndpointName>/variant/<VariantName>."
            )
        if self.endpoints.instance_count(found["endpoint"], found["variant"]) is None:
            raise invalid(
                f"The target variant {found['variant']} of endpoint {found['endpoint']} does "
                "not exist or is not in service."
            )
        return found["endpoint"], found["variant"]


def _key(p: dict) -> str:
    return f"{p['ServiceNamespace']}|{p['ResourceId']}|{p['ScalableDimension']}"


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}
