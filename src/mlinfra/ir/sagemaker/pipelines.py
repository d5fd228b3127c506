"""Pipelines: a spec pipeline's SageMaker Pipeline, the code it runs, its role and schedule.

Each step's script is uploaded to the artifacts bucket under a key holding its content hash
(`pipelines/<pipeline>/code/<sha256[:16]>/<file>`), so a changed script is a new object and a
new definition, never an overwrite under a running execution. A training step's object is its
script-mode source archive (`sourcedir.tar.gz`): its `source` is the script marked
`packed_as` that archive, and renderers pack that one file into it. Local files named in
`inputs:` are uploaded the same way under `pipelines/<pipeline>/inputs/`.

The definition itself is built and checked in `pipeline_definition`; a definition that fails
the check is a bug in mlinfra and stops the lowering with a `GraphError`.

With a `schedule`, an EventBridge rule starts the pipeline, through a role that may start this
pipeline and nothing else.
"""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath
from typing import Any

from mlinfra.diagnostics import SourceRange
from mlinfra.ir.graph import Concat, FileAsset, Json, Ref, Resource
from mlinfra.ir.requests.pipelines import create_pipeline
from mlinfra.ir.sagemaker import fields, iam
from mlinfra.ir.sagemaker.arns import arn, repository_arn, s3_arn
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.models import (
    ECR_PULL,
    LOG_WRITE,
    registry_address,
    registry_group_name,
)
from mlinfra.ir.sagemaker.pipeline_definition.conditions import serving_metrics
from mlinfra.ir.sagemaker.pipeline_definition.images import processing_image, training_image
from mlinfra.ir.sagemaker.pipeline_definition.inputs import classify_input
from mlinfra.ir.sagemaker.pipeline_definition.processing import SERVING_INSTANCE_TYPE
from mlinfra.ir.sagemaker.pipeline_definition.transform import ExportRowsStep
from mlinfra.ir.sagemaker.translate import translate
from mlinfra.naming import fit
from mlinfra.sagemaker.serving_lookup import SCRIPT_NAME
from mlinfra.sagemaker.serving_lookup import STEP_NAME as SERVING
from mlinfra.sagemaker.serving_lookup import script as serving_script
from mlinfra.spec.model import Component, JobStep, Pipeline, RegisterModelStep
from mlinfra.spec.values import parse_schedule

SOURCE_ARCHIVE = "sourcedir.tar.gz"
CODE_FIELDS = {"processing": "script", "training": "entry_point"}
EVENTS_TRUST_SERVICE = "events.amazonaws.com"
RULE_NAME_LIMIT = 64  # EventBridge rule names
ROLE_NAME_LIMIT = 64
HASH_IN_KEY = 16


def lower_pipeline(ctx: LoweringContext, component: Pipeline) -> list[Resource]:
    code, code_uris = code_uploads(ctx, component)
    data, data_uris = data_uploads(ctx, component)
    role, role_arn = iam.execution_role(ctx, component, role_statements(ctx, component))
    request = create_pipeline(ctx, component, role_arn, code_uris, data_uris)
    pipeline = ctx.resource(
        component.address,
        fields.PIPELINE.type,
        translate(fields.PIPELINE, request),
        component.key_range,
        depends_on=_pipeline_depends_on(ctx, component, data),
    )
    return [*code, *data, *role, pipeline, *schedule(ctx, component)]


def _pipeline_depends_on(
    ctx: LoweringContext, component: Pipeline, data: list[Resource]
) -> tuple[str, ...]:
    """What executions need that the definition names by literal, not by Ref."""
    found = [f"{component.address}/role-policy"]
    found += [r.address for r in data]  # a directory input is many objects under one prefix
    return tuple(dict.fromkeys([*found, *used_by_name(ctx, component)]))


def used_by_name(ctx: LoweringContext, component: Pipeline) -> tuple[str, ...]:
    """The feature stores and registry groups a pipeline's executions use by name."""
    found = []
    for body in component.steps.values():
        for text in body.reads():
            kind, value = classify_input(text, component.steps)
            if kind == "feature_store":
                found.append(f"feature_store.{value}")
        if isinstance(body, RegisterModelStep):
            model = ctx.spec.models.get(body.model)
            if model is not None and model.registry_group:
                found.append(registry_address(ctx, model.registry_group))
    return tuple(dict.fromkeys(found))


# --- local files ----------------------------------------------------------------------------


def local_path(ctx: LoweringContext, component: Component, relative: str) -> Path:
    """A path named in the spec, relative to the spec's folder."""
    base = ctx.spec_dir if ctx.spec_dir is not None else Path(component.key_range.filename).parent
    return base / relative


def file_sha256(path: Path) -> str:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: mlinfra uploads it, so it must exist")
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def upload(
    ctx: LoweringContext,
    component: Component,
    address: str,
    key: str,
    asset: FileAsset,
    source: SourceRange,
    purpose: str = "artifacts",
) -> Resource:
    """An object the program uploads to bucket `purpose`, encrypted with the key if any."""
    properties: dict[str, Any] = {"bucket": ctx.bucket(purpose), "key": key, "source": asset}
    if ctx.kms_key is not None:
        properties["kms_key_id"] = ctx.kms_key
    properties["tags"] = ctx.tags(component)
    # Uploaded after the bucket's default encryption is set, like every other object.
    return ctx.resource(
        address, "aws.s3.BucketObjectv2", properties, source, (f"bucket.{purpose}/encryption",)
    )


def _object_uri(address: str, key: str) -> Concat:
    # The Ref makes whatever uses the URI wait for the upload.
    return Concat(("s3://", Ref(address, "bucket"), f"/{key}"))


def code_key(pipeline: str, kind: str, sha256: str, script: str) -> str:
    name = SOURCE_ARCHIVE if kind == "training" else PurePosixPath(script).name
    return f"pipelines/{pipeline}/code/{sha256[:HASH_IN_KEY]}/{name}"


def code_uploads(ctx: LoweringContext, component: Pipeline) -> tuple[list[Resource], dict]:
    """One object per distinct script (steps running the same file share it), and each
    step's code URI."""
    resources: dict[str, Resource] = {}
    uris: dict[str, Concat] = {}
    for step, body in component.steps.items():
        field = CODE_FIELDS.get(body.type)
        if field is None:
            continue
        script = getattr(body, field)
        own = body.content if isinstance(body, ExportRowsStep) else None
        if own is not None:  # mlinfra's own script, written beside the program
            sha256 = hashlib.sha256(own).hexdigest()
        else:
            sha256 = file_sha256(local_path(ctx, component, script))
        key = code_key(component.name, body.type, sha256, script)
        if key not in resources:
            address = f"{component.address}/script-{step}"
            source = body.range_of(field)
            packed = SOURCE_ARCHIVE if body.type == "training" else None
            asset = FileAsset(script, sha256, packed_as=packed, content=own)
            resources[key] = upload(ctx, component, address, key, asset, source)
        uris[step] = _object_uri(resources[key].address, key)
    if serving_metrics(component.steps):
        # mlinfra's own script, written beside the program (`FileAsset.content`).
        content = serving_script()
        sha256 = hashlib.sha256(content).hexdigest()
        key = code_key(component.name, "processing", sha256, SCRIPT_NAME)
        asset = FileAsset(SCRIPT_NAME, sha256, content=content)
        address = f"{component.address}/script-{SERVING}"
        resources[key] = upload(ctx, component, address, key, asset, component.key_range)
        uris[SERVING] = _object_uri(address, key)
    return list(resources.values()), uris


def _local_inputs(component: Pipeline) -> dict[str, tuple[str, int]]:
    """Each local path in `inputs:`, with the first step and position that names it."""
    found: dict[str, tuple[str, int]] = {}
    for step, body in component.steps.items():
        for i, text in enumerate(body.reads()):
            if classify_input(text, component.steps)[0] == "local":
                found.setdefault(text, (step, i))
    return found


def _files(path: Path) -> list[tuple[str, Path]]:
    if path.is_dir():
        return [(p.relative_to(path).as_posix(), p) for p in sorted(path.rglob("*")) if p.is_file()]
    return [(path.name, path)]


def _input_upload(
    ctx: LoweringContext, component: Pipeline, text: str, step: str, index: int
) -> tuple[list[Resource], Any]:
    """The objects of one local input (a file, or every file of a folder) and its S3 URI."""
    path = local_path(ctx, component, text)
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: step {step!r} reads it")
    files = [(name, file_sha256(p)) for name, p in _files(path)]
    if path.is_dir():
        listing = "".join(f"{name}\0{sha256}\n" for name, sha256 in files)
        digest = hashlib.sha256(listing.encode()).hexdigest()
    else:
        digest = files[0][1]
    prefix = f"pipelines/{component.name}/inputs/{digest[:HASH_IN_KEY]}"
    source = component.steps[step].range_of("inputs", index)
    resources = []
    for n, (name, sha256) in enumerate(files, start=1):
        address = f"{component.address}/input-{digest[:8]}"
        relative = text
        if path.is_dir():
            address, relative = f"{address}-{n}", (Path(text) / name).as_posix()
        asset = FileAsset(relative, sha256)
        resources.append(upload(ctx, component, address, f"{prefix}/{name}", asset, source))
    if path.is_dir():
        return resources, Concat(("s3://", ctx.bucket("artifacts"), f"/{prefix}/"))
    return resources, _object_uri(resources[0].address, f"{prefix}/{files[0][0]}")


def data_uploads(ctx: LoweringContext, component: Pipeline) -> tuple[list[Resource], dict]:
    """The local files and folders steps read, and the S3 URI each becomes (a folder's is a
    prefix holding its files)."""
    resources: list[Resource] = []
    uris: dict[str, Any] = {}
    for text, (step, index) in _local_inputs(component).items():
        found, uris[text] = _input_upload(ctx, component, text, step, index)
        resources += found
    return resources, uris


# --- the execution role ---------------------------------------------------------------------


def job_statements(ctx: LoweringContext, images: list[str], namespaces: list[str]) -> list[dict]:
    """What any SageMaker job role needs: pull its images, write its logs and metrics, use
    the key (volumes included), and run in the VPC."""
    # GetAuthorizationToken, PutMetricData and the VPC Describe calls support no
    # resource-level permissions: IAM requires "*" for them (PutMetricData is narrowed by
    # namespace instead).
    statements = [
        iam.statement(["ecr:GetAuthorizationToken"], ["*"], "EcrToken"),
        iam.statement(ECR_PULL, sorted({repository_arn(ctx, i) for i in images}), "EcrPull"),
        iam.statement(LOG_WRITE, [arn(ctx, "logs", "log-group:/aws/sagemaker/*")], "Logs"),
        {
            **iam.statement(["cloudwatch:PutMetricData"], ["*"], "Metrics"),
            "Condition": {"StringLike": {"cloudwatch:namespace": namespaces}},
        },
    ]
    key = ctx.kms_key
    if key is not None:
        statements.append(
            iam.statement(
                ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
                [key],
                iam.USE_KMS_KEY,
            )
        )
        # SageMaker encrypts job volumes through a grant the role creates.
        statements.append(
            {
                **iam.statement(["kms:CreateGrant"], [key], iam.GRANT_FOR_VOLUMES),
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            }
        )
    statements.extend(iam.vpc_statements(ctx))
    return statements


def _data_statements(ctx: LoweringContext, component: Pipeline) -> list[dict]:
    artifacts = ctx.bucket("artifacts", "arn")
    prefixes = [f"pipelines/{component.name}/"]
    external: list[str] = []
    for body in component.steps.values():
        for text in body.reads():
            kind, value = classify_input(text, component.steps)
            if kind == "feature_store":
                prefixes.append(f"feature-store/{value}/")
            elif kind == "s3":
                external.append(value)
    prefixes = list(dict.fromkeys(prefixes))
    statements = [
        iam.statement(
            ["s3:GetObject", "s3:PutObject"],
            [Concat((artifacts, f"/{prefixes[0]}*"))],
            "PipelineData",
        ),
        {
            **iam.statement(["s3:ListBucket"], [artifacts], "ListPipelineData"),
            "Condition": {"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}},
        },
    ]
    if len(prefixes) > 1:
        stores = [Concat((artifacts, f"/{p}*")) for p in prefixes[1:]]
        statements.append(iam.statement(["s3:GetObject"], stores, "ReadFeatureStores"))
    if external:
        objects = sorted({s3_arn(ctx, uri.rstrip("/")) + "*" for uri in external})
        buckets = sorted({s3_arn(ctx, uri.removeprefix("s3://").split("/")[0]) for uri in external})
        statements.append(iam.statement(["s3:GetObject"], objects, "ReadInputs"))
        statements.append(iam.statement(["s3:ListBucket"], buckets, "ListInputs"))
    return statements


def _job_kinds(component: Pipeline) -> set[str]:
    return {body.type for body in component.steps.values()}


def _sagemaker_statements(ctx: LoweringContext, component: Pipeline) -> list[dict]:
    kinds = _job_kinds(component)
    statements = []
    for kind, noun, resource in (
        ("processing", "ProcessingJob", "processing-job/*"),
        ("training", "TrainingJob", "training-job/*"),
        ("transform", "TransformJob", "transform-job/*"),
    ):
        if kind in kinds:
            actions = ["sagemaker:AddTags"] + [
                f"sagemaker:{v}{noun}" for v in ("Create", "Describe", "Stop")
            ]
            statements.append(iam.statement(actions, [arn(ctx, "sagemaker", resource)], noun + "s"))
    groups = sorted(
        {
            registry_group_name(ctx, ctx.spec.models[b.model].registry_group)
            for b in component.steps.values()
            if isinstance(b, RegisterModelStep)
        }
    )
    if groups:
        resources = [arn(ctx, "sagemaker", f"model-package-group/{g}") for g in groups]
        resources += [arn(ctx, "sagemaker", f"model-package/{g}/*") for g in groups]
        actions = [
            "sagemaker:AddTags",
            "sagemaker:CreateModelPackage",
            "sagemaker:DescribeModelPackage",
        ]
        statements.append(iam.statement(actions, resources, "RegisterModels"))
    if groups and serving_metrics(component.steps):
        # The `serving` step reads which version serves (`serving_lookup`): ListModelPackages
        # has no resource-level permission in IAM, so its resource is every one.
        statements.append(
            iam.statement(["sagemaker:ListModelPackages"], ["*"], "FindServingVersion")
        )
    return statements


def _images(ctx: LoweringContext, component: Pipeline) -> list[str]:
    found = []
    for body in component.steps.values():
        # A transform job runs the model's image, as the model's role: not the pipeline's.
        if isinstance(body, JobStep) and body.type != "transform":
            image = processing_image if body.type == "processing" else training_image
            found.append(image(ctx, component, body.instance_type))
    if serving_metrics(component.steps):
        found.append(processing_image(ctx, component, SERVING_INSTANCE_TYPE))
    return found


def role_statements(ctx: LoweringContext, component: Pipeline) -> list[dict]:
    """The pipeline's role runs its jobs (with itself as their role) and registers models."""
    role_arn = Ref(f"{component.address}/role", "arn")
    pass_role = {
        **iam.statement(["iam:PassRole"], [role_arn], "PassOwnRole"),
        "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    }
    statements = _data_statements(ctx, component) + _sagemaker_statements(ctx, component)
    images = _images(ctx, component)
    if images:
        statements += job_statements(ctx, images, ["/aws/sagemaker/*"])
    return [*statements, pass_role]


# --- starting the pipeline from EventBridge -------------------------------------------------


def events_trust(ctx: LoweringContext) -> dict:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": EVENTS_TRUST_SERVICE},
        "Action": "sts:AssumeRole",
    }
    if ctx.spec.account:
        # Only rules of this account may use the role (the confused-deputy guard).
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": ctx.spec.account}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def start_pipeline_role(
    ctx: LoweringContext,
    component: Component,
    address: str,
    pipeline: str,
    source: SourceRange,
) -> tuple[list[Resource], Ref]:
    """A role EventBridge assumes to start pipeline `pipeline` (its address), and no other."""
    wanted = f"{ctx.role_name(component)}-{address.rsplit('/', 1)[1]}"
    role = ctx.resource(
        address,
        "aws.iam.Role",
        {
            "name": fit(wanted, ROLE_NAME_LIMIT),
            "assume_role_policy": Json(events_trust(ctx)),
            "tags": ctx.tags(component),
        },
        source,
    )
    start = iam.statement(
        ["sagemaker:StartPipelineExecution"], [Ref(pipeline, "arn")], "StartPipeline"
    )
    policy = ctx.resource(
        f"{address}-policy",
        "aws.iam.RolePolicy",
        {
            # An explicit name: one derived from the address would hold a `/`, which IAM refuses.
            "name": "mlinfra-start-pipeline",
            "role": Ref(address, "id"),
            "policy": Json({"Version": "2012-10-17", "Statement": [start]}),
        },
        source,
    )
    return [role, policy], Ref(address, "arn")


def rule_name(ctx: LoweringContext, component: Component, purpose: str) -> str:
    return fit(f"{ctx.spec.project}-{ctx.spec.env}-{component.name}-{purpose}", RULE_NAME_LIMIT)


def pipeline_target(
    ctx: LoweringContext, address: str, rule: str, pipeline: str, role_arn: Ref, source: SourceRange
) -> Resource:
    """An EventBridge target starting pipeline `pipeline` (its address) when `rule` fires."""
    return ctx.resource(
        address,
        "aws.cloudwatch.EventTarget",
        {
            "rule": Ref(rule, "name"),
            "target_id": "start-pipeline",
            "arn": Ref(pipeline, "arn"),
            "role_arn": role_arn,
        },
        source,
        # The role must be allowed to start the pipeline before the first event arrives.
        depends_on=(f"{role_arn.address}-policy",),
    )


def schedule(ctx: LoweringContext, component: Pipeline) -> list[Resource]:
    text = component.schedule
    if not text:
        return []
    expression = parse_schedule(text).expression
    return start_on_schedule(
        ctx, component, expression, f"Starts pipeline {component.name} on {text}"
    )


def start_on_schedule(
    ctx: LoweringContext, component: Component, expression: str, description: str
) -> list[Resource]:
    """An EventBridge rule starting the component's pipeline (at its address) on `expression`,
    with a role that may start that pipeline only."""
    source = component.range_of("schedule")
    address = component.address
    role, role_arn = start_pipeline_role(
        ctx, component, f"{address}/schedule-role", address, source
    )
    rule = ctx.resource(
        f"{address}/schedule",
        "aws.cloudwatch.EventRule",
        {
            "name": rule_name(ctx, component, "schedule"),
            "description": description,
            "schedule_expression": expression,
            "tags": ctx.tags(component),
        },
        source,
    )
    target = pipeline_target(
        ctx, f"{address}/schedule-target", rule.address, address, role_arn, source
    )
    return [*role, rule, target]
