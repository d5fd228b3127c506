"""The physical names a graph will deploy, by component: what `mlinfra output` shows until
a state records what was really created.

Each resource's own name is the property that names it in AWS: `name` for most types, and
for the few whose name property is called otherwise, the one in `NAME_PROPERTIES`.
Properties such as an endpoint's `endpoint_config_name` name *another* resource, so they are
never read. Resources without a name (a KMS key, a bucket's settings) are left out.
"""

from __future__ import annotations

from mlinfra.ir.graph import Call, Concat, Ref, Resource, ResourceGraph
from mlinfra.ir.local.api import NAME_FIELDS as LOCAL_NAME_FIELDS

FORMAT_VERSION = "1"

# Types whose own name is not in `name`.
NAME_PROPERTIES = {
    "aws.s3.Bucket": "bucket",
    "aws.s3.BucketV2": "bucket",
    "aws.sagemaker.FeatureGroup": "feature_group_name",
    "aws.sagemaker.Pipeline": "pipeline_name",
    "aws.sagemaker.ModelPackageGroup": "model_package_group_name",
    # The local target's properties are SageMaker requests: `ModelName`, `EndpointName`...
    **LOCAL_NAME_FIELDS,
}


def physical_name(resource: Resource) -> str | None:
    """The name `resource` has in AWS, or None when it has none.

    A name completed only when the program runs (a model's `-v<version>` of the latest
    approved version) shows the missing part in angle brackets, which no AWS name contains:
    `churn-prod-churn-model-1a2b3c4d-v<latest_approved_version(churn-prod-churn)>`.
    """
    value = resource.properties.get(NAME_PROPERTIES.get(resource.type, "name"))
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


def outputs_document(graph: ResourceGraph) -> dict:
    """The JSON form of `mlinfra output`: versioned, and saying where the names come from
    (`compiled`: the compiler's decisions; a state will say `state`)."""
    return {
        "format_version": FORMAT_VERSION,
        "project": graph.project,
        "environment": graph.env,
        "source": "compiled",
        "components": physical_names(graph),
    }
