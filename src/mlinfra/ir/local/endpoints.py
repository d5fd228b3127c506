"""Endpoints: an endpoint in the emulator and its configuration.

The emulator serves each endpoint from its own worker processes, one per instance, and
writes captured requests as JSON Lines in SageMaker's capture format under
`.mlinfra/emulator/capture/<endpoint>/` beside the spec. The SLO's alarms are made in the
emulator's CloudWatch, notifying the spec's alert targets (`slo.alert`), and the autoscaling
in its Application Auto Scaling, from the same requests the SageMaker target renders
(`ir.requests.slo`, `ir.requests.autoscaling`). A changed configuration reaches the endpoint
as the spec's `deployment` says: blue/green with canary or linear traffic shifting, rolled
back by the alarms `rollback_on` names (the emulator carries it out; its clock may be sped up,
see README).
"""

from __future__ import annotations

import json

from mlinfra.ir.graph import Ref, Resource, content_hash
from mlinfra.ir.local.api import (
    ENDPOINT,
    ENDPOINT_CONFIG,
    METRIC_ALARM,
    SCALABLE_TARGET,
    SCALING_POLICY,
)
from mlinfra.ir.local.models import model_name, registry_lookup
from mlinfra.ir.requests import autoscaling as scaled
from mlinfra.ir.requests import slo
from mlinfra.ir.requests.endpoints import create_endpoint, create_endpoint_config, endpoint_name
from mlinfra.ir.requests.tags import tags
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.models import VERSION_SUFFIX_LENGTH, served_version, with_version
from mlinfra.naming import fit
from mlinfra.sagemaker.arns import EXAMPLE_ACCOUNT, partition
from mlinfra.sagemaker.names import name_rule
from mlinfra.spec.model import Endpoint

CAPTURE_FOLDER = ".mlinfra/emulator/capture"
# The alarm tag whose JSON list of the spec's alert targets the emulator's CloudWatch notifies
# (its `TARGETS_TAG`) when the alarm changes state.
ALERT_TARGETS_TAG = "mlinfra:alert-targets"


def lower_endpoint(ctx: LoweringContext, component: Endpoint) -> list[Resource]:
    config = endpoint_config(ctx, component)
    alarms = slo_alarms(ctx, component)
    request = create_endpoint(ctx, component, config.address)
    # A Ref names each alarm, so the alarm exists before a deployment can need it.
    names = {kind: Ref(alarm.address, "name") for kind, alarm in alarms.items()}
    deployment = slo.deployment_config(component, names)
    if deployment is not None:
        request["DeploymentConfig"] = deployment
    endpoint = ctx.resource(component.address, ENDPOINT, request, component.key_range)
    return [config, *alarms.values(), endpoint, *autoscaling(ctx, component)]


def slo_alarms(ctx: LoweringContext, component: Endpoint) -> dict[str, Resource]:
    """The SLO's alarms in the emulator's CloudWatch, by the names `rollback_on` uses."""
    alert = component.slo.alert
    extra: dict = {}
    if alert:
        topics = [t.split(":", 1)[1] for t in alert if t.startswith("sns:")]
        # The emulator has no SNS: an action stands for the topic the SageMaker target makes,
        # and the alarm's tag carries the targets it notifies itself.
        own = f"arn:{partition(ctx.spec.region)}:sns:{ctx.spec.region}:{EXAMPLE_ACCOUNT}:" + (
            f"{endpoint_name(ctx, component)}-alerts"
        )
        others = [t for t in alert if not t.startswith("sns:")]
        extra["AlarmActions"] = ([own] if others else []) + topics
    alarm_tags = tags(ctx, component)
    if alert:
        alarm_tags = [*alarm_tags, {"Key": ALERT_TARGETS_TAG, "Value": json.dumps(list(alert))}]
    return slo.alarm_resources(
        ctx, component, METRIC_ALARM, lambda request: {**request, **extra, "Tags": alarm_tags}
    )


def autoscaling(ctx: LoweringContext, component: Endpoint) -> list[Resource]:
    """The variant's scalable target and target tracking policy in the emulator."""
    scaling = component.autoscaling
    if scaling is None:
        return []
    source = component.range_of("autoscaling")
    address = f"{component.address}/{scaled.TARGET}"
    request = scaled.scalable_target(scaling, scaled.variant_resource_id(component))
    target = ctx.resource(address, SCALABLE_TARGET, request, source)
    policy = ctx.resource(
        f"{component.address}/{scaled.POLICY}",
        SCALING_POLICY,
        scaled.scaling_policy(ctx, component, scaling, Ref(address, "ResourceId")),
        source,
    )
    return [target, policy]


def endpoint_config(ctx: LoweringContext, component: Endpoint) -> Resource:
    model = ctx.spec.models[component.model]
    capture = f"file:{CAPTURE_FOLDER}/{endpoint_name(ctx, component)}"
    request = create_endpoint_config(ctx, component, capture)
    # Immutable, so named by a hash of its content and of its model's name (itself a hash
    # of the model's content, plus the version it serves once that is known).
    model_named = model_name(ctx, model)
    base = ctx.name(component, "endpoint_config")
    version = served_version(ctx, model, registry_lookup)
    if version is not None:
        base = fit(base, name_rule("endpoint_config").max_length - 9 - VERSION_SUFFIX_LENGTH)
    name = with_version(
        ctx,
        model,
        f"{base}-{content_hash({'request': request, 'model': model_named})}",
        registry_lookup,
    )
    return ctx.resource(
        f"{component.address}/config",
        ENDPOINT_CONFIG,
        {"EndpointConfigName": name, **request},
        component.range_of("instance_type"),
        replace_on_change=True,
    )
