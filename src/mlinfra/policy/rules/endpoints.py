"""Endpoint rules: encryption, data capture, capacity, safe deployments, monitoring, and the
instance types every SageMaker resource may run on.

Each rule reads the endpoint's resources as lowered for one environment (the configuration,
the endpoint, its scaling target), so an override in `environments.<env>.overrides` is what
is judged, and the finding points at the line that set the value.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from typing import Any

from mlinfra.ir.graph import Args, Json, Resource
from mlinfra.ir.sagemaker.endpoints import has_instance_storage
from mlinfra.policy.model import AuditContext, Finding, References, rule
from mlinfra.policy.rule_ids import RuleId
from mlinfra.policy.severity import Severity

ENDPOINT_CONFIG = "aws.sagemaker.EndpointConfiguration"
ENDPOINT = "aws.sagemaker.Endpoint"
SCALING_TARGET = "aws.appautoscaling.Target"
SCALING_POLICY = "aws.appautoscaling.Policy"
MONITOR_JOB = "aws.sagemaker.DataQualityJobDefinition"
MONITOR_SCHEDULE = "aws.sagemaker.MonitoringSchedule"
PIPELINE = "aws.sagemaker.Pipeline"
EVENT_TARGET = "aws.cloudwatch.EventTarget"
# SageMaker's traffic routing types that expose a new version to part of the traffic first.
GRADUAL_ROUTING = ("CANARY", "LINEAR")
MIN_PROD_INSTANCES = 2


# --- reading IR values ------------------------------------------------------------------------


def nested(value: Any, *path: str | int) -> Any:
    """The value at `path` inside properties, `Args` and `Json` markers, or None."""
    for part in path:
        if isinstance(value, Args):
            value = value.fields
        elif isinstance(value, Json):
            value = value.value
        if isinstance(value, Mapping) and isinstance(part, str):
            value = value.get(part)
        elif isinstance(value, tuple | list) and isinstance(part, int) and part < len(value):
            value = value[part]
        else:
            return None
    return value


def pipeline_steps(pipeline: Resource) -> Iterator[Mapping]:
    """Every step of a pipeline's definition, those inside condition steps too."""
    pending = list(nested(pipeline.properties, "pipeline_definition", "Steps") or ())
    while pending:
        step = pending.pop(0)
        if not isinstance(step, Mapping):
            continue
        yield step
        arguments = step.get("Arguments") or {}
        pending.extend(arguments.get("IfSteps") or ())
        pending.extend(arguments.get("ElseSteps") or ())


def _variants(config: Resource) -> tuple[Any, ...]:
    return tuple(config.properties.get("production_variants") or ())


def _endpoint_name(resource: Resource) -> str:
    return resource.addr.name


def _routing(endpoint: Resource) -> str | None:
    return nested(
        endpoint.properties,
        "deployment_config",
        "blue_green_update_policy",
        "traffic_routing_configuration",
        "type",
    )


def _scaling_targets(ctx: AuditContext, config: Resource) -> tuple[Resource, ...]:
    """The scaling targets of the endpoints that serve configuration `config`."""
    return tuple(
        target
        for endpoint in ctx.referring_to(config.address, ENDPOINT)
        for target in ctx.referring_to(endpoint.address, SCALING_TARGET)
    )


# --- encryption -------------------------------------------------------------------------------


@rule(
    RuleId.ENDPOINT_KMS_KEY,
    title="Endpoints encrypt their storage volumes with a KMS key of yours",
    severity=Severity.HIGH,
    packs=("baseline", "sagemaker-security"),
    resource_types=(ENDPOINT_CONFIG,),
    rationale=(
        "An endpoint's instances keep the model and the requests they work on on ML storage "
        "volumes. Without a customer-managed KMS key they are encrypted with an AWS-managed "
        "key that no key policy of yours controls, and key use is not auditable per key. "
        "Instance types with NVMe instance storage (g5, p4d, m5d...) are encrypted by the "
        "hardware and take no key: they pass."
    ),
    remediation=(
        "Set `security.kms_key: create` (or the ARN of an existing key) for the environment "
        "under `environments.<env>.security`, or for all of them under `defaults.security`."
    ),
    references=References(
        checkov=("CKV_AWS_98",),
        aws_config=(
            "sagemaker-endpoint-configuration-kms-key-configured",
            "sagemaker-endpoint-config-kms-key-required",
        ),
    ),
)
def endpoint_kms_key(config: Resource, ctx: AuditContext) -> Iterator[Finding]:
    if config.properties.get("kms_key_arn"):
        return
    types = [nested(v, "instance_type") for v in _variants(config)]
    if types and all(isinstance(t, str) and has_instance_storage(t) for t in types):
        return
    yield ctx.finding(
        endpoint_kms_key,
        config,
        f"endpoint {_endpoint_name(config)} keeps its model and requests on volumes encrypted "
        f"with an AWS-managed key: environment {ctx.spec.base or ctx.spec.env} sets no KMS key",
        ctx.setting_at("security", "kms_key"),
    )


# --- data capture -----------------------------------------------------------------------------


def _capture(config: Resource) -> Any:
    capture = config.properties.get("data_capture_config")
    return capture if nested(capture, "enable_capture") else None


@rule(
    RuleId.ENDPOINT_DATA_CAPTURE,
    title="Production endpoints capture the requests they serve",
    severity=Severity.MEDIUM,
    packs=("prod-readiness",),
    resource_types=(ENDPOINT_CONFIG,),
    rationale=(
        "Captured requests and responses are what model monitors compare with the baseline, "
        "and the record of what a model was asked and answered when something goes wrong. "
        "A production endpoint that captures nothing drifts unseen."
    ),
    remediation=(
        "Add `data_capture:` to the endpoint (e.g. `data_capture: {sampling_percent: 20}`), or "
        "remove `data_capture.enabled: false` from its prod override; a sampling_percent of 0 "
        "captures nothing."
    ),
)
def endpoint_data_capture(config: Resource, ctx: AuditContext) -> Iterator[Finding]:
    if not ctx.is_prod:
        return
    component = ctx.component_of(config)
    name = _endpoint_name(config)
    capture = _capture(config)
    if capture is None:
        yield ctx.finding(
            endpoint_data_capture,
            config,
            f"endpoint {name} captures no requests in {ctx.spec.env}: its monitors have nothing "
            "to compare with the baseline",
            ctx.at(component, "data_capture", "enabled"),
        )
    elif not nested(capture, "initial_sampling_percentage"):
        yield ctx.finding(
            endpoint_data_capture,
            config,
            f"endpoint {name} samples 0% of its requests in {ctx.spec.env}: nothing is captured",
            ctx.at(component, "data_capture", "sampling_percent"),
        )


@rule(
    RuleId.ENDPOINT_DATA_CAPTURE_ENCRYPTED,
    title="Captured endpoint data is encrypted with a KMS key of yours",
    severity=Severity.HIGH,
    packs=("sagemaker-security",),
    resource_types=(ENDPOINT_CONFIG,),
    rationale=(
        "Data capture writes the raw requests and responses of an endpoint to S3: customer "
        "records, features and predictions, the most sensitive data mlinfra stores (hence "
        "high). Without a KMS key on the capture they are written under the bucket's default "
        "encryption, outside the control of a key policy of yours."
    ),
    remediation=(
        "Set `security.kms_key: create` (or a key ARN) for the environment: mlinfra then "
        "encrypts every endpoint's captured data with it."
    ),
)
def endpoint_data_capture_encrypted(config: Resource, ctx: AuditContext) -> Iterator[Finding]:
    capture = _capture(config)
    if capture is None or nested(capture, "kms_key_id"):
        return
    yield ctx.finding(
        endpoint_data_capture_encrypted,
        config,
        f"endpoint {_endpoint_name(config)} writes the requests it captures to S3 without a KMS "
        f"key: environment {ctx.spec.base or ctx.spec.env} sets none",
        ctx.setting_at("security", "kms_key"),
    )


# --- capacity ---------------------------------------------------------------------------------


@rule(
    RuleId.ENDPOINT_MIN_INSTANCES,
    title="Production endpoints run on at least two instances",
    severity=Severity.MEDIUM,
    packs=("prod-readiness",),
    resource_types=(ENDPOINT_CONFIG,),
    rationale=(
        "With two or more instances SageMaker spreads an endpoint over Availability Zones, "
        "so it keeps serving through an instance failure, a zone outage or instance "
        "maintenance. A single instance is a single point of failure; so is autoscaling that "
        "may scale in to one."
    ),
    remediation=(
        "Set `instance_count: 2` (or more) on the endpoint in the prod override, and "
        "`autoscaling.min: 2` if it autoscales."
    ),
    references=References(
        aws_config=("sagemaker-endpoint-config-prod-instance-count",),
        security_hub=("SageMaker.4",),
    ),
)
def endpoint_min_instances(config: Resource, ctx: AuditContext) -> Iterator[Finding]:
    if not ctx.is_prod:
        return
    component = ctx.component_of(config)
    name = _endpoint_name(config)
    counts = [nested(v, "initial_instance_count") for v in _variants(config)]
    fewest = min((c for c in counts if isinstance(c, int)), default=1)
    if fewest < MIN_PROD_INSTANCES:
        yield ctx.finding(
            endpoint_min_instances,
            config,
            f"endpoint {name} runs {fewest} instance in {ctx.spec.env}; at least "
            f"{MIN_PROD_INSTANCES} keep it up through an instance failure",
            ctx.at(component, "instance_count"),
        )
        return
    for target in _scaling_targets(ctx, config):
        low = target.properties.get("min_capacity")
        if isinstance(low, int) and low < MIN_PROD_INSTANCES:
            yield ctx.finding(
                endpoint_min_instances,
                config,
                f"endpoint {name} may scale in to {low} instance in {ctx.spec.env} "
                f"(autoscaling.min: {low}); at least {MIN_PROD_INSTANCES} keep it up through "
                "an instance failure",
                ctx.at(component, "autoscaling", "min"),
            )
            return


@rule(
    RuleId.ENDPOINT_AUTOSCALING,
    title="Production endpoints scale with their traffic",
    severity=Severity.LOW,
    packs=("prod-readiness",),
    resource_types=(ENDPOINT,),
    rationale=(
        "An endpoint with a fixed number of instances throttles or times out requests when "
        "traffic outgrows it, and pays for idle instances when traffic falls. Autoscaling on "
        "invocations per instance follows the load within the bounds you set."
    ),
    remediation=(
        "Add `autoscaling: {min: 2, max: 8}` to the endpoint (in the prod override), with max "
        "above min."
    ),
)
def endpoint_autoscaling(endpoint: Resource, ctx: AuditContext) -> Iterator[Finding]:
    if not ctx.is_prod:
        return
    component = ctx.component_of(endpoint)
    name = _endpoint_name(endpoint)
    targets = ctx.referring_to(endpoint.address, SCALING_TARGET)
    scaled = [t for t in targets if ctx.referring_to(t.address, SCALING_POLICY)]
    if not scaled:
        yield ctx.finding(
            endpoint_autoscaling,
            endpoint,
            f"endpoint {name} runs a fixed number of instances in {ctx.spec.env}: traffic "
            "beyond what they serve is throttled",
            ctx.at(component, "autoscaling"),
        )
        return
    for target in scaled:
        low, high = target.properties.get("min_capacity"), target.properties.get("max_capacity")
        if isinstance(low, int) and isinstance(high, int) and high <= low:
            yield ctx.finding(
                endpoint_autoscaling,
                endpoint,
                f"endpoint {name} autoscales between {low} and {high} instances in "
                f"{ctx.spec.env}: it never scales out",
                ctx.at(component, "autoscaling", "max"),
            )
            return


# --- deployments ------------------------------------------------------------------------------


@rule(
    RuleId.ENDPOINT_SAFE_DEPLOYMENT,
    title="Production endpoints roll out new versions gradually (canary or linear)",
    severity=Severity.MEDIUM,
    packs=("prod-readiness",),
    resource_types=(ENDPOINT,),
    rationale=(
        "An all-at-once deployment sends every request to a new model version the moment it "
        "is live; a bad version fails all traffic until someone notices. A canary or linear "
        "blue/green deployment exposes a slice of traffic first and can stop there."
    ),
    remediation=(
        "Set `deployment: {strategy: canary, canary_percent: 10, wait_minutes: 10, "
        "rollback_on: [latency, errors]}` on the endpoint (or `strategy: linear`)."
    ),
)
def endpoint_safe_deployment(endpoint: Resource, ctx: AuditContext) -> Iterator[Finding]:
    if not ctx.is_prod or _routing(endpoint) in GRADUAL_ROUTING:
        return
    yield ctx.finding(
        endpoint_safe_deployment,
        endpoint,
        f"endpoint {_endpoint_name(endpoint)} switches all its traffic to a new model version "
        f"at once in {ctx.spec.env}; a canary or linear rollout tries it on a slice first",
        ctx.at(ctx.component_of(endpoint), "deployment", "strategy"),
    )


@rule(
    RuleId.ENDPOINT_ROLLBACK_ALARMS,
    title="Canary and linear deployments roll back automatically on alarms",
    severity=Severity.MEDIUM,
    packs=("prod-readiness",),
    resource_types=(ENDPOINT,),
    rationale=(
        "A gradual rollout only protects traffic if something stops it: without auto-rollback "
        "alarms SageMaker shifts all traffic to the new version after the wait, however badly "
        "the canary did."
    ),
    remediation=(
        "Set `deployment.rollback_on: [latency, errors]` on the endpoint, with the matching "
        "`slo.latency_p99_ms` and `slo.error_rate_percent`."
    ),
)
def endpoint_rollback_alarms(endpoint: Resource, ctx: AuditContext) -> Iterator[Finding]:
    routing = _routing(endpoint)
    if routing not in GRADUAL_ROUTING:
        return
    alarms = nested(endpoint.properties, "deployment_config", "auto_rollback_configuration")
    if nested(alarms, "alarms"):
        return
    yield ctx.finding(
        endpoint_rollback_alarms,
        endpoint,
        f"endpoint {_endpoint_name(endpoint)} rolls out {routing.lower()} but no alarm rolls it "
        "back: a failing version takes all the traffic after the wait",
        ctx.at(ctx.component_of(endpoint), "deployment", "rollback_on"),
    )


# --- monitoring -------------------------------------------------------------------------------


@rule(
    RuleId.ENDPOINT_MONITORED,
    title="Every production endpoint has a model monitor",
    severity=Severity.MEDIUM,
    packs=("prod-readiness",),
    resource_types=(ENDPOINT,),
    rationale=(
        "Models degrade silently as the data they are asked about drifts from what they were "
        "trained on. A scheduled monitor compares an endpoint's captured traffic with a "
        "baseline and reports violations before the predictions go wrong for long."
    ),
    remediation=(
        "Add a monitor under `monitors:` with `endpoint: <name>`, a `baseline` and "
        "`on_violation.alert` targets."
    ),
)
def endpoint_monitored(endpoint: Resource, ctx: AuditContext) -> Iterator[Finding]:
    if not ctx.is_prod:
        return
    jobs = ctx.referring_to(endpoint.address, MONITOR_JOB)
    if any(ctx.referring_to(job.address, MONITOR_SCHEDULE) for job in jobs):
        return
    # On mlinfra's engine: a monitor's pipeline reads the endpoint's capture, and a rule
    # starts it on its schedule.
    pipelines = [
        p
        for p in ctx.referring_to(endpoint.address, PIPELINE)
        if p.component.startswith("monitor.")
    ]
    if any(ctx.referring_to(p.address, EVENT_TARGET) for p in pipelines):
        return
    yield ctx.finding(
        endpoint_monitored,
        endpoint,
        f"no monitor watches endpoint {_endpoint_name(endpoint)} in {ctx.spec.env}: drift in "
        "its traffic goes unnoticed",
        ctx.component_of(endpoint).key_range,
    )


# --- instance types ---------------------------------------------------------------------------


def _allowed(instance_type: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(instance_type, pattern) for pattern in patterns)


def _instance_uses(resource: Resource) -> list[tuple[str, str, tuple[str | int, ...]]]:
    """(what runs, instance type, spec path of the type) for each instance a resource uses."""
    if resource.type == ENDPOINT_CONFIG:
        return [
            ("endpoint", nested(v, "instance_type"), ("instance_type",))
            for v in _variants(resource)
        ]
    if resource.type == MONITOR_JOB:
        found = nested(resource.properties, "job_resources", "cluster_config", "instance_type")
        return [("monitor", found, ("instance_type",))]
    if resource.component.startswith("monitor."):  # the monitor job's one-step pipeline
        return [
            ("monitor", found, ("instance_type",))
            for step in pipeline_steps(resource)
            if (
                found := nested(
                    step, "Arguments", "ProcessingResources", "ClusterConfig", "InstanceType"
                )
            )
        ]
    uses = []
    for step in pipeline_steps(resource):
        found = nested(step, "Arguments", "ProcessingResources", "ClusterConfig", "InstanceType")
        found = found or nested(step, "Arguments", "ResourceConfig", "InstanceType")
        if found:
            name = step.get("Name")
            uses.append((f"step {name}", found, ("steps", name, "instance_type")))
    return uses


@rule(
    RuleId.ENDPOINT_INSTANCE_ALLOWLIST,
    title="Endpoints, pipeline jobs and monitors use allowed instance types only",
    severity=Severity.MEDIUM,
    packs=("baseline",),
    resource_types=(ENDPOINT_CONFIG, MONITOR_JOB, PIPELINE),
    rationale=(
        "`policies.allowed_instance_types` is how a team bounds what its models may cost and "
        "which hardware (GPU families, accelerators) needs a second look. An instance type "
        "outside it is an unreviewed spend. Without an allowlist the rule passes."
    ),
    remediation=(
        "Use an instance type that matches one of `policies.allowed_instance_types` (globs "
        "such as `ml.m5.*`) in the endpoint, step or monitor, or add the type to the list."
    ),
)
def endpoint_instance_allowlist(resource: Resource, ctx: AuditContext) -> Iterator[Finding]:
    patterns = ctx.policies.allowed_instance_types
    if not patterns:
        return
    component = ctx.component_of(resource)
    kind, name = resource.addr.kind, resource.addr.name
    for what, found, path in _instance_uses(resource):
        if not isinstance(found, str) or _allowed(found, patterns):
            continue
        # A pipeline fails once per step, so each step's finding can be waived on its own.
        step = what if what.startswith("step ") else ""
        yield ctx.finding(
            endpoint_instance_allowlist,
            resource,
            f"{kind.replace('_', ' ')} {name} runs {f'{step} on ' if step else ''}{found}, "
            f"outside policies.allowed_instance_types ({', '.join(patterns)})",
            ctx.at(component, *path),
            subject=step,
        )
