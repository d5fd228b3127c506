"""The physical names a graph will deploy, by component: what `mlinfra output` shows until
a state records what was really created.

Each resource's own name is the property that names it in AWS (`name_property`): for a local
type, its SageMaker request's name field (`mlinfra.sagemaker.resources`); for a pulumi_aws
type, the one in `NAME_PROPERTIES` (S3's `bucket`, and each SageMaker type's name field as the
translator's tables spell it, `mlinfra.ir.sagemaker.fields`), else `name`.
Properties such as an endpoint's `endpoint_config_name` name *another* resource, so they are
never read. Resources without a name (a KMS key, a bucket's settings) are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from mlinfra.ir.graph import Call, Concat, Ref, Resource, ResourceGraph
from mlinfra.ir.local.api import ENDPOINT as LOCAL_ENDPOINT
from mlinfra.ir.sagemaker.fields import NAME_ARGUMENTS
from mlinfra.sagemaker.resources import LOCAL_PREFIX, of_type
from mlinfra.state.model import State

FORMAT_VERSION = "2"

# pulumi_aws types whose own name property is known: S3's buckets, and SageMaker's as the
# translator's tables say. Any other type's is `name`.
NAME_PROPERTIES: Mapping[str, str] = MappingProxyType(
    {"aws.s3.Bucket": "bucket", "aws.s3.BucketV2": "bucket", **NAME_ARGUMENTS}
)


def name_property(type_: str) -> str:
    """The property of a resource of `type_` that holds its own name."""
    kind = of_type(type_) if type_.startswith(LOCAL_PREFIX) else None
    # The local target's properties are SageMaker requests: `ModelName`, `EndpointName`...
    return kind.name_field if kind is not None else NAME_PROPERTIES.get(type_, "name")


def physical_name(resource: Resource) -> str | None:
    """The name `resource` has in AWS, or None when it has none.

    A name completed only when the program runs (a model's `-v<version>` of the latest
    approved version) shows the missing part in angle brackets, which no AWS name contains:
    `churn-prod-churn-model-1a2b3c4d-v<latest_approved_version(churn-prod-churn)>`.
    """
    value = resource.properties.get(name_property(resource.type))
    if isinstance(value, str):
        return value
    if isinstance(value, Concat):
        return "".join(_shown(part) for part in value.parts)
    return None


def _shown(part: object) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, Ref):
        return f"<{part.address}.{part.attribute}>"
    if isinstance(part, Call):
        return f"<{part.function}({', '.join(str(a) for a in part.args)})>"
    if isinstance(part, Concat):
        return "".join(_shown(p) for p in part.parts)
    return "<?>"


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def physical_names(graph: ResourceGraph) -> dict[str, dict[str, str]]:
    """component address -> {resource address -> physical name}, in graph order; every
    component appears, with an empty map when none of its resources has a name."""
    found: dict[str, dict[str, str]] = {}
    for resource in graph.resources:
        names = found.setdefault(resource.component, {})
        name = physical_name(resource)
        if name is not None:
            names[resource.address] = name
    return found


def outputs_document(
    graph: ResourceGraph, state: State | None = None, emulator_url: str | None = None
) -> dict:
    """The JSON form of `mlinfra output`: versioned, keyed by component address.

    Each component has its own physical `name` (None for components that are a group of
    resources, such as a bucket's settings), its `arn` once a state records one, for a local
    endpoint the `url` to invoke while the emulator runs, and every resource's name under
    `resources`. `source` says where the names come from: `compiled` (the compiler's
    decisions, before anything exists) or `state` (what applying recorded).
    """
    recorded = state is not None and not state.is_empty
    components: dict[str, dict[str, Any]] = {}
    for component, names in physical_names(graph).items():
        components[component] = {"name": names.get(component), "resources": names}
    if recorded:
        components = {}
        for address, entry in state.resources.items():
            if "#" in address:  # a replaced resource not yet deleted
                continue
            component = address.split("/", 1)[0]
            found = components.setdefault(component, {"name": None, "resources": {}})
            outputs = entry.outputs or {}
            # Pulumi's outputs name a bucket `bucket`, a feature group `feature_group_name`...
            # Only text is a name: a state edited by hand may hold anything there.
            name = _text(outputs.get("name")) or _text(outputs.get(name_property(entry.type)))
            found["resources"][address] = name
            if address == component:
                found["name"] = name
                if _text(outputs.get("arn")):
                    found["arn"] = outputs["arn"]
                if entry.type == LOCAL_ENDPOINT and emulator_url and name:
                    found["url"] = f"{emulator_url}/endpoints/{name}/invocations"
        # In the spec's order, as before applying; what the spec no longer has comes last.
        order = list(physical_names(graph))
        components = dict(sorted(components.items(), key=lambda item: _position(order, item[0])))
    return {
        "format_version": FORMAT_VERSION,
        "project": graph.project,
        "environment": graph.env,
        "source": "state" if recorded else "compiled",
        "components": components,
    }


def _position(order: list[str], component: str) -> int:
    return order.index(component) if component in order else len(order)
