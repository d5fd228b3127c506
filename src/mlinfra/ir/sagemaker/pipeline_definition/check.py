"""Checking a definition against SageMaker's own API shapes (botocore's service model),
so a wrong field is a failed compile rather than a failed deployment."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mlinfra.frozen import thaw
from mlinfra.ir.graph import Call, Concat, Json, Ref
from mlinfra.ir.sagemaker.pipeline_definition.document import (
    STEP_NAME,
    VERSION,
    all_steps,
    get_paths,
)
from mlinfra.sagemaker.api import SAGEMAKER, service_model
from mlinfra.sagemaker.pipelines import CONDITION_MEMBERS, NEGATED

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
    "Transform": ("CreateTransformJob", "TransformJobName"),
}
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
    "Transform": {"TransformJobName", "TransformJobArn", "TransformJobStatus", "TransformOutput"},
    "Condition": {"Outcome"},
}
EXPRESSION_KEYS = {"Get", "Std:JsonGet", "Std:Join"}


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
            else thaw(item)
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
    shape = service_model(SAGEMAKER).operation_model(operation).input_shape
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
