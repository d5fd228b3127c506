"""An emulator holding one resource of every kind its control plane serves.

What the property tests send their requests to (so that conforming requests reach the
handlers, not only "not found"), and what the tests of response shapes describe and list.
"""

from __future__ import annotations

import http.client
import json
import threading
from pathlib import Path

from mlinfra.emulator.access import Access
from mlinfra.emulator.protocol import service_of_target, signing_name
from mlinfra.emulator.server import EmulatorServer

ROLE = "arn:aws:iam::123456789012:role/fuzz"
# A pipeline that runs in a moment: a condition step, then a step the emulator cannot run, so
# an execution holds a succeeded and a failed step.
PIPELINE = json.dumps({
    "Version": "2020-12-01",
    "Parameters": [{"Name": "Threshold", "Type": "Float", "DefaultValue": 0.5}],
    "Steps": [{"Name": "Check", "Type": "Condition", "Arguments": {
        "Conditions": [], "ElseSteps": [],
        "IfSteps": [{"Name": "Stop", "Type": "Fail", "Arguments": {}}]}}],
})  # fmt: skip


class Populated:
    """A running emulator holding one resource of every kind, and the names that reach them."""

    def __init__(self, root: Path) -> None:
        state = root / ".mlinfra" / "emulator"
        state.mkdir(parents=True)
        self.root = root
        self.server = EmulatorServer(root, state, 0, schedule=False)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.access = Access.for_server(self.server)
        self.sm = self.access.client("sagemaker")
        self.seeds: dict[str, list] = {}
        self.requests = 0
        self.restore()

    def restore(self) -> None:
        """Create whatever of the seeded resources is missing (a fuzzed Delete* may remove
        one), and record the names and ARNs that reach them."""
        sm, found = self.sm, self.server.control.store
        create_endpoint(sm, found)
        if not found.get("model-package-group", "fz-group"):
            sm.create_model_package_group(ModelPackageGroupName="fz-group")
        versions = found.all("model-package", "fz-group/")
        if not versions:
            sm.create_model_package(ModelPackageGroupName="fz-group", InferenceSpecification={
                "Containers": [{"Image": "sklearn", "ModelDataUrl": "file:model"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"]})  # fmt: skip
            versions = found.all("model-package", "fz-group/")
        if not found.get("feature-group", "fz-features"):
            sm.create_feature_group(
                FeatureGroupName="fz-features", RecordIdentifierFeatureName="id",
                EventTimeFeatureName="time", RoleArn=ROLE,
                FeatureDefinitions=[{"FeatureName": "id", "FeatureType": "String"},
                                    {"FeatureName": "time", "FeatureType": "Fractional"},
                                    {"FeatureName": "count", "FeatureType": "Integral"}],
                OnlineStoreConfig={"EnableOnlineStore": True},
                OfflineStoreConfig={"S3StorageConfig": {"S3Uri": "file:offline"}},
            )  # fmt: skip
        if not found.get("pipeline", "fz-pipeline"):
            sm.create_pipeline(PipelineName="fz-pipeline", PipelineDefinition=PIPELINE,
                               RoleArn=ROLE)  # fmt: skip
        executions = found.all("pipeline-execution")
        if not executions:
            sm.start_pipeline_execution(PipelineName="fz-pipeline")
            executions = found.all("pipeline-execution")
        if not found.get("monitoring-schedule", "fz-monitor"):
            create_schedule(sm, self.root, "fz-monitor")
        lineage = restore_tracking(sm, found)
        create_jobs(sm, found)
        arns = [r.get(k) for r in (found.get("model", "fz-model") or {},
                                    found.get("endpoint", "fz-endpoint") or {})
                for k in ("ModelArn", "EndpointArn") if r.get(k)]  # fmt: skip
        self.seeds = {
            "ModelName": ["fz-model"],
            "EndpointConfigName": ["fz-config"],
            "EndpointName": ["fz-endpoint"],
            "ModelPackageGroupName": ["fz-group"],
            "ModelPackageName": [versions[0]["ModelPackageArn"], "fz-group"],
            "ModelPackageArn": [versions[0]["ModelPackageArn"]],
            "FeatureGroupName": ["fz-features"],
            "FeatureName": ["id", "time", "count"],
            "RecordIdentifierValueAsString": ["r1"],
            "PipelineName": ["fz-pipeline"],
            "PipelineExecutionArn": [e["PipelineExecutionArn"] for e in executions[:1]],
            "MonitoringScheduleName": ["fz-monitor"],
            "ResourceArn": [*arns, versions[0]["ModelPackageArn"]],
            "VariantName": ["AllTraffic"],
            **lineage,
            "TrainingJobName": ["fz-training"],
            "ProcessingJobName": ["fz-processing"],
            "TransformJobName": ["fz-transform"],
        }

    def send(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple:
        self.requests += 1
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        try:
            # Signed as a client holding the emulator's credentials signs: the fuzz reaches
            # the parsing behind the signature check, not only the check.
            # Each API's own signing name (CloudWatch's is `monitoring`), as boto3 signs.
            api = service_of_target(headers.get("X-Amz-Target")) if path == "/" else "sagemaker"
            signed = self.access.signed_headers(method, path, body, headers, signing_name(api))
            conn.request(method, path, body=body, headers=signed)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def restore_tracking(sm, found) -> dict[str, list]:
    """An experiment, a trial, a trial component in it, an artifact, an action, a context
    and an association, unless there; the seeds that reach them."""
    if not found.get("experiment", "fz-experiment"):
        sm.create_experiment(ExperimentName="fz-experiment")
    if not found.get("experiment-trial", "fz-trial"):
        sm.create_trial(TrialName="fz-trial", ExperimentName="fz-experiment")
    component = found.get("experiment-trial-component", "fz-component")
    if not component:
        sm.create_trial_component(
            TrialComponentName="fz-component", Parameters={"C": {"NumberValue": 0.5}}
        )
    if not (component or {}).get("Parents"):
        sm.associate_trial_component(TrialComponentName="fz-component", TrialName="fz-trial")
    artifacts = found.all("artifact")
    if not artifacts:
        sm.create_artifact(Source={"SourceUri": "file:data.csv"}, ArtifactType="DataSet")
        artifacts = found.all("artifact")
    if not found.get("action", "fz-action"):
        sm.create_action(ActionName="fz-action", Source={"SourceUri": "file:x"}, ActionType="Run")
    if not found.get("context", "fz-context"):
        sm.create_context(
            ContextName="fz-context", Source={"SourceUri": "file:y"}, ContextType="Thing"
        )
    action = found.get("action", "fz-action")["ActionArn"]
    context = found.get("context", "fz-context")["ContextArn"]
    if not found.all("association"):
        sm.add_association(SourceArn=action, DestinationArn=context)
    return {
        "ExperimentName": ["fz-experiment"],
        "TrialName": ["fz-trial"],
        "TrialComponentName": ["fz-component"],
        "ArtifactArn": [artifacts[0]["ArtifactArn"]],
        "ActionName": ["fz-action"],
        "ContextName": ["fz-context"],
        "SourceArn": [action],
        "DestinationArn": [context],
        "StartArns": [[action]],
    }


def create_endpoint(sm, found) -> None:
    """The model, config and endpoint `fz-*` (the model does not load: the endpoint is
    Failed at once, with no worker left running), whichever the store `found` lacks."""
    if not found.get("model", "fz-model"):
        sm.create_model(ModelName="fz-model", ExecutionRoleArn=ROLE, PrimaryContainer={
            "Image": "sklearn", "ModelDataUrl": "model/not-there"})  # fmt: skip
    if not found.get("endpoint-config", "fz-config"):
        sm.create_endpoint_config(EndpointConfigName="fz-config", ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": "fz-model",
            "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])  # fmt: skip
    if not found.get("endpoint", "fz-endpoint"):
        sm.create_endpoint(EndpointName="fz-endpoint", EndpointConfigName="fz-config")


def create_schedule(sm, root: Path, name: str, endpoint: str = "fz-endpoint") -> None:
    """A data-quality monitoring schedule of `endpoint`, on placeholder baseline files
    (so creating it runs no baselining job)."""
    folder = root / "baseline"
    folder.mkdir(exist_ok=True)
    for file in ("constraints.json", "statistics.json"):
        (folder / file).write_text('{"version": 0.0, "features": []}')
    job = {
        "BaselineConfig": {
            "ConstraintsResource": {"S3Uri": "file:baseline/constraints.json"},
            "StatisticsResource": {"S3Uri": "file:baseline/statistics.json"},
        },
        "MonitoringInputs": [{"EndpointInput": {
            "EndpointName": endpoint, "LocalPath": "/opt/ml/processing/input"}}],
        "MonitoringOutputConfig": {"MonitoringOutputs": [{"S3Output": {
            "S3Uri": "file:reports", "LocalPath": "/opt/ml/processing/output"}}]},
        "MonitoringResources": {"ClusterConfig": {
            "InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 20}},
        "MonitoringAppSpecification": {"ImageUri": "analyzer"},
        "RoleArn": ROLE,
    }  # fmt: skip
    sm.create_monitoring_schedule(
        MonitoringScheduleName=name,
        MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": "cron(0 0 ? * * *)"},
            "MonitoringType": "DataQuality",
            "MonitoringJobDefinition": job,
        },
    )


def create_jobs(sm, found) -> None:
    """A job of each kind; each ends in a moment (the training job fails: it names no code)."""
    if not found.get("training-job", "fz-training"):
        sm.create_training_job(
            TrainingJobName="fz-training", RoleArn=ROLE,
            AlgorithmSpecification={"TrainingImage": "sklearn", "TrainingInputMode": "File"},
            OutputDataConfig={"S3OutputPath": "file:artifacts"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1,
                            "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 60},
        )  # fmt: skip
    if not found.get("processing-job", "fz-processing"):
        sm.create_processing_job(
            ProcessingJobName="fz-processing", RoleArn=ROLE,
            ProcessingResources={"ClusterConfig": {
                "InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}},
            AppSpecification={"ImageUri": "sklearn",
                              "ContainerEntrypoint": ["python3", "-c", "pass"]},
        )  # fmt: skip
    if not found.get("transform-job", "fz-transform"):
        sm.create_transform_job(
            TransformJobName="fz-transform", ModelName="fz-model",
            TransformInput={"DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": "file:batch"}}},
            TransformOutput={"S3OutputPath": "file:batch-out"},
            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        )  # fmt: skip
