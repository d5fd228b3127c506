"""Pipelines: the `CreatePipeline` request a spec pipeline becomes.

The definition is built and checked in `pipeline_definition` from where the target keeps
the steps' code and the local files they read (uploaded objects on AWS, files in place in
the emulator), and the role the steps run as; a definition that fails the check is a bug
in mlinfra and stops the lowering with a `GraphError`. The definition goes into rendered
programs as the document itself (readable) and is sent as JSON text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlinfra.ir.graph import GraphError, Json
from mlinfra.ir.requests.tags import tags
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.pipeline_definition.check import check_definition
from mlinfra.ir.sagemaker.pipeline_definition.definition import pipeline_definition
from mlinfra.spec.model import Pipeline


def create_pipeline(
    ctx: LoweringContext,
    component: Pipeline,
    role_arn: Any,
    code_uris: Mapping[str, Any],
    data_uris: Mapping[str, Any],
) -> dict[str, Any]:
    """`CreatePipeline`'s request: the steps run as `role_arn`, each step's code at
    `code_uris[step]`, each local input at `data_uris[text]`. `ctx` says where outputs go."""
    definition = pipeline_definition(ctx, component, role_arn, code_uris, data_uris)
    problems = check_definition(definition)
    if problems:
        raise GraphError(f"{component.address}: invalid pipeline definition: {'; '.join(problems)}")
    name = ctx.name(component, "pipeline")
    request: dict[str, Any] = {
        "PipelineName": name,
        "PipelineDisplayName": name,
        "PipelineDefinition": Json(definition),
        "RoleArn": role_arn,
    }
    if component.description:
        request["PipelineDescription"] = component.description
    request["Tags"] = tags(ctx, component)
    return request
