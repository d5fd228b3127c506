"""Rules on the jobs SageMaker runs for a spec: the processing, training and transform steps
of each pipeline (read from its definition document; a batch job's pipeline among them), each
monitor's job on mlinfra's engine (the step of its one-step pipeline) and each Model Monitor
data-quality job.

A transform job runs its model's container as its model defines it: its network isolation
and VPC are the model's (`EnableNetworkIsolation`, `VpcConfig`), read from the model the step
names, and it has no inter-container encryption setting (its instances exchange nothing).

A pipeline's steps are jobs started at run time, not resources of their own: a finding on a
step is made on the pipeline's address and names the step. Every setting these rules judge
is environment-wide (`security:`), so findings point at that setting.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from mlinfra.ir.graph import Ref, Resource
from mlinfra.ir.sagemaker.endpoints import has_instance_storage
from mlinfra.ir.sagemaker.fields import request_of
from mlinfra.ir.sagemaker.pipeline_definition.document import all_steps
from mlinfra.monitoring import KMS_KEY_VARIABLE
from mlinfra.policy.model import AuditContext, Finding, References, Rule, rule
from mlinfra.policy.rule_ids import RuleId
from mlinfra.policy.severity import Severity
from mlinfra.policy.values import fields, json_document

PIPELINE = "aws.sagemaker.Pipeline"
DATA_QUALITY_JOB = "aws.sagemaker.DataQualityJobDefinition"
JOB_TYPES = (PIPELINE, DATA_QUALITY_JOB)


@dataclass(frozen=True)
class Job:
    """One job as these rules see it, whichever resource starts it."""

    name: str  # in the user's words: "step 'train'", "the monitoring job"
    instance_type: Any  # a pipeline may take these from its parameters ({"Get": ...})
    instance_count: Any
    volume_key: Any  # the volume KMS key, None without one
    output_key: Any  # the output KMS key, None without one
    encrypts_inter_container_traffic: bool
    network_isolation: bool
    in_vpc: bool = False
    # Why the job cannot be network-isolated (it calls AWS itself), or "" when it can.
    needs_network: str = ""
    # Whether the job has an inter-container encryption setting (a transform job has none).
    has_inter_container_setting: bool = True


# The monitor job reads S3 and publishes CloudWatch metrics itself.
MONITOR_JOB_NETWORK = "it reads captured requests from S3 and publishes CloudWatch metrics itself"


def is_monitor_pipeline(resource: Resource) -> bool:
    """The one-step pipeline of a monitor on mlinfra's engine."""
    return resource.type == PIPELINE and resource.component.startswith("monitor.")


def jobs(resource: Resource, ctx: AuditContext | None = None) -> Iterator[Job]:
    """The jobs `resource` runs: a pipeline's processing, training and transform steps (those
    inside conditions too), a monitor's job, or a data-quality job definition's job. `ctx`
    gives a transform step its model (without it, a transform step is judged isolated)."""
    if resource.type == PIPELINE:
        definition = resource.properties.get("pipeline_definition")
        document = json_document(definition)
        for step in all_steps(fields(document).get("Steps", ())):
            found = _step_job(step, ctx) if isinstance(step, Mapping) else None
            if found is not None and is_monitor_pipeline(resource):
                found = replace(found, name="the monitoring job", needs_network=MONITOR_JOB_NETWORK)
            if found is not None:
                yield found
    elif resource.type == DATA_QUALITY_JOB:
        yield _monitoring_job(resource.properties)


def _step_job(step: Mapping[str, Any], ctx: AuditContext | None) -> Job | None:
    arguments = fields(step.get("Arguments"))
    name = f"step {step.get('Name')!r}"
    if step.get("Type") == "Transform":
        return _transform_job(name, arguments, ctx)
    if step.get("Type") == "Processing":
        # A job that uploads its outputs itself (the monitor job) names their key in its
        # environment.
        own_key = fields(arguments.get("Environment")).get(KMS_KEY_VARIABLE)
        return _networked_job(
            name,
            fields(fields(arguments.get("ProcessingResources")).get("ClusterConfig")),
            fields(arguments.get("NetworkConfig")),
            fields(arguments.get("ProcessingOutputConfig")).get("KmsKeyId") or own_key,
        )
    if step.get("Type") == "Training":
        cluster = fields(arguments.get("ResourceConfig"))
        return Job(
            name=name,
            instance_type=cluster.get("InstanceType", ""),
            instance_count=cluster.get("InstanceCount", 1),
            volume_key=cluster.get("VolumeKmsKeyId"),
            output_key=fields(arguments.get("OutputDataConfig")).get("KmsKeyId"),
            encrypts_inter_container_traffic=bool(
                arguments.get("EnableInterContainerTrafficEncryption", False)
            ),
            network_isolation=bool(arguments.get("EnableNetworkIsolation", False)),
            in_vpc=bool(arguments.get("VpcConfig")),
        )
    return None


def _transform_job(name: str, arguments: Mapping[str, Any], ctx: AuditContext | None) -> Job:
    resources = fields(arguments.get("TransformResources"))
    named = arguments.get("ModelName")
    model = ctx.resource(named.address) if ctx is not None and isinstance(named, Ref) else None
    serving = fields(model.properties) if model is not None else {}
    return Job(
        name=name,
        instance_type=resources.get("InstanceType", ""),
        instance_count=resources.get("InstanceCount", 1),
        volume_key=resources.get("VolumeKmsKeyId"),
        output_key=fields(arguments.get("TransformOutput")).get("KmsKeyId"),
        encrypts_inter_container_traffic=False,
        network_isolation=model is None or serving.get("enable_network_isolation") is True,
        in_vpc=bool(serving.get("vpc_config")),
        has_inter_container_setting=False,
    )


def _monitoring_job(properties: Mapping[str, Any]) -> Job:
    # Read as the CreateDataQualityJobDefinition request it was translated from.
    request = request_of(DATA_QUALITY_JOB, properties) or {}
    return _networked_job(
        "the monitoring job",
        fields(fields(request.get("JobResources")).get("ClusterConfig")),
        fields(request.get("NetworkConfig")),
        fields(request.get("DataQualityJobOutputConfig")).get("KmsKeyId"),
    )


def _networked_job(
    name: str, cluster: Mapping[str, Any], network: Mapping[str, Any], output_key: Any
) -> Job:
    """A job with a cluster and a network configuration (a processing or monitoring job)."""
    return Job(
        name=name,
        instance_type=cluster.get("InstanceType", ""),
        instance_count=cluster.get("InstanceCount", 1),
        volume_key=cluster.get("VolumeKmsKeyId"),
        output_key=output_key,
        encrypts_inter_container_traffic=bool(
            network.get("EnableInterContainerTrafficEncryption", False)
        ),
        network_isolation=bool(network.get("EnableNetworkIsolation", False)),
        in_vpc=bool(network.get("VpcConfig")),
    )


def _has_instance_storage(job: Job) -> bool:
    # An instance type taken from a pipeline parameter is known only when the pipeline
    # runs; it may well take a volume key, so one is expected.
    return isinstance(job.instance_type, str) and has_instance_storage(job.instance_type)


def _findings(
    checked: Rule,
    resource: Resource,
    ctx: AuditContext,
    failing: Iterator[tuple[Job, str]],
    setting: str,
) -> Iterator[Finding]:
    source = ctx.setting_at("security", setting)
    for job, problem in failing:
        yield ctx.finding(checked, resource, f"{job.name} {problem}", source, subject=job.name)


# --- at rest --------------------------------------------------------------------------------


@rule(
    RuleId.JOB_VOLUME_KMS,
    title="Jobs encrypt their storage volumes with a KMS key",
    severity=Severity.MEDIUM,
    packs=("sagemaker-security",),
    resource_types=JOB_TYPES,
    rationale=(
        "Processing, training and monitoring jobs copy their input data, and write "
        "checkpoints and intermediate results, to the ML storage volumes of their instances. "
        "Without a KMS key of the environment's those volumes are encrypted with a key AWS "
        "manages, whose key policy you cannot restrict. Instance types with local NVMe storage "
        "(ml.r5d, ml.g4dn, ml.p4d...) encrypt it in hardware and refuse a volume key, so jobs "
        "on them pass."
    ),
    remediation=(
        "Set `security.kms_key: create` (or the ARN of an existing key) for the environment, "
        "or under `defaults.security` for every environment."
    ),
    references=References(checkov=("CKV_AWS_368",)),
)
def job_volume_kms(resource: Resource, ctx: AuditContext) -> Iterator[Finding]:
    failing = (
        (job, "writes its storage volumes without a KMS key")
        for job in jobs(resource, ctx)
        if job.volume_key is None and not _has_instance_storage(job)
    )
    yield from _findings(job_volume_kms, resource, ctx, failing, "kms_key")


@rule(
    RuleId.JOB_OUTPUT_KMS,
    title="Jobs encrypt their outputs with a KMS key",
    severity=Severity.MEDIUM,
    packs=("sagemaker-security",),
    resource_types=JOB_TYPES,
    rationale=(
        "A job's outputs (processed data sets, model artifacts, monitoring reports) are "
        "uploaded to S3 with the job's output key. Without one, they are encrypted only with "
        "the bucket's default, which may be an S3-managed key that no key policy restricts."
    ),
    remediation=(
        "Set `security.kms_key: create` (or the ARN of an existing key) for the environment, "
        "or under `defaults.security` for every environment."
    ),
    references=References(checkov=("CKV_AWS_367",)),
)
def job_output_kms(resource: Resource, ctx: AuditContext) -> Iterator[Finding]:
    failing = (
        (job, "uploads its outputs without a KMS key")
        for job in jobs(resource, ctx)
        if job.output_key is None
    )
    yield from _findings(job_output_kms, resource, ctx, failing, "kms_key")


# --- in transit and on the network ------------------------------------------------------------


@rule(
    RuleId.JOB_INTER_CONTAINER_ENCRYPTION,
    title="Jobs encrypt the traffic between their instances",
    severity=Severity.LOW,
    packs=("sagemaker-security",),
    resource_types=JOB_TYPES,
    rationale=(
        "Distributed processing and training jobs exchange data, model weights and gradients "
        "between their instances unencrypted unless inter-container traffic encryption is on. "
        "A single-instance job sends nothing between instances, but the setting is fixed when "
        "the job is defined: a job scaled out later would inherit the gap silently, so every "
        "job is checked, as AWS Security Hub does for data-quality job definitions. "
        "Encryption can lengthen distributed training."
    ),
    remediation=(
        "Set `security.encrypt_inter_container_traffic: true` for the environment, or under "
        "`defaults.security` for every environment."
    ),
    references=References(
        checkov=("CKV_AWS_369",),
        aws_config=("sagemaker-data-quality-job-encrypt-in-transit",),
        security_hub=("SageMaker.9",),
    ),
)
def job_inter_container_encryption(resource: Resource, ctx: AuditContext) -> Iterator[Finding]:
    failing = (
        (job, f"runs on {_instances(job)} without inter-container traffic encryption")
        for job in jobs(resource, ctx)
        if job.has_inter_container_setting and not job.encrypts_inter_container_traffic
    )
    yield from _findings(
        job_inter_container_encryption, resource, ctx, failing, "encrypt_inter_container_traffic"
    )


def _instances(job: Job) -> str:
    count = job.instance_count
    if not isinstance(count, int):
        return "as many instances as its parameter says"
    return f"{count} instance{'' if count == 1 else 's'}"


@rule(
    RuleId.JOB_NETWORK_ISOLATION,
    title="Jobs run with network isolation",
    severity=Severity.MEDIUM,
    packs=("sagemaker-security",),
    resource_types=JOB_TYPES,
    rationale=(
        "Without network isolation a job's container can reach the internet and call AWS "
        "with the job's role: code in a script or one of its dependencies can send the data "
        "it reads anywhere. With isolation SageMaker itself stages the inputs and outputs, "
        "and the container has no network at all. A monitor's job on mlinfra's engine cannot "
        "be isolated (it reads the hours of capture it analyses from S3 and publishes "
        "CloudWatch metrics itself); it passes when it runs in the environment's VPC, whose "
        "routes and endpoints then decide what it reaches, and its role what it may do."
    ),
    remediation=(
        "Set `security.network_isolation: true` for the environment, or under "
        "`defaults.security` for every environment. Scripts must then not download anything "
        "(packages included) when they run. For monitors, set `security.vpc` (subnets "
        "without a route to the internet, with S3 and CloudWatch endpoints)."
    ),
    references=References(
        aws_config=("sagemaker-data-quality-job-isolation",),
        security_hub=("SageMaker.11",),
    ),
)
def job_network_isolation(resource: Resource, ctx: AuditContext) -> Iterator[Finding]:
    isolated = [job for job in jobs(resource, ctx) if not job.needs_network]
    failing = (
        (job, "runs without network isolation") for job in isolated if not job.network_isolation
    )
    yield from _findings(job_network_isolation, resource, ctx, failing, "network_isolation")
    # Jobs that must call AWS themselves are judged on the VPC they run in instead.
    outside = (
        (job, f"runs outside a VPC and cannot be network-isolated: {job.needs_network}")
        for job in jobs(resource, ctx)
        if job.needs_network and not job.in_vpc
    )
    yield from _findings(job_network_isolation, resource, ctx, outside, "vpc")
