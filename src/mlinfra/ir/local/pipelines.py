"""Pipelines: a pipeline in the emulator, whose definition its runner executes.

The definition is the one the SageMaker target builds (`pipeline_definition`), with local
locations in place of S3 ones, so what runs locally is what would run on SageMaker:

- each step's code is its script in place (`file:<script>`, relative to the spec's folder);
  the runner copies it into the execution's folder when the step starts;
- local `inputs:` are `file:<path>`;
- `feature_store.<store>` is the feature group's offline folder in the emulator (the
  `S3Uri` its own `OfflineStoreConfig` names), which the runner exports as Parquet;
- outputs live under `.mlinfra/emulator/pipelines/<pipeline>/` (processing outputs in
  `runs/<execution id>/<step>`, model artifacts in `<step>/<job>/output/model.tar.gz`).

There is no role and no schedule resource: the emulator runs steps as the user, and starts
the pipeline on its `schedule` itself, which it reads from the pipeline's `mlinfra:schedule`
tag (SageMaker has no schedule field on a pipeline; on AWS an EventBridge rule starts it),
base64-encoded when the schedule has characters a tag value may not hold
(`values.schedule_tag`).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlinfra.ir.graph import GraphError, Resource
from mlinfra.ir.local.api import PIPELINE
from mlinfra.ir.local.feature_stores import OFFLINE_FOLDER
from mlinfra.ir.requests.pipelines import create_pipeline
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.ir.sagemaker.pipeline_definition.conditions import serving_metrics
from mlinfra.ir.sagemaker.pipeline_definition.inputs import classify_input
from mlinfra.ir.sagemaker.pipelines import CODE_FIELDS, used_by_name
from mlinfra.sagemaker.arns import EXAMPLE_ACCOUNT, role_arn
from mlinfra.sagemaker.serving_lookup import SCRIPT_NAME
from mlinfra.sagemaker.serving_lookup import STEP_NAME as SERVING
from mlinfra.spec.model import Pipeline
from mlinfra.spec.values import schedule_tag

EMULATOR_FOLDER = ".mlinfra/emulator"
# The emulator accepts any role; this one says plainly that none is assumed.
ROLE_ARN = role_arn(EXAMPLE_ACCOUNT, "mlinfra-local-pipeline")
# The tag the emulator's scheduler reads a pipeline's schedule from.
SCHEDULE_TAG = "mlinfra:schedule"


@dataclass(frozen=True)
class LocalLocations(LoweringContext):
    """A lowering context whose bucket locations are folders of the local emulator."""

    pipeline_name: str = ""
    spec_pipeline: str = ""

    def s3_uri(self, purpose: str, *parts: str) -> str:  # type: ignore[override]
        if parts[:1] == ("feature-store",) and len(parts) == 2:
            store = self.spec.feature_stores.get(parts[1])
            if store is None:
                raise GraphError(f"feature store {parts[1]!r} is not in this environment")
            return f"file:{OFFLINE_FOLDER}/{self.name(store, 'feature_group')}"
        if parts[:2] == ("pipelines", self.spec_pipeline):
            parts = ("pipelines", self.pipeline_name, *parts[2:])
        return "file:" + "/".join((EMULATOR_FOLDER, *parts))


def lower_pipeline(ctx: LoweringContext, component: Pipeline) -> list[Resource]:
    name = ctx.name(component, "pipeline")
    local = LocalLocations(ctx.spec, ctx.spec_dir, pipeline_name=name, spec_pipeline=component.name)
    steps = component.steps
    code_uris = {
        step: f"file:{getattr(body, CODE_FIELDS[body.type])}"
        for step, body in steps.items()
        if body.type in CODE_FIELDS
    }
    if serving_metrics(steps):
        # The emulator's runner answers the `serving` step itself, from its own registry,
        # with the code the step runs on SageMaker (`serving_lookup.serving_document`).
        code_uris[SERVING] = f"file:{EMULATOR_FOLDER}/{SCRIPT_NAME}"
    data_uris = {
        text: f"file:{text}"
        for body in steps.values()
        for text in body.reads()
        if classify_input(text, steps)[0] == "local"
    }
    # Built and checked as on the SageMaker target: the same definition, local locations.
    request = create_pipeline(local, component, ROLE_ARN, code_uris, data_uris)
    if component.schedule:
        # Encoded where AWS's tag rules need it: the emulator checks tags as AWS does.
        value = schedule_tag(component.schedule)
        request["Tags"].append({"Key": SCHEDULE_TAG, "Value": value})
    return [
        ctx.resource(
            component.address,
            PIPELINE,
            request,
            component.key_range,
            depends_on=used_by_name(ctx, component),
        )
    ]
