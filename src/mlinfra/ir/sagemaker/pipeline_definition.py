"""The SageMaker Model Building Pipeline definition of a spec pipeline, built offline.

`pipeline_definition` turns a pipeline component into the definition document (format
`2020-12-01`) that `aws.sagemaker.Pipeline` takes, as plain data with Refs and Concats where a
value is known only when the program runs (the role, bucket names, the key, script URIs).
`check_definition` checks it against SageMaker's own API shapes from botocore, so a wrong field
is a failed compile here rather than a failed deployment.

Steps become, by type:
- processing: a `Processing` step running `python3 <script>` in SageMaker's scikit-learn
  image (the processing image of SKLearnProcessor);
- training: a `Training` step in script mode (`sagemaker_program`, `sagemaker_submit_directory`)
  in the training image of the model the pipeline registers (scikit-learn otherwise);
- condition: a `Condition` step; every step after it (transitively) runs only when it holds,
  so those steps sit in its `IfSteps` and there is no `else`. A step after several conditions,
  none of which runs after another, sits in the `IfSteps` of a condition step mlinfra adds,
  `<a>-and-<b>`, whose conditions are all of theirs (see "gating" below);
- register_model: a `RegisterModel` step adding a version to the model's registry group.

Data flow, the convention the example scripts follow:
- A processing step reads its inputs under `/opt/ml/processing/input/<name>` and writes one
  output, named after the step, from `/opt/ml/processing/output` to
  `s3://<artifacts>/pipelines/<pipeline>/runs/<execution id>/<step>` (per execution, so runs
  never mix or overwrite each other's data). `MLINFRA_PROCESSING_INPUT` and
  `MLINFRA_PROCESSING_OUTPUT` name the two folders.
- `inputs:` entries: `feature_store.<store>` is the store's offline S3 prefix, named `<store>`;
  `<step>.<x>` is the `<x>` subfolder of a processing step's output, or a training step's
  `model.tar.gz` (whatever `<x>` is), named `<x>`; an S3 URI or a local path (uploaded by the
  program) is named after its last path segment. A name already taken gets the first free
  `-<n>` suffix (`-2`, `-3`, ...), and `code` is always taken: it is the script's own input.
- A step that names no `<step>.<x>` input gets the churn layout from `after:`: a training step
  after exactly one processing step reads that step's `train` and `validation` subfolders as
  channels `train` and `validation`; a processing step after exactly one training step reads
  `model` (the training step's model artifacts) and `test` (the `test` subfolder of the one
  processing step that training step read from). `after:` edges that data already implies
  are left out of `DependsOn`.
- A condition reads `<step>.metrics.<name>`: from a processing step, `metrics.<name>.value`
  of `evaluation/evaluation.json` in the step's output (its property file, `<step>-metrics`);
  from a training step, the last value its log prints as `<name>=<number>`.
- A registered version serves with the training step's script (`SAGEMAKER_PROGRAM`) and
  accepts and returns `text/csv` and `application/json`. Under network isolation the serving
  container cannot fetch code, so it loads it from `/opt/ml/model/code`, where the training
  script must save a copy of itself.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from types import MappingProxyType
from typing import Any

from mlinfra.frozen import SCALAR_TYPES
from mlinfra.ir.graph import Call, Concat, GraphError, Json, Ref
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.endpoints import has_instance_storage
from mlinfra.ir.sagemaker.feature_stores import offline_store_uri
from mlinfra.ir.sagemaker.models import image as serving_image
from mlinfra.ir.sagemaker.models import registry_group_name, serving_endpoints
from mlinfra.sagemaker.pipelines import CONDITION_MEMBERS, NEGATED
from mlinfra.spec import catalog
from mlinfra.spec.expressions import (
    BoolOp,
    Compare,
    Expression,
    Literal,
    Not,
    Reference,
    parse_condition,
    references,
)
from mlinfra.spec.model import ConditionStep, Model, Pipeline, RegisterModelStep, Security, Step
from mlinfra.spec.values import parse_duration

VERSION = "2020-12-01"
INPUT_DIR = "/opt/ml/processing/input"
CODE_DIR = f"{INPUT_DIR}/code"
OUTPUT_DIR = "/opt/ml/processing/output"
PROPERTY_FILE_PATH = "evaluation/evaluation.json"
DEFAULT_SKLEARN_VERSION = "1.2-1"
VOLUME_SIZE_GB = 30
CONTENT_TYPES = ["text/csv", "application/json"]
# Script mode under network isolation: the code arrives as a channel, not from S3 (what the
# SageMaker Python SDK does), and serving finds it inside the model artifact.
CODE_CHANNEL = "code"
ISOLATED_SUBMIT_DIRECTORY = "/opt/ml/input/data/code/sourcedir.tar.gz"
ISOLATED_SERVING_DIRECTORY = "/opt/ml/model/code"
LOG_LEVEL = "20"  # logging.INFO, the SDK's default container log level
METRIC_REGEX = r"{name}=([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
COMPARISONS = {
    "==": "Equals",
    ">": "GreaterThan",
    ">=": "GreaterThanOrEqualTo",
    "<": "LessThan",
    "<=": "LessThanOrEqualTo",
}
PARAMETER_TYPES = ((bool, "Boolean"), (int, "Integer"), (float, "Float"), (str, "String"))


# --- reading the spec ---------------------------------------------------------------------------


@dataclass(frozen=True)
class StepInput:
    """One input of a step: its channel or input name, S3 URI, and the step it reads, if any."""

    name: str
    uri: Any
    step: str | None = None


def classify_input(text: str, steps: Mapping[str, Step]) -> tuple[str, Any]:
    """What an `inputs:` entry names: ("s3", uri), ("feature_store", store),
    ("step", (step, output)) or ("local", path). A step's output wins over a local path."""
    if text.startswith("s3://"):
        return "s3", text
    head, dot, rest = text.partition(".")
    if head == "feature_store" and dot:
        return "feature_store", rest
    if head in steps and dot and rest:
        return "step", (head, rest)
    return "local", text


def upstream(steps: Mapping[str, Step]) -> dict[str, list[str]]:
    """Each step's direct predecessors, in spec order: `after:` plus steps whose output it reads."""
    edges: dict[str, list[str]] = {}
    for name, body in steps.items():
        found = dict.fromkeys(s for s in body.after if s in steps)
        for text in body.reads():
            kind, value = classify_input(text, steps)
            if kind == "step":
                found[value[0]] = None
        edges[name] = list(found)
    return edges


def ancestors(edges: Mapping[str, list[str]], step: str) -> dict[str, int]:
    """Every step `step` runs after, with its distance (1 for a direct predecessor)."""
    found: dict[str, int] = {}
    frontier, distance = list(edges.get(step, ())), 1
    while frontier:
        following: list[str] = []
        for name in frontier:
            if name not in found:
                found[name] = distance
                following.extend(edges.get(name, ()))
        frontier, distance = following, distance + 1
    return found


def _step_type(steps: Mapping[str, Step], name: str) -> str:
    return steps[name].type


def _input_name(text: str) -> str:
    stem = PurePosixPath(text.removeprefix("s3://").rstrip("/")).stem
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "data"


# --- the data flow ------------------------------------------------------------------------------


@dataclass
class DataFlow:
    """Who reads what: each step's inputs, and the processing steps each training step read."""

    inputs: dict[str, list[StepInput]] = field(default_factory=dict)
    read_by_training: dict[str, list[str]] = field(default_factory=dict)


def _output_uri(step: str) -> dict:
    return {"Get": f"Steps.{step}.ProcessingOutputConfig.Outputs['{step}'].S3Output.S3Uri"}


def _model_uri(step: str) -> dict:
    return {"Get": f"Steps.{step}.ModelArtifacts.S3ModelArtifacts"}


def _subfolder(step: str, folder: str) -> dict:
    return {"Std:Join": {"On": "/", "Values": [_output_uri(step), folder]}}


def _read_step(steps: Mapping[str, Step], reader: str, source: str, output: str) -> StepInput:
    kind = _step_type(steps, source)
    if kind == "processing":
        return StepInput(output, _subfolder(source, output), source)
    if kind == "training":
        return StepInput(output, _model_uri(source), source)
    raise GraphError(f"step {reader!r} reads {source}.{output}, but {kind} steps have no output")


def _explicit(
    ctx: LoweringContext, steps: Mapping[str, Step], name: str, data_uris: Mapping[str, Any]
) -> list[StepInput]:
    found = []
    for text in steps[name].reads():
        kind, value = classify_input(text, steps)
        if kind == "step":
            found.append(_read_step(steps, name, *value))
        elif kind == "feature_store":
            found.append(StepInput(value, offline_store_uri(ctx, value)))
        elif kind == "s3":
            found.append(StepInput(_input_name(value), value))
        else:
            if value not in data_uris:
                raise GraphError(f"step {name!r} reads {value!r}, which was not uploaded")
            found.append(StepInput(_input_name(value), data_uris[value]))
    return found


def _after_of_type(steps: Mapping[str, Step], name: str, kind: str) -> list[str]:
    return [s for s in steps[name].after if s in steps and steps[s].type == kind]


def _implicit(steps: Mapping[str, Step], name: str, flow: DataFlow) -> list[StepInput]:
    kind = _step_type(steps, name)
    if kind == "training":
        sources = _after_of_type(steps, name, "processing")
        if len(sources) == 1:
            return [_read_step(steps, name, sources[0], c) for c in ("train", "validation")]
    if kind == "processing":
        trainers = _after_of_type(steps, name, "training")
        if len(trainers) == 1:
            found = [StepInput("model", _model_uri(trainers[0]), trainers[0])]
            read = flow.read_by_training.get(trainers[0], [])
            if len(read) == 1:
                found.append(_read_step(steps, name, read[0], "test"))
            return found
    return []


def _unique_names(inputs: list[StepInput]) -> list[StepInput]:
    """The inputs with a name each of their own: a repeated name gets the first free `-<n>`.

    `code` is taken before any data input is named: it is the script's own input (a
    processing step's `/opt/ml/processing/input/code`, an isolated training job's channel),
    and a data input of that name would share its folder. Kept for training steps that are
    not isolated too, so a script's paths do not change with the security settings."""
    taken = {CODE_CHANNEL}
    unique = []
    for item in inputs:
        name, count = item.name, 1
        while name in taken:
            count += 1
            name = f"{item.name}-{count}"
        taken.add(name)
        unique.append(StepInput(name, item.uri, item.step))
    return unique


def data_flow(
    ctx: LoweringContext, component: Pipeline, data_uris: Mapping[str, Any] | None = None
) -> DataFlow:
    steps = component.steps
    flow = DataFlow()
    for name in _topological(steps):
        if _step_type(steps, name) not in ("processing", "training"):
            continue
        inputs = _explicit(ctx, steps, name, data_uris or {})
        if not any(i.step for i in inputs):
            inputs += _implicit(steps, name, flow)
        flow.inputs[name] = _unique_names(inputs)
        if _step_type(steps, name) == "training":
            flow.read_by_training[name] = list(
                dict.fromkeys(
                    i.step for i in inputs if i.step and steps[i.step].type == "processing"
                )
            )
    return flow


def _topological(steps: Mapping[str, Step]) -> list[str]:
    """Steps in an order where every step follows those it runs after (spec order otherwise)."""
    edges = upstream(steps)
    ordered: dict[str, None] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in ordered:
            return
        if name in path:
            raise GraphError(f"pipeline steps form a cycle through {name!r}")
        for dep in edges[name]:
            visit(dep, (*path, name))
        ordered[name] = None

    for name in steps:
        visit(name, ())
    return list(ordered)


# --- conditions ---------------------------------------------------------------------------------


def _metric_reads(steps: Mapping[str, Step]) -> dict[str, list[str]]:
    """The metric paths conditions read, by the step that produces them."""
    reads: dict[str, dict[str, None]] = {}
    for body in steps.values():
        if not isinstance(body, ConditionStep):
            continue
        for ref in references(parse_condition(body.when)):
            if ref.parts[0] != "parameters" and ref.parts[0] in steps:
                reads.setdefault(ref.parts[0], {})[".".join(ref.parts[1:])] = None
    return {step: list(paths) for step, paths in reads.items()}


def property_file_name(step: str) -> str:
    return f"{step}-metrics"


def _json_path(parts: tuple[str, ...]) -> str:
    # `metrics.<name>` is a metric in SageMaker's property-file style: {"value": ...}.
    if len(parts) == 2 and parts[0] == "metrics":
        return f"metrics.{parts[1]}.value"
    return ".".join(parts)


def _operand(steps: Mapping[str, Step], expr: Expression) -> Any:
    if isinstance(expr, Literal):
        return expr.value
    if not isinstance(expr, Reference):
        raise GraphError("a SageMaker condition compares values, not conditions")
    head, rest = expr.parts[0], expr.parts[1:]
    if head == "parameters":
        return {"Get": f"Parameters.{rest[0]}"}
    if steps[head].type == "training":
        return {"Get": f"Steps.{head}.FinalMetricDataList['{rest[-1]}'].Value"}
    return {
        "Std:JsonGet": {
            "PropertyFile": {"Get": f"Steps.{head}.PropertyFiles.{property_file_name(head)}"},
            "Path": _json_path(rest),
        }
    }


def _negate(condition: dict) -> dict:
    # SageMaker reads the negated condition from `Condition`, not `Expression`: see
    # mlinfra.sagemaker.pipelines.
    if condition["Type"] == "Not":
        return condition[NEGATED]
    return {"Type": "Not", NEGATED: condition}


def condition(steps: Mapping[str, Step], expr: Expression) -> dict:
    """One SageMaker condition for `expr`. SageMaker has Or and Not but no And inside them,
    so a nested `and` becomes not(or(not a, not b))."""
    if isinstance(expr, Compare):
        left, right = _operand(steps, expr.left), _operand(steps, expr.right)
        op = "==" if expr.op == "!=" else expr.op
        found = {"Type": COMPARISONS[op], "LeftValue": left, "RightValue": right}
        return _negate(found) if expr.op == "!=" else found
    if isinstance(expr, Not):
        return _negate(condition(steps, expr.operand))
    if isinstance(expr, BoolOp) and expr.op == "or":
        return {"Type": "Or", "Conditions": [condition(steps, o) for o in expr.operands]}
    if isinstance(expr, BoolOp):
        negated = [_negate(condition(steps, o)) for o in expr.operands]
        return _negate({"Type": "Or", "Conditions": negated})
    # A bare boolean (a parameter, or true/false) holds when it equals true.
    return {"Type": "Equals", "LeftValue": _operand(steps, expr), "RightValue": True}


def conditions(steps: Mapping[str, Step], expr: Expression) -> list[dict]:
    """The condition list of a step: all must hold, so a top-level `and` is the list itself."""
    if isinstance(expr, BoolOp) and expr.op == "and":
        return [c for operand in expr.operands for c in conditions(steps, operand)]
    return [condition(steps, expr)]


# --- shared pieces of job steps -----------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    ctx: LoweringContext
    component: Pipeline
    role_arn: Any
    code_uris: Mapping[str, Any]
    flow: DataFlow
    metric_reads: Mapping[str, list[str]]

    @property
    def steps(self) -> Mapping[str, Any]:
        return self.component.steps

    @property
    def security(self) -> Security:
        return self.ctx.spec.security

    @property
    def isolated(self) -> bool:
        return self.security.network_isolation

    @property
    def encrypted_traffic(self) -> bool:
        return self.security.encrypt_inter_container_traffic


def _with_key(plan: _Plan, fields: dict, name: str) -> dict:
    if plan.ctx.kms_key is not None:
        fields[name] = plan.ctx.kms_key
    return fields


def _with_volume_key(plan: _Plan, fields: dict) -> dict:
    # Instances with NVMe instance storage encrypt it in hardware, and SageMaker refuses a
    # volume key for them.
    if has_instance_storage(fields["InstanceType"]):
        return fields
    return _with_key(plan, fields, "VolumeKmsKeyId")


def _vpc(plan: _Plan) -> dict | None:
    vpc = plan.security.vpc
    if vpc is None:
        return None
    return {"SecurityGroupIds": list(vpc.security_groups), "Subnets": list(vpc.subnets)}


def registered_model(ctx: LoweringContext, component: Pipeline) -> Model | None:
    """The model the pipeline's first register_model step registers, if it has one."""
    for body in component.steps.values():
        if isinstance(body, RegisterModelStep):
            return ctx.spec.models.get(body.model)
    return None


def training_framework(ctx: LoweringContext, component: Pipeline) -> tuple[str, str]:
    model = registered_model(ctx, component)
    if model is None:
        return "sklearn", DEFAULT_SKLEARN_VERSION
    return model.framework, model.framework_version


def processing_version(ctx: LoweringContext, component: Pipeline) -> str:
    framework, version = training_framework(ctx, component)
    return version if framework == "sklearn" else DEFAULT_SKLEARN_VERSION


def _image(framework: str, version: str, region: str, instance_type: str) -> str:
    try:
        return catalog.image_uri(framework, version, region, "training", instance_type)
    except catalog.CatalogError as exc:
        # The user's choice of instance type, not a bug: reported as such by the commands.
        raise catalog.CatalogError(
            f"no {framework} {version} image for {instance_type}: {exc}"
        ) from None


def processing_image(ctx: LoweringContext, component: Pipeline, instance_type: str) -> str:
    # SKLearnProcessor runs the scikit-learn framework image (the same repository for
    # training and serving).
    version = processing_version(ctx, component)
    return _image("sklearn", version, ctx.spec.region, instance_type)


def training_image(ctx: LoweringContext, component: Pipeline, instance_type: str) -> str:
    framework, version = training_framework(ctx, component)
    return _image(framework, version, ctx.spec.region, instance_type)


# --- processing steps ---------------------------------------------------------------------------


def _processing_input(name: str, uri: Any, local_path: str) -> dict:
    return {
        "InputName": name,
        "AppManaged": False,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local_path,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
            "S3CompressionType": "None",
        },
    }


def processing_output_uri(ctx: LoweringContext, pipeline: str, step: str) -> dict:
    runs = ctx.s3_uri("artifacts", "pipelines", pipeline, "runs")
    return {
        "Std:Join": {"On": "/", "Values": [runs, {"Get": "Execution.PipelineExecutionId"}, step]}
    }


def _network_config(plan: _Plan) -> dict:
    config: dict[str, Any] = {
        "EnableInterContainerTrafficEncryption": plan.encrypted_traffic,
        "EnableNetworkIsolation": plan.isolated,
    }
    vpc = _vpc(plan)
    if vpc:
        config["VpcConfig"] = vpc
    return config


def _processing_step(plan: _Plan, name: str) -> dict:
    body = plan.steps[name]
    script = PurePosixPath(body.script).name
    inputs = [
        _processing_input(i.name, i.uri, f"{INPUT_DIR}/{i.name}") for i in plan.flow.inputs[name]
    ]
    inputs.append(_processing_input(CODE_CHANNEL, plan.code_uris[name], CODE_DIR))
    output = {
        "OutputName": name,
        "AppManaged": False,
        "S3Output": {
            "S3Uri": processing_output_uri(plan.ctx, plan.component.name, name),
            "LocalPath": OUTPUT_DIR,
            "S3UploadMode": "EndOfJob",
        },
    }
    cluster = {
        "InstanceType": body.instance_type,
        "InstanceCount": body.instance_count,
        "VolumeSizeInGB": VOLUME_SIZE_GB,
    }
    arguments = {
        "ProcessingResources": {"ClusterConfig": _with_volume_key(plan, cluster)},
        "AppSpecification": {
            "ImageUri": processing_image(plan.ctx, plan.component, body.instance_type),
            "ContainerEntrypoint": ["python3", f"{CODE_DIR}/{script}"],
        },
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": _with_key(plan, {"Outputs": [output]}, "KmsKeyId"),
        # The layout is mlinfra's, so its variables win over the step's own.
        "Environment": {
            **dict(body.environment),
            "MLINFRA_PROCESSING_INPUT": INPUT_DIR,
            "MLINFRA_PROCESSING_OUTPUT": OUTPUT_DIR,
        },
        "NetworkConfig": _network_config(plan),
        "RoleArn": plan.role_arn,
    }
    step: dict[str, Any] = {"Name": name, "Type": "Processing", "Arguments": arguments}
    if name in plan.metric_reads:
        step["PropertyFiles"] = [
            {
                "PropertyFileName": property_file_name(name),
                "OutputName": name,
                "FilePath": PROPERTY_FILE_PATH,
            }
        ]
    return step


# --- training steps -----------------------------------------------------------------------------


def _channel(name: str, uri: Any) -> dict:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": uri,
                "S3DataDistributionType": "FullyReplicated",
            }
        },
    }


def _json_text(value: Any) -> Any:
    """A hyperparameter as the SDK writes it: JSON text, decoded again by the container."""
    if isinstance(value, Concat):
        return Concat(('"', *value.parts, '"'))
    return json.dumps(value)


def _hyperparameters(plan: _Plan, name: str) -> dict:
    body = plan.steps[name]
    found = {key: _json_text(value) for key, value in body.hyperparameters.items()}
    submit = ISOLATED_SUBMIT_DIRECTORY if plan.isolated else plan.code_uris[name]
    found.update(
        {
            "sagemaker_program": _json_text(PurePosixPath(body.entry_point).name),
            "sagemaker_submit_directory": _json_text(submit),
            "sagemaker_container_log_level": LOG_LEVEL,
            "sagemaker_region": _json_text(plan.ctx.spec.region),
        }
    )
    return found


def _algorithm(plan: _Plan, name: str) -> dict:
    body = plan.steps[name]
    spec: dict[str, Any] = {
        "TrainingImage": training_image(plan.ctx, plan.component, body.instance_type),
        "TrainingInputMode": "File",
    }
    metrics = [path.split(".")[-1] for path in plan.metric_reads.get(name, ())]
    if metrics:
        spec["MetricDefinitions"] = [
            {"Name": metric, "Regex": METRIC_REGEX.format(name=re.escape(metric))}
            for metric in sorted(set(metrics))
        ]
    return spec


def _training_step(plan: _Plan, name: str) -> dict:
    body = plan.steps[name]
    channels = [_channel(i.name, i.uri) for i in plan.flow.inputs[name]]
    if plan.isolated:
        channels.append(_channel(CODE_CHANNEL, plan.code_uris[name]))
    output = {"S3OutputPath": plan.ctx.s3_uri("artifacts", "pipelines", plan.component.name, name)}
    resources = {
        "InstanceType": body.instance_type,
        "InstanceCount": body.instance_count,
        "VolumeSizeInGB": VOLUME_SIZE_GB,
    }
    arguments: dict[str, Any] = {
        "AlgorithmSpecification": _algorithm(plan, name),
        "HyperParameters": _hyperparameters(plan, name),
        "OutputDataConfig": _with_key(plan, output, "KmsKeyId"),
        "ResourceConfig": _with_volume_key(plan, resources),
        "StoppingCondition": {
            "MaxRuntimeInSeconds": int(parse_duration(body.max_runtime).total_seconds())
        },
        "RoleArn": plan.role_arn,
        "EnableNetworkIsolation": plan.isolated,
        "EnableInterContainerTrafficEncryption": plan.encrypted_traffic,
    }
    if channels:
        arguments["InputDataConfig"] = channels
    vpc = _vpc(plan)
    if vpc:
        arguments["VpcConfig"] = vpc
    if body.environment:
        arguments["Environment"] = dict(body.environment)
    return {"Name": name, "Type": "Training", "Arguments": arguments}


# --- register and condition steps ---------------------------------------------------------------


def source_training_step(steps: Mapping[str, Step], name: str) -> str:
    """The training step whose model `name` registers: the nearest one before it."""
    found = ancestors(upstream(steps), name)
    trainers = [s for s in steps if s in found and steps[s].type == "training"]
    if not trainers:
        raise GraphError(f"step {name!r} registers a model, but no training step runs before it")
    return min(trainers, key=lambda s: found[s])


def _serving_environment(plan: _Plan, trainer: str) -> dict:
    program = PurePosixPath(plan.steps[trainer].entry_point).name
    directory = ISOLATED_SERVING_DIRECTORY if plan.isolated else plan.code_uris[trainer]
    return {
        "SAGEMAKER_PROGRAM": program,
        "SAGEMAKER_SUBMIT_DIRECTORY": directory,
        "SAGEMAKER_CONTAINER_LOG_LEVEL": LOG_LEVEL,
        "SAGEMAKER_REGION": plan.ctx.spec.region,
    }


def _register_step(plan: _Plan, name: str) -> dict:
    model = plan.ctx.spec.models.get(plan.steps[name].model)
    if model is None or not model.registry_group:
        raise GraphError(f"step {name!r} registers a model that has no registry group")
    trainer = source_training_step(plan.steps, name)
    container = {
        "Image": serving_image(plan.ctx, model),
        "ModelDataUrl": _model_uri(trainer),
        "Environment": _serving_environment(plan, trainer),
    }
    specification: dict[str, Any] = {
        "Containers": [container],
        "SupportedContentTypes": list(CONTENT_TYPES),
        "SupportedResponseMIMETypes": list(CONTENT_TYPES),
    }
    instance_types = sorted({e.instance_type for e in serving_endpoints(plan.ctx, model)})
    if instance_types:
        specification["SupportedRealtimeInferenceInstanceTypes"] = instance_types
    approved = model.approval == "auto"
    arguments = {
        "ModelPackageGroupName": registry_group_name(plan.ctx, model.registry_group),
        "ModelPackageDescription": f"Trained by pipeline {plan.component.name}, step {trainer}",
        "ModelApprovalStatus": "Approved" if approved else "PendingManualApproval",
        "InferenceSpecification": specification,
    }
    return {"Name": name, "Type": "RegisterModel", "Arguments": arguments}


def _condition_step(plan: _Plan, name: str) -> dict:
    expr = parse_condition(plan.steps[name].when)
    arguments = {"Conditions": conditions(plan.steps, expr), "IfSteps": [], "ElseSteps": []}
    return {"Name": name, "Type": "Condition", "Arguments": arguments}


_BUILDERS = {
    "processing": _processing_step,
    "training": _training_step,
    "register_model": _register_step,
    "condition": _condition_step,
}


# --- the whole definition -----------------------------------------------------------------------


def parameters(component: Pipeline) -> list[dict]:
    found = []
    for name, value in component.parameters.items():
        kind = next(t for python, t in PARAMETER_TYPES if isinstance(value, python))
        found.append({"Name": name, "Type": kind, "DefaultValue": value})
    return found


# --- gating: where each step sits --------------------------------------------------------------
# A step after a condition runs only when it holds, so it sits in the condition step's IfSteps:
# SageMaker marks the IfSteps ready only when all the step's Conditions hold, and starts a step
# only once all it depends on has completed, so nothing after a branch not taken runs either.
# A DependsOn on the condition step would not do: it waits for the step to finish, whatever its
# outcome (and CreatePipeline is reported to refuse it, aws/sagemaker-python-sdk#3565). A step
# sits in one list only, so a step after two conditions neither of which follows the other
# sits in the IfSteps of a condition step mlinfra adds, a gate, whose Conditions are both of
# theirs: all must hold. (Nesting one condition under the other would also gate whatever else
# follows only the inner one.)


def conditions_before(steps: Mapping[str, Step]) -> dict[str, set[str]]:
    """The condition steps each step runs after, directly or through other steps."""
    edges = upstream(steps)
    return {
        name: {s for s in ancestors(edges, name) if steps[s].type == "condition"} for name in steps
    }


@dataclass(frozen=True)
class Gating:
    """Where each step sits in the definition, and the gates it needs."""

    # step or gate -> the condition step or gate whose IfSteps hold it (None: the top level)
    owners: dict[str, str | None]
    # gate -> the spec's condition steps it combines, in spec order
    gates: dict[str, tuple[str, ...]]


def gating(steps: Mapping[str, Step]) -> Gating:
    """Each step sits under the latest conditions before it: in the IfSteps of that condition
    step when there is one, or of the gate of them when there are several; a gate in turn
    sits under the latest conditions before those, so every condition before a step holds
    when it runs."""
    before = conditions_before(steps)
    keys: dict[tuple[str, ...], str] = {}
    owners: dict[str, str | None] = {}

    def owner(held: set[str]) -> str | None:
        latest = tuple(c for c in steps if c in held and not any(c in before[o] for o in held))
        if len(latest) <= 1:
            return latest[0] if latest else None
        if latest not in keys:
            gate = keys[latest] = _gate_name(latest, {*steps, *keys.values()})
            owners[gate] = owner(set().union(*(before[c] for c in latest)))
        return keys[latest]

    owners.update({name: owner(before[name]) for name in steps})
    return Gating(owners, {gate: combined for combined, gate in keys.items()})


def _gate_name(combined: tuple[str, ...], taken: set[str]) -> str:
    """`<a>-and-<b>`; a digest of it when that is taken or longer than a step name may be."""
    name = "-and-".join(combined)
    if STEP_NAME.fullmatch(name) and name not in taken:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()
    name, count = f"all-of-{digest[:8]}", 1
    while name in taken:
        count += 1
        name = f"all-of-{digest[:8]}-{count}"
    return name


def _gate_step(plan: _Plan, name: str, combined: tuple[str, ...]) -> dict:
    found = []
    for step in combined:
        found += conditions(plan.steps, parse_condition(plan.steps[step].when))
    arguments = {"Conditions": found, "IfSteps": [], "ElseSteps": []}
    return {"Name": name, "Type": "Condition", "Arguments": arguments}


def _reads(step: Mapping[str, Any]) -> set[str]:
    """The steps whose properties a step reads (a condition step: in its conditions)."""
    scope = step["Arguments"]["Conditions"] if step["Type"] == "Condition" else step["Arguments"]
    return {path.split(".")[1] for path in get_paths(scope) if path.startswith("Steps.")}


def pipeline_definition(
    ctx: LoweringContext,
    component: Pipeline,
    role_arn: Any,
    code_uris: Mapping[str, Any],
    data_uris: Mapping[str, Any] | None = None,
) -> dict:
    """The definition of pipeline `component`, as plain data to wrap in `Json`.

    `code_uris` gives the S3 URI of each processing step's uploaded script and each training
    step's source archive; `data_uris` that of each local path named in `inputs:`.
    """
    steps = component.steps
    flow = data_flow(ctx, component, data_uris)
    plan = _Plan(ctx, component, role_arn, code_uris, flow, _metric_reads(steps))
    placed, before = gating(steps), conditions_before(steps)
    built: dict[str, dict] = {}
    for name in _topological(steps):
        step = built[name] = _BUILDERS[steps[name].type](plan, name)
        # Data already orders a step after what it reads, and its place after its conditions.
        depends = set(steps[name].after) - _reads(step) - before[name]
        if depends:
            step["DependsOn"] = sorted(depends)
        for gate, combined in placed.gates.items():
            if gate not in built and all(c in built for c in combined):
                built[gate] = _gate_step(plan, gate, combined)
    for gate, combined in placed.gates.items():
        # A gate waits for what its conditions wait for, besides the data they read.
        waits = set().union(*(built[c].get("DependsOn", ()) for c in combined))
        waits -= _reads(built[gate])
        if waits:
            built[gate]["DependsOn"] = sorted(waits)
    for name, step in built.items():
        owner = placed.owners[name]
        if owner is not None:
            built[owner]["Arguments"]["IfSteps"].append(step)
    return {
        "Version": VERSION,
        "Metadata": {},
        "Parameters": parameters(component),
        "Steps": [step for name, step in built.items() if placed.owners[name] is None],
    }


# --- checking a definition ----------------------------------------------------------------------

STEP_KEYS = {
    "Name",
    "Type",
    "Arguments",
    "DependsOn",
    "PropertyFiles",
    "DisplayName",
    "Description",
    "CacheConfig",
    "RetryPolicies",
}
# Each job step's Arguments are the API request of the job it starts, without its name.
STEP_REQUESTS = {
    "Processing": ("CreateProcessingJob", "ProcessingJobName"),
    "Training": ("CreateTrainingJob", "TrainingJobName"),
    "RegisterModel": ("CreateModelPackage", "ModelPackageName"),
}
STEP_NAME = re.compile(r"[A-Za-z0-9\-_]{1,64}")
EXECUTION_VARIABLES = {
    "PipelineExecutionId",
    "PipelineExecutionArn",
    "StartDateTime",
    "CurrentDateTime",
    "PipelineName",
    "PipelineArn",
    "TrainingJobName",
    "ProcessingJobName",
}
# The properties a Get may read from each type of step (their first path segment).
STEP_PROPERTIES = {
    "Processing": {
        "ProcessingOutputConfig",
        "ProcessingJobName",
        "ProcessingJobArn",
        "ProcessingJobStatus",
        "PropertyFiles",
    },
    "Training": {
        "ModelArtifacts",
        "FinalMetricDataList",
        "TrainingJobName",
        "TrainingJobArn",
        "TrainingJobStatus",
        "OutputDataConfig",
    },
    "RegisterModel": {"ModelPackageArn", "ModelPackageName", "ModelApprovalStatus"},
    "Condition": {"Outcome"},
}
EXPRESSION_KEYS = {"Get", "Std:JsonGet", "Std:Join"}


def get_paths(value: Any) -> Iterator[str]:
    """Every `{"Get": path}` inside a value, in order."""
    found: list[str] = []
    _collect_gets(value, found)
    return iter(found)


def _collect_gets(value: Any, found: list[str]) -> None:
    # Walks every pipeline definition; scalars (most values) are skipped without a call, and
    # the exact types of frozen data are tried before the slower `isinstance(_, Mapping)`.
    kind = type(value)
    if kind is MappingProxyType or kind is dict or isinstance(value, Mapping):
        for key, item in value.items():
            if key == "Get" and isinstance(item, str):
                found.append(item)
            elif type(item) not in SCALAR_TYPES:
                _collect_gets(item, found)
    elif kind is tuple or kind is list or isinstance(value, list | tuple):
        for item in value:
            if type(item) not in SCALAR_TYPES:
                _collect_gets(item, found)


def all_steps(steps: Any) -> Iterator[dict]:
    """Every step of a step list, those inside conditions' branches included."""
    for step in steps if isinstance(steps, list | tuple) else ():
        yield step
        if isinstance(step, Mapping) and step.get("Type") == "Condition":
            arguments = step.get("Arguments") or {}
            yield from all_steps(arguments.get("IfSteps", []))
            yield from all_steps(arguments.get("ElseSteps", []))


@functools.cache
def _service_model() -> Any:
    import botocore.session  # noqa: PLC0415 - ~150 ms; only lowering needs it

    return botocore.session.get_session().get_service_model("sagemaker")


def _is_expression(value: Any) -> bool:
    if isinstance(value, Ref | Concat | Call | Json):
        return True
    return isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in EXPRESSION_KEYS


def _placeholder(shape: Any, value: Any) -> Any:
    minimum = shape.metadata.get("min", 1)
    if shape.type_name == "string":
        return "mlinfra-placeholder".ljust(int(minimum), "x")
    if shape.type_name in ("integer", "long"):
        return max(int(minimum), 1)
    if shape.type_name in ("float", "double"):
        return float(max(minimum, 1))
    if shape.type_name == "boolean":
        return True
    return value  # an expression where a structure belongs: let the validator say so


def _plain(value: Any) -> Any:
    """A mutable copy of frozen data (read-only maps, tuples), as botocore expects."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _with_placeholders(value: Any, shape: Any, path: str, problems: list[str]) -> Any:
    """A plain copy of `value` with expressions replaced by values of the shape's type, and
    the enum members botocore does not check checked here."""
    if _is_expression(value):
        return _placeholder(shape, value)
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        return {
            key: _with_placeholders(item, shape.members[key], f"{path}.{key}", problems)
            if key in shape.members
            else _plain(item)
            for key, item in value.items()
        }
    if kind == "list" and isinstance(value, list | tuple):
        return [
            _with_placeholders(item, shape.member, f"{path}[{i}]", problems)
            for i, item in enumerate(value)
        ]
    if kind == "map" and isinstance(value, Mapping):
        return {
            key: _with_placeholders(item, shape.value, f"{path}.{key}", problems)
            for key, item in value.items()
        }
    enum = getattr(shape, "enum", None)
    if kind == "string" and enum and isinstance(value, str) and value not in enum:
        problems.append(f"{path}: {value!r} is not one of {', '.join(enum)}")
    return value


def _check_arguments(step: Mapping[str, Any], where: str) -> list[str]:
    from botocore.validate import ParamValidator  # noqa: PLC0415

    operation, name_member = STEP_REQUESTS[step["Type"]]
    arguments = step.get("Arguments")
    if not isinstance(arguments, Mapping):
        return [f"{where}: Arguments must be an object"]
    problems: list[str] = []
    if name_member in arguments:
        problems.append(f"{where}: Arguments must not set {name_member}; the pipeline names it")
    shape = _service_model().operation_model(operation).input_shape
    params = _with_placeholders(arguments, shape, f"{where}.Arguments", problems)
    params.setdefault(name_member, "mlinfra-placeholder")
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        problems.extend(f"{where}: {line}" for line in report.generate_report().splitlines())
    return problems


def _check_condition(value: Any, where: str) -> list[str]:
    if not isinstance(value, Mapping) or value.get("Type") not in CONDITION_MEMBERS:
        return [f"{where}: not a condition: {value!r}"]
    kind = value["Type"]
    expected = {"Type", *CONDITION_MEMBERS[kind]}
    nested: list[str] = []
    if kind == "Not":
        nested = _check_condition(value.get(NEGATED), f"{where}.{NEGATED}")
    elif kind == "Or":
        items = value.get("Conditions")
        if not isinstance(items, list | tuple) or not items:
            nested.append(f"{where}: Or needs conditions")
        for i, item in enumerate(items or ()):
            nested += _check_condition(item, f"{where}.Conditions[{i}]")
    if set(value) != expected:
        nested.insert(0, f"{where}: a {kind} condition has exactly {', '.join(sorted(expected))}")
    return nested


def _check_step(step: Any, where: str) -> list[str]:
    if not isinstance(step, Mapping):
        return [f"{where}: a step must be an object"]
    problems = [f"{where}: unknown field {key!r}" for key in step if key not in STEP_KEYS]
    if not isinstance(step.get("Name"), str) or not STEP_NAME.fullmatch(step["Name"]):
        problems.append(f"{where}: invalid step name {step.get('Name')!r}")
    kind = step.get("Type")
    if kind in STEP_REQUESTS:
        problems += _check_arguments(step, where)
    elif kind == "Condition":
        arguments = step.get("Arguments") or {}
        extra = set(arguments) - {"Conditions", "IfSteps", "ElseSteps"}
        problems += [f"{where}.Arguments: unknown field {key!r}" for key in sorted(extra)]
        items = arguments.get("Conditions")
        if not isinstance(items, list | tuple) or not items:
            problems.append(f"{where}.Arguments: Conditions must be a non-empty list")
        for i, item in enumerate(items or ()):
            problems += _check_condition(item, f"{where}.Arguments.Conditions[{i}]")
    else:
        problems.append(f"{where}: unknown step type {kind!r}")
    if step.get("PropertyFiles") and kind != "Processing":
        problems.append(f"{where}: only processing steps have property files")
    return problems


def _outputs(step: Mapping[str, Any]) -> set[str]:
    config = (step.get("Arguments") or {}).get("ProcessingOutputConfig") or {}
    return {o.get("OutputName") for o in config.get("Outputs", ()) if isinstance(o, Mapping)}


def _property_files(step: Mapping[str, Any]) -> set[str]:
    return {
        f.get("PropertyFileName") for f in step.get("PropertyFiles", ()) if isinstance(f, Mapping)
    }


def _metric_names(step: Mapping[str, Any]) -> set[str]:
    algorithm = (step.get("Arguments") or {}).get("AlgorithmSpecification") or {}
    return {m.get("Name") for m in algorithm.get("MetricDefinitions", ()) if isinstance(m, Mapping)}


def _check_step_get(path: str, steps: Mapping[str, Mapping], where: str) -> list[str]:
    parts = path.split(".", 2)
    if len(parts) < 3 or parts[1] not in steps:
        return [f"{where}: Get {path!r} reads a step that does not exist"]
    step, rest = steps[parts[1]], parts[2]
    kind = step.get("Type")
    root = re.split(r"[.\[]", rest, maxsplit=1)[0]
    if root not in STEP_PROPERTIES.get(kind, set()):
        return [f"{where}: Get {path!r}: a {kind} step has no property {root!r}"]
    quoted = re.search(r"\['([^']*)'\]", rest)
    if root == "ProcessingOutputConfig" and (not quoted or quoted[1] not in _outputs(step)):
        return [f"{where}: Get {path!r} reads an output step {parts[1]!r} does not have"]
    if root == "FinalMetricDataList" and (not quoted or quoted[1] not in _metric_names(step)):
        return [f"{where}: Get {path!r} reads a metric step {parts[1]!r} does not define"]
    if root == "PropertyFiles" and rest.partition(".")[2] not in _property_files(step):
        return [f"{where}: Get {path!r} reads a property file step {parts[1]!r} does not have"]
    return []


def _check_get(path: str, steps: Mapping[str, Mapping], names: set[str], where: str) -> list[str]:
    head, _, rest = path.partition(".")
    if head == "Steps":
        return _check_step_get(path, steps, where)
    if head == "Parameters":
        return [] if rest in names else [f"{where}: Get {path!r} reads an unknown parameter"]
    if head == "Execution":
        return [] if rest in EXECUTION_VARIABLES else [f"{where}: unknown Get {path!r}"]
    return [f"{where}: unknown Get {path!r}"]


def _check_parameters(definition: Mapping[str, Any]) -> tuple[list[str], set[str]]:
    problems, names = [], set()
    kinds = {"String": str, "Integer": int, "Float": int | float, "Boolean": bool}
    for i, parameter in enumerate(definition.get("Parameters") or ()):
        where = f"Parameters[{i}]"
        name, kind = parameter.get("Name"), parameter.get("Type")
        if not isinstance(name, str) or not STEP_NAME.fullmatch(name):
            problems.append(f"{where}: invalid parameter name {name!r}")
        if kind not in kinds:
            problems.append(f"{where}: unknown parameter type {kind!r}")
        elif "DefaultValue" in parameter:
            value = parameter["DefaultValue"]
            wrong = isinstance(value, bool) != (kind == "Boolean")
            if wrong or not isinstance(value, kinds[kind]):
                problems.append(f"{where}: default {value!r} is not a {kind}")
        names.add(name)
    return problems, names


def _cycle(edges: Mapping[str, set[str]]) -> str | None:
    state: dict[str, int] = {}

    def visit(node: str) -> str | None:
        state[node] = 1
        for dep in sorted(edges.get(node, ())):
            if state.get(dep) == 1:
                return dep
            if dep not in state and (found := visit(dep)):
                return found
        state[node] = 2
        return None

    return next(
        (found for node in sorted(edges) if node not in state and (found := visit(node))), None
    )


def check_definition(definition: Mapping[str, Any]) -> list[str]:
    """Problems with a pipeline definition (an empty list when it is sound).

    Each job step's Arguments are validated against the SageMaker API request they become
    (botocore's service model), with Refs and pipeline expressions replaced by placeholders of
    the right type; then every step name, DependsOn, Get and property file must resolve.
    """
    problems: list[str] = []
    if definition.get("Version") != VERSION:
        problems.append(f"Version must be {VERSION!r}, not {definition.get('Version')!r}")
    extra = set(definition) - {
        "Version",
        "Metadata",
        "Parameters",
        "PipelineExperimentConfig",
        "MlflowConfig",  # the SageMaker Python SDK v3 writes it (null without MLflow)
        "Steps",
    }
    problems += [f"unknown field {key!r}" for key in sorted(extra)]
    found, parameter_names = _check_parameters(definition)
    problems += found
    steps_list = list(all_steps(definition.get("Steps") or []))
    if not steps_list:
        problems.append("a pipeline needs at least one step")
    steps: dict[str, Mapping] = {}
    for i, step in enumerate(steps_list):
        where = f"step {step.get('Name', i)!r}" if isinstance(step, Mapping) else f"step {i}"
        problems += _check_step(step, where)
        if isinstance(step, Mapping) and step.get("Name") in steps:
            problems.append(f"{where}: two steps have this name")
        elif isinstance(step, Mapping):
            steps[step.get("Name")] = step
    edges: dict[str, set[str]] = {}
    for name, step in steps.items():
        where = f"step {name!r}"
        depends = [d for d in step.get("DependsOn") or () if isinstance(d, str)]
        if len(depends) != len(step.get("DependsOn") or ()):
            problems.append(f"{where}: DependsOn entries must be step names")
        problems += [
            f"{where}: DependsOn {d!r}, which does not exist" for d in depends if d not in steps
        ]
        problems += [
            f"{where}: DependsOn condition step {d!r}, which waits for it to finish, not to "
            "hold; a step after a condition belongs in its IfSteps"
            for d in depends
            if steps.get(d, {}).get("Type") == "Condition"
        ]
        own = {k: v for k, v in step.items() if k != "Arguments"}
        arguments = step.get("Arguments") or {}
        if step.get("Type") == "Condition":
            arguments = {"Conditions": arguments.get("Conditions")}
        paths = list(get_paths(arguments)) + list(get_paths(own))
        for path in paths:
            problems += _check_get(path, steps, parameter_names, where)
        for output in (f.get("OutputName") for f in step.get("PropertyFiles", ())):
            if output not in _outputs(step):
                problems.append(f"{where}: property file of unknown output {output!r}")
        reads = {p.split(".")[1] for p in paths if p.startswith("Steps.") and "." in p[6:]}
        edges[name] = {d for d in depends if d in steps} | (reads & set(steps))
    looped = _cycle(edges)
    if looped:
        problems.append(f"steps depend on each other in a cycle through {looped!r}")
    return problems
