"""Model rules: how a model's containers reach the network, who approves its versions, and
whether anything retrains it.

A model's versions come from its registry group, registered by the `register_model` steps
of pipelines; those steps carry the approval status the spec's `approval` lowers to, so the
rules read the pipelines' definitions in the IR rather than trusting the spec alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mlinfra.ir.addresses import Address
from mlinfra.ir.graph import Call, Ref, Resource
from mlinfra.policy.model import AuditContext, Finding, References, rule
from mlinfra.policy.rule_ids import RuleId
from mlinfra.policy.rules.endpoints import PIPELINE, nested, pipeline_steps
from mlinfra.policy.severity import Severity
from mlinfra.spec.model import Model

MODEL = "aws.sagemaker.Model"
REGISTRY = "aws.sagemaker.ModelPackageGroup"
EVENT_TARGET = "aws.cloudwatch.EventTarget"
# The runtime helper a model serving `version: latest-approved` resolves its package with.
LATEST_APPROVED_PACKAGE = "latest_approved_model_package"


def _model_name(model: Resource) -> str:
    return model.addr.name


# --- network ----------------------------------------------------------------------------------


@rule(
    RuleId.MODEL_NETWORK_ISOLATION,
    title="Model containers run without network access",
    severity=Severity.MEDIUM,
    packs=("sagemaker-security",),
    resource_types=(MODEL,),
    rationale=(
        "A serving container with network access can send the requests it scores, or the "
        "credentials SageMaker gives it, anywhere on the internet. With network isolation it "
        "can make no outbound calls at all and gets no AWS credentials."
    ),
    remediation=(
        "Set `security.network_isolation: true` for the environment (under "
        "`environments.<env>.security` or `defaults.security`)."
    ),
    references=References(
        checkov=("CKV_AWS_370",),
        aws_config=("sagemaker-model-isolation-enabled",),
        security_hub=("SageMaker.5",),
    ),
)
def model_network_isolation(model: Resource, ctx: AuditContext) -> Iterator[Finding]:
    if model.properties.get("enable_network_isolation") is True:
        return
    yield ctx.finding(
        model_network_isolation,
        model,
        f"model {_model_name(model)} runs with network access in {ctx.spec.env}: its container "
        "can send what it scores anywhere",
        ctx.setting_at("security", "network_isolation"),
    )


@rule(
    RuleId.MODEL_IN_VPC,
    title="Models run in your VPC",
    severity=Severity.MEDIUM,
    packs=("sagemaker-security",),
    resource_types=(MODEL,),
    rationale=(
        "Without a VPC configuration a model's containers use SageMaker's own network: their "
        "traffic to your data bypasses your security groups, VPC endpoints and flow logs."
    ),
    remediation=(
        "Set `security.vpc: {subnets: [...], security_groups: [...]}` for the environment "
        "(under `environments.<env>.security` or `defaults.security`)."
    ),
    references=References(aws_config=("sagemaker-model-in-vpc",)),
)
def model_in_vpc(model: Resource, ctx: AuditContext) -> Iterator[Finding]:
    if nested(model.properties, "vpc_config", "subnets"):
        return
    yield ctx.finding(
        model_in_vpc,
        model,
        f"model {_model_name(model)} runs outside your VPC in {ctx.spec.env}: its traffic "
        "bypasses your security groups",
        ctx.setting_at("security", "vpc"),
    )


# --- the registry -----------------------------------------------------------------------------


def _registry(ctx: AuditContext, model: Resource) -> Resource | None:
    """The registry group a model's versions are registered in (models may share one)."""
    component = ctx.component_of(model)
    group = component.registry_group if isinstance(component, Model) else None
    if not group:
        return None
    if "registries" not in ctx.memo:  # every registry read once per audit, the first kept
        by_group: dict[str, Resource] = {}
        for registry in ctx.of_type(REGISTRY):
            owner = ctx.component_of(registry)
            if isinstance(owner, Model) and owner.registry_group:
                by_group.setdefault(owner.registry_group, registry)
        ctx.memo["registries"] = by_group
    return ctx.memo["registries"].get(group)


def _registrations(ctx: AuditContext, registry: Resource) -> list[tuple[Resource, Mapping]]:
    """(pipeline, register step) for every step that registers versions into `registry`."""
    name = registry.properties.get("model_package_group_name")
    if "model-registrations" not in ctx.memo:  # every pipeline read once per audit
        by_group: dict[Any, list[tuple[Resource, Mapping]]] = {}
        for pipeline in ctx.of_type(PIPELINE):
            for step in pipeline_steps(pipeline):
                if step.get("Type") == "RegisterModel":
                    group = nested(step, "Arguments", "ModelPackageGroupName")
                    by_group.setdefault(group, []).append((pipeline, step))
        ctx.memo["model-registrations"] = by_group
    return list(ctx.memo["model-registrations"].get(name, ()))


def _serves_latest_approved(model: Resource) -> bool:
    """Whether the model serves whichever registered version was approved last."""
    package = nested(model.properties, "primary_container", "model_package_name")
    return isinstance(package, Call) and package.function == LATEST_APPROVED_PACKAGE


@rule(
    RuleId.MODEL_MANUAL_APPROVAL,
    title="Production model versions are approved by a person before they serve",
    severity=Severity.HIGH,
    packs=("sagemaker-security", "prod-readiness"),
    resource_types=(MODEL,),
    rationale=(
        "With automatic approval every version a pipeline registers is the latest approved "
        "one, and production endpoints serving `latest-approved` pick it up: a bad training "
        "run, or poisoned data, reaches production without anyone looking at it. Models that "
        "serve a fixed artifact or a pinned `version` are chosen in the spec, not by approval: "
        "they pass."
    ),
    remediation=(
        "Set `approval: manual` on the model (it is the default: remove `approval: auto` from "
        "the prod override), and approve versions in the model registry."
    ),
)
def model_manual_approval(model: Resource, ctx: AuditContext) -> Iterator[Finding]:
    if not ctx.is_prod:
        return
    registry = _registry(ctx, model)
    if registry is None or not _serves_latest_approved(model):
        return
    component = ctx.component_of(model)
    approved = sorted(
        {
            pipeline.addr.name
            for pipeline, step in _registrations(ctx, registry)
            if nested(step, "Arguments", "ModelApprovalStatus") == "Approved"
        }
    )
    if component.approval != "auto" and not approved:
        return
    by = f"pipeline {', '.join(approved)}" if approved else "any pipeline"
    yield ctx.finding(
        model_manual_approval,
        model,
        f"model {_model_name(model)} approves new versions automatically in {ctx.spec.env}: "
        f"a version registered by {by} serves traffic without anyone reviewing it",
        ctx.at(component, "approval"),
    )


# --- retraining -------------------------------------------------------------------------------


def _started_by(ctx: AuditContext, pipeline: Resource) -> list[Resource]:
    """The EventBridge rules that start a pipeline: its schedule, monitors' retraining."""
    started = []
    for target in ctx.referring_to(pipeline.address, EVENT_TARGET):
        if target.properties.get("arn") != Ref(pipeline.address, "arn"):
            continue
        trigger = target.properties.get("rule")
        found = ctx.resource(trigger.address) if isinstance(trigger, Ref) else None
        if found is not None and (
            found.properties.get("schedule_expression") or found.properties.get("event_pattern")
        ):
            started.append(found)
    return started


@rule(
    RuleId.MODEL_SCHEDULED_RETRAINING,
    title="Production models are retrained on a schedule or when their monitor finds drift",
    severity=Severity.LOW,
    packs=("prod-readiness",),
    resource_types=(MODEL,),
    rationale=(
        "The world a model was trained on moves on. A production model should be registered "
        "by a pipeline that runs by itself: on a `schedule`, or started by a monitor's "
        "`on_violation.retrain` when the traffic drifts. A fixed artifact, or a pipeline that "
        "only runs when someone starts it, goes stale unnoticed."
    ),
    remediation=(
        "Register the model from a pipeline (`type: register_model` step, the model with a "
        "`registry_group`) and give that pipeline a `schedule`, or name it in a monitor's "
        "`on_violation.retrain`."
    ),
)
def model_scheduled_retraining(model: Resource, ctx: AuditContext) -> Iterator[Finding]:
    if not ctx.is_prod:
        return
    component = ctx.component_of(model)
    name = _model_name(model)
    registry = _registry(ctx, model)
    if registry is None:
        yield ctx.finding(
            model_scheduled_retraining,
            model,
            f"model {name} serves a fixed artifact in {ctx.spec.env}: nothing retrains it",
            ctx.at(component, "artifact"),
        )
        return
    pipelines = {p.address: p for p, _ in _registrations(ctx, registry)}
    if not pipelines:
        yield ctx.finding(
            model_scheduled_retraining,
            model,
            f"no pipeline registers new versions of model {name} in {ctx.spec.env}: nothing "
            "retrains it",
            ctx.at(component, "registry_group"),
        )
        return
    if any(_started_by(ctx, p) for p in pipelines.values()):
        return
    first = next(iter(pipelines.values()))
    names = ", ".join(Address.parse(a).name for a in pipelines)
    yield ctx.finding(
        model_scheduled_retraining,
        model,
        f"model {name} is retrained only when someone starts pipeline {names}: it has no "
        "schedule and no monitor retrains it",
        ctx.component_of(first).key_range,
    )
