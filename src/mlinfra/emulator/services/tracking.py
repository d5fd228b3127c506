"""What SageMaker records by itself: experiments and lineage written by pipeline executions,
model package registrations and endpoint deployments.

As SageMaker Pipelines do (their default experiment configuration), an execution is a
trial, named by the execution's id, of the experiment named by its pipeline; each job step
is a trial component (`<job>-aws-training-job`, `<job>-aws-processing-job`) with its source
job, status, times, hyperparameters (`Parameters`), inputs and outputs and metric summaries:
a training job's final metrics and, which SageMaker does not, the metrics a processing step
reported in its evaluation report, so runs compare by them. A step reused from an earlier
execution's cache is that execution's trial component, joined to this trial too.

Lineage follows "Amazon SageMaker AI-Created Tracking Entities" (the Developer Guide):
- a job: an artifact for each input (`DataSet`; a step's code `Code`) contributing to its
  trial component, and one for each output it produced (`DataSet`; a training job's model
  `Model`); the trial components of an execution associated with its context
  (`SageMakerPipelineExecution`), itself associated with its pipeline's (`SageMakerPipeline`);
- a model package: an artifact (`ModelPackage`) associated with its group's context
  (`ModelGroup`), the artifact of its model (`Model`) contributing to it, and an action for
  its creation (`ModelPackageCreation`);
- an endpoint: its context (`Endpoint`), the deployment action (`ModelDeployment`) it is
  associated with, and the artifacts of the model and model package deployed contributing
  to that action.
An artifact is identified by its type, source URI and content hash, so the model a training
job produced is the very artifact its model package names. Recording never fails what is
recorded: a problem is logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from mlinfra.emulator.kit.errors import ApiError
from mlinfra.emulator.services.experiments import Experiments
from mlinfra.emulator.services.lineage import Lineage
from mlinfra.sagemaker.evidence import ARTIFACT

log = logging.getLogger("mlinfra.emulator.tracking")

JOB_SUFFIXES = {"training-job": "aws-training-job", "processing-job": "aws-processing-job"}
SOURCE_TYPES = {"training-job": "SageMakerTrainingJob", "processing-job": "SageMakerProcessingJob"}
CODE_INPUT = "code"
ENTITY_NAME_LIMIT = 120


def entity_name(text: str) -> str:
    """`text` as an experiment entity's name (`[a-zA-Z0-9](-*[a-zA-Z0-9]){0,119}`)."""
    name = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-")[:ENTITY_NAME_LIMIT].strip("-")
    return name or "unnamed"


def job_component(job_arn: str) -> str:
    """The name of the trial component SageMaker makes for a job."""
    kind, _, job = job_arn.split(":", 5)[-1].partition("/")
    return entity_name(f"{job}-{JOB_SUFFIXES.get(kind, kind)}")


class Tracking:
    """Writes what SageMaker tracks itself, through the experiments and lineage services.

    `call` runs a control-plane operation (to read an endpoint's configuration)."""

    def __init__(
        self,
        experiments: Experiments,
        lineage: Lineage,
        call: Callable[[str, dict, str], dict],
    ) -> None:
        self.experiments = experiments
        self.lineage = lineage
        self.call = call

    def after(self, operation: str, params: dict, result: dict, region: str) -> None:
        """Record what a successful operation made, if SageMaker would."""
        recorders = {
            "CreateModelPackage": self._model_package,
            "CreateEndpoint": self._endpoint,
            "UpdateEndpoint": self._endpoint,
        }
        recorder = recorders.get(operation)
        if recorder is None:
            return
        try:
            recorder(params, result, region)
        except (ApiError, KeyError, TypeError, ValueError):
            log.exception("recording the lineage of %s", operation)

    def execution(self, record: dict, lineage: dict[str, dict], region: str) -> None:
        """Record a pipeline execution that ended: its trial and its jobs' components."""
        try:
            self._execution(record, lineage, region)
        except (ApiError, KeyError, TypeError, ValueError):
            log.exception("recording the lineage of %s", record.get("PipelineExecutionArn"))

    # --- pipeline executions ---------------------------------------------------------------

    def _execution(self, record: dict, lineage: dict[str, dict], region: str) -> None:
        experiment = entity_name(record["PipelineName"])
        trial = entity_name(record["PipelineExecutionArn"].rsplit("/", 1)[-1])
        try:
            self.experiments.experiment(experiment)
        except ApiError:
            self.experiments.create_experiment(
                {"ExperimentName": experiment, "DisplayName": experiment}, region
            )
        try:
            self.experiments.trial(trial)
        except ApiError:
            request = {
                "TrialName": trial,
                "ExperimentName": experiment,
                "MetadataProperties": {"GeneratedBy": record["PipelineExecutionArn"]},
            }
            self.experiments.create_trial(request, region)
        pipeline = self.lineage.context(
            entity_name(f"{record['PipelineName']}-pipeline"),
            "SageMakerPipeline",
            record["PipelineArn"],
            region,
        )
        run = self.lineage.context(
            entity_name(f"{record['PipelineName']}-{trial}-execution"),
            "SageMakerPipelineExecution",
            record["PipelineExecutionArn"],
            region,
        )
        self.lineage.associate(run, pipeline, "AssociatedWith")
        status = {s["StepName"]: s for s in record.get("Steps", [])}
        outputs: dict[str, str] = {}  # location -> artifact, of what the jobs wrote
        inputs: list[tuple[str, str]] = []  # (location, artifact) of what they read
        for step, entry in lineage.items():
            if "job" in entry:
                component = self._job(entry, status.get(step, {}), region, outputs, inputs)
                self.experiments.associate_trial_component(
                    {"TrialComponentName": job_component(entry["job"]), "TrialName": trial},
                    region,
                )
                self.lineage.associate(component, run, "AssociatedWith")
        # A job reads what an earlier one wrote at its location, or in a folder of it (a
        # training channel reads the `train` folder of a processing output).
        for location, artifact in inputs:
            for written, produced in outputs.items():
                if produced != artifact and (
                    location == written or location.startswith(written.rstrip("/") + "/")
                ):
                    self.lineage.associate(produced, artifact, "ContributedTo")

    def _job(
        self,
        entry: dict,
        step: dict,
        region: str,
        outputs: dict[str, str],
        inputs: list[tuple[str, str]],
    ) -> str:
        """A job step's trial component and the artifacts of what it read and wrote."""
        job = entry["job"]
        name = job_component(job)
        kind = job.split(":", 5)[-1].partition("/")[0]
        fields: dict[str, Any] = {
            "Status": {"PrimaryStatus": "Completed" if "ended" in entry else "Failed"},
            "Parameters": {k: _parameter(v) for k, v in (entry.get("parameters") or {}).items()},
            "InputArtifacts": _artifacts(entry.get("inputs")),
            "OutputArtifacts": _artifacts(entry.get("outputs")),
        }
        for field, when in (("StartTime", "started"), ("EndTime", "ended")):
            if entry.get(when) is not None:
                fields[field] = entry[when]
        if step.get("FailureReason"):
            fields["Status"]["Message"] = step["FailureReason"][:1024]
        existing = self._existing_component(name)
        source = {"SourceArn": job, "SourceType": SOURCE_TYPES.get(kind, kind)}
        component = self.experiments.record_job(name, source, fields, region)
        if existing is None and entry.get("metrics"):
            self.experiments.put_metrics(name, entry["metrics"], entry.get("ended") or 0.0)
        for input_name, item in (entry.get("inputs") or {}).items():
            kind_of = "Code" if input_name == CODE_INPUT else "DataSet"
            artifact = self._artifact(kind_of, item, region)
            self.lineage.associate(artifact, component, "ContributedTo")
            inputs.append((str(item["location"]), artifact))
        for item in (entry.get("code") or {}).values():
            self.lineage.associate(self._artifact("Code", item, region), component, "ContributedTo")
        for output_name, item in (entry.get("outputs") or {}).items():
            kind_of = "Model" if output_name == "model" else "DataSet"
            artifact = self._artifact(kind_of, item, region)
            self.lineage.associate(component, artifact, "Produced")
            outputs[str(item["location"])] = artifact
        return component

    def _existing_component(self, name: str) -> dict | None:
        try:
            return self.experiments.trial_component(name)
        except ApiError:
            return None

    def _artifact(self, kind: str, item: dict, region: str) -> str:
        return self.lineage.track(kind, item["location"], region, item.get("sha256", ""))

    # --- registrations and deployments -----------------------------------------------------

    def _model_package(self, params: dict, result: dict, region: str) -> None:
        package_arn = result["ModelPackageArn"]
        package = self.lineage.track("ModelPackage", package_arn, region)
        version = "-".join(package_arn.rsplit("/", 2)[-2:])
        creation = self.lineage.action(
            entity_name(f"{version}-created"),
            "ModelPackageCreation",
            package_arn,
            region,
            "Completed",
        )
        self.lineage.associate(package, creation, "AssociatedWith")
        group = params.get("ModelPackageGroupName")
        if group:
            group_arn = package_arn.rsplit(":", 1)[0] + f":model-package-group/{group}"
            context = self.lineage.context(
                entity_name(f"{group}-model-group"), "ModelGroup", group_arn, region
            )
            self.lineage.associate(package, context, "ContributedTo")
        digest = (params.get("CustomerMetadataProperties") or {}).get(ARTIFACT, "")
        digest = digest.removeprefix("sha256:")
        for container in (params.get("InferenceSpecification") or {}).get("Containers", []):
            if container.get("ModelDataUrl"):
                item = {"location": container["ModelDataUrl"], "sha256": digest}
                self.lineage.associate(
                    self._artifact("Model", item, region), package, "ContributedTo"
                )
            if container.get("Image"):
                image = self.lineage.track("Image", container["Image"], region)
                self.lineage.associate(image, package, "ContributedTo")

    def _endpoint(self, params: dict, result: dict, region: str) -> None:
        endpoint_arn = result["EndpointArn"]
        name = params["EndpointName"]
        context = self.lineage.context(
            entity_name(f"{name}-endpoint"), "Endpoint", endpoint_arn, region
        )
        config = self.call(
            "DescribeEndpointConfig", {"EndpointConfigName": params["EndpointConfigName"]}, region
        )
        deployment = entity_name(f"{name}-{params['EndpointConfigName']}-deployment")
        action = self.lineage.action(
            deployment, "ModelDeployment", config["EndpointConfigArn"], region, "Completed"
        )
        self.lineage.associate(action, context, "AssociatedWith")
        for variant in config.get("ProductionVariants", []):
            model = self.call("DescribeModel", {"ModelName": variant["ModelName"]}, region)
            containers = [model["PrimaryContainer"]] if model.get("PrimaryContainer") else []
            for container in [*containers, *model.get("Containers", [])]:
                package = container.get("ModelPackageName")
                if package:
                    described = self.call(
                        "DescribeModelPackage", {"ModelPackageName": package}, region
                    )
                    artifact = self.lineage.track(
                        "ModelPackage", described["ModelPackageArn"], region
                    )
                    self.lineage.associate(artifact, action, "ContributedTo")
                elif container.get("ModelDataUrl"):
                    item = {"location": container["ModelDataUrl"], "sha256": ""}
                    artifact = self._artifact("Model", item, region)
                    self.lineage.associate(artifact, action, "ContributedTo")


def _parameter(value: Any) -> dict:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"NumberValue": float(value)}
    return {"StringValue": str(value)[:2500]}


def _artifacts(items: dict | None) -> dict:
    return {
        name[:64]: {"Value": str(item["location"])[:2048]} for name, item in (items or {}).items()
    }
