"""Models: the SageMaker Model a spec model becomes, its execution role and registry group.

A model is served either from an artifact (a local `model.tar.gz` the program uploads, or an
S3 URI) or from a version in its model registry group (the latest approved one, or a pinned
version number). When a model has both, the artifact is what is served and the group is
where pipelines register new versions.

SageMaker models are immutable: a changed container can only be a new model. So a model's
name carries a hash of its content, and a change creates the new model (and, through its new
name, a new endpoint configuration) before the old one is deleted.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mlinfra.ir.graph import Args, Call, Concat, FileAsset, Json, Ref, Resource, content_hash
from mlinfra.ir.requests.models import (  # noqa: F401  (re-exported: shared by the targets)
    LATEST_APPROVED,
    create_model,
    create_model_package_group,
    image,
    is_s3,
    registry_address,
    registry_group_name,
    registry_owner,
    serving_endpoints,
)
from mlinfra.ir.sagemaker import fields, iam
from mlinfra.ir.sagemaker.arns import arn, repository_arn, s3_arn
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.translate import translate
from mlinfra.naming import HASH_LENGTH, fit, physical_name
from mlinfra.sagemaker.arns import partition
from mlinfra.sagemaker.names import name_rule
from mlinfra.spec.model import Model, TransformStep

ARTIFACT_FILE = "model.tar.gz"
# The pull actions on the image's repository; the token is account-wide (see below).
ECR_PULL = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
LOG_WRITE = [
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:DescribeLogStreams",
    "logs:PutLogEvents",
]


def lower_model(ctx: LoweringContext, component: Model) -> list[Resource]:
    resources = registry_group(ctx, component)
    upload = artifact_upload(ctx, component)
    if upload is not None:
        resources.append(upload)
    role, role_arn = iam.execution_role(ctx, component, role_statements(ctx, component))
    resources.extend(role)
    properties = model_properties(ctx, component, role_arn)
    depends_on = [f"{component.address}/role-policy"]  # the role can act before it is used
    if component.registry_group and not component.artifact:
        # The registry is read by name when the program runs, not through a Ref.
        depends_on.append(registry_address(ctx, component.registry_group))
    resources.append(
        ctx.resource(
            component.address,
            "aws.sagemaker.Model",
            {"name": model_name(ctx, component, properties), **properties},
            component.key_range,
            depends_on=tuple(depends_on),
        )
    )
    return resources


# --- the registry group -----------------------------------------------------------------------


def registry_group(ctx: LoweringContext, component: Model) -> list[Resource]:
    request = create_model_package_group(ctx, component)
    if request is None:
        return []
    return [
        ctx.resource(
            registry_address(ctx, component.registry_group),
            fields.MODEL_PACKAGE_GROUP.type,
            translate(fields.MODEL_PACKAGE_GROUP, request),
            component.range_of("registry_group"),
        )
    ]


def registry_lookup(ctx: LoweringContext, component: Model) -> tuple[str, ...]:
    """The arguments of a latest-approved model's lookups when the program runs: its group,
    then the endpoints serving it, which keep the version they serve while the group has
    no approved one (`render.runtime`)."""
    group = registry_group_name(ctx, component.registry_group)
    return (group, *(ctx.name(e, "endpoint") for e in serving_endpoints(ctx, component)))


def model_package(ctx: LoweringContext, component: Model) -> Any:
    """The registry version the model serves: a Call for latest-approved, else its ARN."""
    group = registry_group_name(ctx, component.registry_group)
    version = component.version
    if version == LATEST_APPROVED:
        return Call("latest_approved_model_package", registry_lookup(ctx, component))
    if ctx.spec.account is None:
        # Without the account the ARN cannot be written down; the program looks it up.
        return Call("model_package_arn", (group, version))
    return (
        f"arn:{partition(ctx.spec.region)}:sagemaker:{ctx.spec.region}:{ctx.spec.account}"
        f":model-package/{group}/{version}"
    )


# --- the artifact -----------------------------------------------------------------------------


def local_artifact(ctx: LoweringContext, component: Model) -> str | None:
    artifact = component.artifact
    return artifact if artifact and not is_s3(artifact) else None


@functools.lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    # Keyed by size and mtime too, so a rewritten file is hashed again; artifacts can be
    # gigabytes, and the model's name and its endpoint configuration both need the hash.
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(ctx: LoweringContext, relative: str) -> str:
    path = (ctx.spec_dir or Path()) / relative
    if not path.is_file():
        raise FileNotFoundError(f"model artifact {relative!r} not found at {path}")
    stat = path.stat()
    return _sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def artifact_key(component: Model, sha256: str) -> str:
    # The content hash in the key: a new artifact is a new object, never an overwrite of
    # the one a running endpoint was created from.
    return f"models/{component.name}/{sha256[:12]}/{ARTIFACT_FILE}"


def artifact_upload(ctx: LoweringContext, component: Model) -> Resource | None:
    relative = local_artifact(ctx, component)
    if relative is None:
        return None
    sha256 = file_sha256(ctx, relative)
    return ctx.resource(
        f"{component.address}/artifact",
        "aws.s3.BucketObjectv2",
        {
            "bucket": ctx.bucket("artifacts"),
            "key": artifact_key(component, sha256),
            "source": FileAsset(relative, sha256),
            "tags": ctx.tags(component),
        },
        component.range_of("artifact"),
        # Uploaded after the bucket's default encryption is set, so it is encrypted with it.
        depends_on=("bucket.artifacts/encryption",),
    )


def model_data_url(ctx: LoweringContext, component: Model) -> Any:
    artifact = component.artifact
    if is_s3(artifact):
        return artifact
    upload = f"{component.address}/artifact"
    return Concat(("s3://", Ref(upload, "bucket"), "/", Ref(upload, "key")))


# --- the model --------------------------------------------------------------------------------


def vpc_config(ctx: LoweringContext) -> dict[str, list[str]] | None:
    """The environment's VPC, as `CreateModel`'s `VpcConfig`: the model's containers run in it."""
    vpc = ctx.spec.security.vpc
    if vpc is None:
        return None
    return {"Subnets": list(vpc.subnets), "SecurityGroupIds": list(vpc.security_groups)}


def model_properties(ctx: LoweringContext, component: Model, role_arn: Ref) -> dict:
    """The model's pulumi_aws arguments but its name: its request, run by its role, isolated
    from the network and in the VPC as the environment's security says."""
    request = create_model(ctx, component, model_data_url, model_package)
    request["ExecutionRoleArn"] = role_arn
    request["EnableNetworkIsolation"] = ctx.spec.security.network_isolation
    vpc = vpc_config(ctx)
    if vpc is not None:
        request["VpcConfig"] = vpc
    return translate(fields.MODEL, request)


LOOKUPS = ("latest_approved_model_package", "latest_approved_version")


def without_endpoints(value: Any) -> Any:
    """`value` with every registry lookup's Call reduced to its group, for content hashes.

    The endpoints of a lookup say where a version is kept from, not what is served: a model
    that one more endpoint serves is the same model, and keeps its name.
    """
    if isinstance(value, Call):
        if value.function in LOOKUPS:
            return Call(value.function, tuple(value.args[:1]))
        return value
    if isinstance(value, MappingProxyType | dict):
        return {k: without_endpoints(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return tuple(without_endpoints(v) for v in value)
    if isinstance(value, Args):
        return Args(value.type, without_endpoints(value.fields))
    if isinstance(value, Concat):
        return Concat(without_endpoints(value.parts))
    if isinstance(value, Json):
        return Json(without_endpoints(value.value))
    return value


# `-v<version>`, up to 4 digits: room kept in names that carry the served registry version.
VERSION_SUFFIX_LENGTH = 6


def served_version(ctx: LoweringContext, component: Model, lookup=registry_lookup) -> Call | None:
    """The registry version a latest-approved model serves, known only when the program runs.

    It goes into the model's name (and its endpoint configuration's), so approving a new
    version makes a new model and configuration, created before the old ones are deleted,
    rather than an in-place update SageMaker refuses. `lookup` gives the Call's arguments
    (the local target's lookups take the group alone).
    """
    if component.artifact or component.version != LATEST_APPROVED:
        return None
    return Call("latest_approved_version", lookup(ctx, component))


def with_version(
    ctx: LoweringContext, model: Model, name: str, lookup=registry_lookup
) -> str | Concat:
    version = served_version(ctx, model, lookup)
    return Concat((name, "-v", version)) if version is not None else name


def model_name(
    ctx: LoweringContext, component: Model, properties: dict | None = None
) -> str | Concat:
    """`{project}-{env}-{model}-{hash}[-v{version}]`: the hash of everything but the tags.

    Tags change in place; anything else makes a new model, which needs a new name.
    """
    if properties is None:
        role_arn = Ref(f"{component.address}/role", "arn")
        properties = model_properties(ctx, component, role_arn)
    content = {k: v for k, v in properties.items() if k not in ("name", "tags")}
    content = without_endpoints(content)
    wanted = physical_name(ctx.spec.project, ctx.spec.env, component.name, "model").wanted
    reserve = HASH_LENGTH + 1 + (VERSION_SUFFIX_LENGTH if served_version(ctx, component) else 0)
    base = fit(wanted, name_rule("model").max_length - reserve)
    return with_version(ctx, component, f"{base}-{content_hash(content)}")


# --- the execution role -----------------------------------------------------------------------


def _read_statement(ctx: LoweringContext, component: Model) -> dict:
    artifact = component.artifact
    if artifact and is_s3(artifact):
        objects: Any = s3_arn(ctx, artifact)
    elif artifact:
        key = artifact_key(component, file_sha256(ctx, artifact))
        objects = Concat((ctx.bucket("artifacts", "arn"), f"/{key}"))
    else:
        # A registered version's data is wherever the pipeline wrote it: the artifacts bucket.
        objects = Concat((ctx.bucket("artifacts", "arn"), "/*"))
    return iam.statement(["s3:GetObject"], [objects], "ReadModelData")


def _ecr_statements(ctx: LoweringContext, component: Model) -> list[dict]:
    if component.artifact:
        repositories = [repository_arn(ctx, image(ctx, component))]
    else:
        # A registered version names its image only when the program runs; SageMaker's
        # images live in AWS-owned accounts, so the region is as far as this can narrow.
        repositories = [f"arn:{partition(ctx.spec.region)}:ecr:{ctx.spec.region}:*:repository/*"]
    return [
        # GetAuthorizationToken has no resource-level permissions: IAM requires "*".
        iam.statement(["ecr:GetAuthorizationToken"], ["*"], "EcrToken"),
        iam.statement(ECR_PULL, repositories, "EcrPull"),
    ]


def _transforms(ctx: LoweringContext, component: Model) -> list[tuple[str, str, str | None]]:
    """(pipeline, input, output) of each batch job and transform step scoring with the model."""
    found = [
        (job.name, job.input, job.output)
        for job in ctx.spec.batch_jobs.values()
        if job.model == component.name
    ]
    for pipeline in ctx.spec.pipelines.values():
        for step in pipeline.steps.values():
            if isinstance(step, TransformStep) and step.model == component.name:
                found.extend((pipeline.name, text, None) for text in step.inputs)
    return found


def _transform_statements(ctx: LoweringContext, component: Model) -> list[dict]:
    """A transform job reads its input and writes its output as its model's role: the
    pipeline's own prefix (uploads, exported rows, each run's output), and the S3 locations
    a batch job names."""
    transforms = _transforms(ctx, component)
    if not transforms:
        return []
    artifacts = ctx.bucket("artifacts", "arn")
    own = sorted({pipeline for pipeline, _, _ in transforms})
    statements = [
        iam.statement(
            ["s3:GetObject", "s3:PutObject"],
            [Concat((artifacts, f"/pipelines/{p}/*")) for p in own],
            "TransformData",
        ),
        {
            **iam.statement(["s3:ListBucket"], [artifacts], "ListTransformData"),
            "Condition": {"StringLike": {"s3:prefix": [f"pipelines/{p}/*" for p in own]}},
        },
    ]
    inputs = sorted({text for _, text, _ in transforms if is_s3(text)})
    outputs = sorted({out for _, _, out in transforms if out is not None and is_s3(out)})
    if inputs:
        objects = [s3_arn(ctx, uri.rstrip("/")) + "*" for uri in inputs]
        buckets = sorted({s3_arn(ctx, uri.removeprefix("s3://").split("/")[0]) for uri in inputs})
        statements.append(iam.statement(["s3:GetObject"], objects, "ReadTransformInputs"))
        statements.append(iam.statement(["s3:ListBucket"], buckets, "ListTransformInputs"))
    if outputs:
        objects = [s3_arn(ctx, uri.rstrip("/")) + "/*" for uri in outputs]
        statements.append(iam.statement(["s3:PutObject"], objects, "WriteTransformOutputs"))
    return statements


def _capture_destinations(ctx: LoweringContext, component: Model) -> list[Concat]:
    return [
        Concat((ctx.bucket("capture", "arn"), f"/{ctx.name(endpoint, 'endpoint')}/*"))
        for endpoint in serving_endpoints(ctx, component)
        if endpoint.data_capture is not None and endpoint.data_capture.enabled
    ]


def role_statements(ctx: LoweringContext, component: Model) -> list[dict]:
    """What the model's containers (and SageMaker on their behalf) need, and no more."""
    statements = [_read_statement(ctx, component), *_ecr_statements(ctx, component)]
    statements.append(
        iam.statement(LOG_WRITE, [arn(ctx, "logs", "log-group:/aws/sagemaker/*")], "Logs")
    )
    captures = _capture_destinations(ctx, component)
    if captures:
        # Endpoints have no role of their own: data capture writes with the model's.
        statements.append(iam.statement(["s3:PutObject"], captures, "WriteCapturedData"))
    scoring = _transform_statements(ctx, component)
    statements.extend(scoring)
    key = ctx.kms_key
    if key is not None:
        actions = ["kms:Decrypt"]
        if captures or scoring:
            actions += ["kms:Encrypt", "kms:GenerateDataKey"]
        statements.append(iam.statement(actions, [key], iam.USE_KMS_KEY))
    statements.extend(iam.vpc_statements(ctx))
    return statements


# --- content hashes ---------------------------------------------------------------------------
