"""The SageMaker Pipelines operations of the emulator, over the control plane's store.

Pipelines and executions are records like every other (`pipeline`, `pipeline-execution`);
each execution runs on its own background thread (`runner.Execution`) and writes its status
and steps back to its record as it goes, so Describe*/List* always show the live state. An
execution keeps the definition it started with: updating a pipeline never changes a run.

If the emulator stops while an execution runs, its record, and the step that was running,
say Failed when the emulator comes back: its processes died with it (`supervisor.py`), and a
run is never resumed half-way.
"""

from __future__ import annotations

import json
import logging
import secrets
import string
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlinfra.emulator.containers import JobFailure, Locations, parquet_exporter
from mlinfra.emulator.kit.arns import arn, prefix
from mlinfra.emulator.kit.errors import ApiError, invalid, not_found
from mlinfra.emulator.kit.paging import descending
from mlinfra.emulator.kit.paths import PathRefused, Roots, child
from mlinfra.emulator.kit.records import Kind, Listing, created_between, output
from mlinfra.emulator.services.pipelines.expressions import DefinitionError, Scope, parse_definition
from mlinfra.emulator.services.pipelines.runner import CONDITION_FILE, Context, Execution
from mlinfra.emulator.store import Store
from mlinfra.sagemaker import resources
from mlinfra.sagemaker.offline_rows import export_latest_rows

PIPELINE = resources.PIPELINE.arn_kind
EXECUTION = "pipeline-execution"
CACHE = "pipeline-step-cache"
RUNNING = ("Executing", "Stopping")
STEP_RUNNING = ("Starting", "Executing", "Stopping")
STEP_STOPPED = "The emulator stopped while this step ran."
ID_ALPHABET = string.ascii_lowercase + string.digits
ID_LENGTH = 12
JOB_ENDED = ("Completed", "Failed", "Stopped")
JOB_POLL_SECONDS = 0.1  # a transform step's wait between two looks at its job
TYPES = {"Integer": int, "Float": float, "String": str}

log = logging.getLogger("mlinfra.emulator.pipelines")


class Pipelines:
    """Pipelines and their executions: the pipeline operations of the control plane.

    `call` is the control plane's dispatch (a RegisterModel step creates a model package
    through it); `read_offline` gives a feature group's offline store as a pyarrow table;
    `track` records an ended execution's trial and lineage (`services/tracking.py`)."""

    OPERATIONS = (
        "CreatePipeline", "DescribePipeline", "ListPipelines", "UpdatePipeline", "DeletePipeline",
        "StartPipelineExecution", "DescribePipelineExecution", "ListPipelineExecutions",
        "ListPipelineExecutionSteps", "ListPipelineParametersForExecution",
        "StopPipelineExecution", "DescribePipelineDefinitionForExecution",
    )  # fmt: skip
    KINDS = (Kind.of(resources.PIPELINE),)

    def __init__(
        self,
        store: Store,
        listing: Listing,
        roots: Roots,
        call: Callable[[str, dict, str], dict],
        read_offline: Callable[[str], Any],
        track: Callable[[dict, dict, str], None] = lambda record, lineage, region: None,
    ) -> None:
        self.store = store
        self.listing = listing
        self.roots = roots
        self.call = call
        self.read_offline = read_offline
        self.track = track
        self.root: Path = roots.state / "pipelines"
        self._running: dict[str, tuple[Execution, threading.Thread]] = {}
        self._abandon_interrupted()

    # --- pipelines -------------------------------------------------------------------------

    def create_pipeline(self, p: dict, region: str) -> dict:
        name = p["PipelineName"]
        if self.store.get(PIPELINE, name):
            raise invalid(
                f"Pipeline names must be unique within an AWS account and region. "
                f"Pipeline with name ({name}) already exists."
            )
        if "PipelineDefinition" not in p and "PipelineDefinitionS3Location" not in p:
            raise invalid(
                "Either PipelineDefinition or PipelineDefinitionS3Location must be specified."
            )
        _check(p)
        now = time.time()
        record = dict(
            p,
            PipelineArn=arn(region, PIPELINE, name),
            PipelineDisplayName=p.get("PipelineDisplayName", name),
            PipelineStatus="Active",
            CreationTime=now,
            LastModifiedTime=now,
            PipelineVersionId=1,
        )
        record.pop("ClientRequestToken", None)
        self.store.put(PIPELINE, name, record, now)
        return {"PipelineArn": record["PipelineArn"]}

    def describe_pipeline(self, p: dict, region: str) -> dict:
        return output("DescribePipeline", self.pipeline(p["PipelineName"]))

    def list_pipelines(self, p: dict, region: str) -> dict:
        prefix = p.get("PipelineNamePrefix", "")
        records = [r for r in self.store.all(PIPELINE) if r["PipelineName"].startswith(prefix)]
        records = created_between(records, p, "CreationTime")
        key = "PipelineName" if p.get("SortBy") == "Name" else "CreationTime"
        return self._page("ListPipelines", records, p, key)

    def update_pipeline(self, p: dict, region: str) -> dict:
        record = self.pipeline(p["PipelineName"])
        _check(p)
        changes = {k: v for k, v in p.items() if k != "PipelineName"}
        record.update(changes, LastModifiedTime=time.time())
        record["PipelineVersionId"] = int(record.get("PipelineVersionId", 1)) + 1
        self.store.put(PIPELINE, record["PipelineName"], record, record["CreationTime"])
        return {"PipelineArn": record["PipelineArn"]}

    def delete_pipeline(self, p: dict, region: str) -> dict:
        record = self.pipeline(p["PipelineName"])
        for execution in self._executions(record["PipelineName"]):
            self._stop(execution["_Id"])
            self.store.delete(EXECUTION, execution["_Id"])
        for entry in self.store.all(CACHE, record["PipelineName"] + "/"):
            self.store.delete(CACHE, f"{record['PipelineName']}/{entry['key']}")
        self.store.delete(PIPELINE, record["PipelineName"])
        return {"PipelineArn": record["PipelineArn"]}

    def pipeline(self, name_or_arn: str) -> dict:
        name = name_or_arn.rsplit(":pipeline/", 1)[-1]
        record = self.store.get(PIPELINE, name)
        if record is None:  # an ARN holds the name lower-cased
            record = next(
                (r for r in self.store.all(PIPELINE) if r["PipelineName"].lower() == name), None
            )
        if record is None:
            raise not_found(f"Pipeline '{name_or_arn}' does not exist.")
        return record

    # --- executions ------------------------------------------------------------------------

    def start_pipeline_execution(self, p: dict, region: str) -> dict:
        pipeline = self.pipeline(p["PipelineName"])
        token = p.get("ClientRequestToken")
        for earlier in self._executions(pipeline["PipelineName"]) if token else ():
            if earlier.get("_Token") == token:  # a retried request: the same execution
                return {"PipelineExecutionArn": earlier["PipelineExecutionArn"]}
        if "PipelineDefinition" not in pipeline:
            # Only a pipeline stored before CreatePipeline required a definition lacks one.
            raise invalid(
                f"Pipeline {pipeline['PipelineName']} has no PipelineDefinition to run: "
                "give it one with UpdatePipeline."
            )
        try:
            document, steps = parse_definition(pipeline["PipelineDefinition"])
        except DefinitionError as exc:
            raise invalid(str(exc)) from None
        parameters = _parameters(document, p.get("PipelineParameters", []))
        execution_id = "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))
        arn = f"{pipeline['PipelineArn']}/execution/{execution_id}"
        now = time.time()
        record = {
            "_Id": execution_id,
            "_Region": region,
            "_Token": token,
            "PipelineName": pipeline["PipelineName"],
            "PipelineArn": pipeline["PipelineArn"],
            "PipelineExecutionArn": arn,
            "PipelineExecutionDisplayName": p.get("PipelineExecutionDisplayName")
            or f"execution-{int(now * 1000)}",
            "PipelineExecutionStatus": "Executing",
            "PipelineParameters": [{"Name": k, "Value": _text(v)} for k, v in parameters.items()],
            "PipelineVersionId": pipeline.get("PipelineVersionId", 1),
            "_Definition": pipeline["PipelineDefinition"],  # what this execution runs
            "CreationTime": now,
            "StartTime": now,
            "LastModifiedTime": now,
            "Steps": [],
        }
        if p.get("PipelineExecutionDescription"):
            record["PipelineExecutionDescription"] = p["PipelineExecutionDescription"]
        self.store.put(EXECUTION, execution_id, record, now)
        pipeline["LastExecutionTime"] = now
        self.store.put(PIPELINE, pipeline["PipelineName"], pipeline, pipeline["CreationTime"])

        scope = Scope(
            parameters=parameters,
            execution={
                "PipelineExecutionId": execution_id,
                "PipelineExecutionArn": arn,
                "PipelineName": pipeline["PipelineName"],
                "PipelineArn": pipeline["PipelineArn"],
                "StartDateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
                "CurrentDateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            },
            steps={},
        )
        execution = Execution(
            self._context(region, pipeline["PipelineName"]),
            self.folder(record),
            steps,
            scope,
            on_step=lambda step: self._record_step(execution_id, step),
        )
        thread = threading.Thread(
            target=self._run,
            args=(execution_id, execution),
            name=f"pipeline-{execution_id}",
            daemon=True,
        )
        self._running[execution_id] = (execution, thread)
        thread.start()
        return {"PipelineExecutionArn": arn}

    def describe_pipeline_execution(self, p: dict, region: str) -> dict:
        return output("DescribePipelineExecution", self.execution(p["PipelineExecutionArn"]))

    def list_pipeline_executions(self, p: dict, region: str) -> dict:
        pipeline = self.pipeline(p["PipelineName"])
        records = created_between(self._executions(pipeline["PipelineName"]), p, "StartTime")
        key = "PipelineExecutionArn" if p.get("SortBy") == "PipelineExecutionArn" else "StartTime"
        return self._page("ListPipelineExecutions", records, p, key)

    def list_pipeline_execution_steps(self, p: dict, region: str) -> dict:
        if "PipelineExecutionArn" not in p:  # optional in the model, needed by the service
            raise invalid("PipelineExecutionArn is required: the steps of which execution?")
        steps = list(self.execution(p["PipelineExecutionArn"])["Steps"])
        return self._page("ListPipelineExecutionSteps", steps, p, "StartTime")

    def list_pipeline_parameters_for_execution(self, p: dict, region: str) -> dict:
        parameters = self.execution(p["PipelineExecutionArn"])["PipelineParameters"]
        return self._page("ListPipelineParametersForExecution", parameters, p, None)

    def describe_pipeline_definition_for_execution(self, p: dict, region: str) -> dict:
        record = self.execution(p["PipelineExecutionArn"])
        definition = record.get("_Definition")
        if definition is None:  # an execution started before executions kept theirs
            pipeline = self.pipeline(record["PipelineName"])
            if pipeline.get("PipelineVersionId", 1) != record.get("PipelineVersionId", 1):
                raise invalid(
                    f"The definition pipeline execution {record['PipelineExecutionArn']} ran "
                    "was not kept, and the pipeline has been updated since."
                )
            definition = pipeline["PipelineDefinition"]
        return {"PipelineDefinition": definition, "CreationTime": record["CreationTime"]}

    def stop_pipeline_execution(self, p: dict, region: str) -> dict:
        record = self.execution(p["PipelineExecutionArn"])
        if record["PipelineExecutionStatus"] not in RUNNING:
            raise invalid(
                f"Pipeline execution {record['PipelineExecutionArn']} is "
                f"{record['PipelineExecutionStatus']}, so it cannot be stopped."
            )
        record.update(PipelineExecutionStatus="Stopping", LastModifiedTime=time.time())
        self.store.put(EXECUTION, record["_Id"], record, record["CreationTime"])
        self._stop(record["_Id"])
        return {"PipelineExecutionArn": record["PipelineExecutionArn"]}

    def execution(self, arn: str) -> dict:
        record = self.store.get(EXECUTION, arn.rsplit("/", 1)[-1])
        if record is None or record["PipelineExecutionArn"] != arn:
            raise not_found(f"Pipeline execution '{arn}' does not exist.")
        return record

    def folder(self, record: dict) -> Path:
        """Where an execution's steps keep their files and logs."""
        return execution_folder(self.roots.state, record["PipelineName"], record["_Id"])

    def close(self) -> None:
        for execution_id in list(self._running):
            self._stop(execution_id)
        for _, thread in list(self._running.values()):
            thread.join(10)

    # --- running ---------------------------------------------------------------------------

    def _run(self, execution_id: str, execution: Execution) -> None:
        try:
            status, reason = execution.run()
        except DefinitionError as exc:
            status, reason = "Failed", str(exc)
        except Exception as exc:  # never leave a record Executing because of a bug
            status, reason = "Failed", f"Internal error in the emulator: {type(exc).__name__}"
        if execution.stop_requested.is_set() and status != "Failed":
            status = "Stopped"
        with self.store.lock:
            record = self.store.get(EXECUTION, execution_id)
            if record is not None:
                self._write_lineage(execution, record, status)
                record.update(PipelineExecutionStatus=status, LastModifiedTime=time.time())
                if reason:
                    record["FailureReason"] = reason
                self.store.put(EXECUTION, execution_id, record, record["CreationTime"])
                self.track(record, execution.lineage, record["_Region"])
        self._running.pop(execution_id, None)

    @staticmethod
    def _write_lineage(execution: Execution, record: dict, status: str) -> None:
        header = {
            "pipeline": record["PipelineName"],
            "execution_arn": record["PipelineExecutionArn"],
            "status": status,
            "parameters": {p["Name"]: p["Value"] for p in record["PipelineParameters"]},
            "started": record["StartTime"],
            "ended": time.time(),
        }
        try:
            execution.write_lineage(header)
        except OSError:  # lineage is a record of the run, never a reason to fail it
            log.exception("writing the lineage of %s", record["PipelineExecutionArn"])

    def _record_step(self, execution_id: str, step: dict) -> None:
        with self.store.lock:
            record = self.store.get(EXECUTION, execution_id)
            if record is None:
                return
            steps = [s for s in record["Steps"] if s["StepName"] != step["StepName"]]
            record.update(Steps=[*steps, step], LastModifiedTime=time.time())
            self.store.put(EXECUTION, execution_id, record, record["CreationTime"])

    def _stop(self, execution_id: str) -> None:
        running = self._running.get(execution_id)
        if running is not None:
            running[0].stop()

    def _context(self, region: str, pipeline: str) -> Context:
        def register(request: dict) -> dict:
            return self.call("CreateModelPackage", request, region)

        def event_time_of(group: str) -> str:
            described = self.call("DescribeFeatureGroup", {"FeatureGroupName": group}, region)
            return described["EventTimeFeatureName"]

        def versions(group: str) -> list[dict]:
            """Every version of registry group `group`, oldest first, as described."""
            request: dict[str, Any] = {"ModelPackageGroupName": group, "SortOrder": "Ascending"}
            found: list[dict] = []
            while True:
                page = self.call("ListModelPackages", request, region)
                for summary in page["ModelPackageSummaryList"]:
                    arn_ = {"ModelPackageName": summary["ModelPackageArn"]}
                    found.append(self.call("DescribeModelPackage", arn_, region))
                if "NextToken" not in page:
                    return found
                request["NextToken"] = page["NextToken"]

        def transform(request: dict, stopped: threading.Event) -> dict:
            """Run a transform job to its end (stopping it when the execution stops)."""
            name = {"TransformJobName": request["TransformJobName"]}
            try:
                self.call("CreateTransformJob", request, region)
            except ApiError as exc:  # the job refused: the step fails, saying why
                raise JobFailure(f"CreateTransformJob: {exc.message}") from None
            asked_to_stop = False
            while True:
                described = self.call("DescribeTransformJob", name, region)
                if described["TransformJobStatus"] in JOB_ENDED:
                    return described
                if stopped.is_set() and not asked_to_stop:
                    self.call("StopTransformJob", name, region)
                    asked_to_stop = True
                stopped.wait(JOB_POLL_SECONDS)

        def export_rows(group: str, target: Path) -> dict:
            described = self.call("DescribeFeatureGroup", {"FeatureGroupName": group}, region)
            return export_latest_rows(
                self.read_offline(group),
                [f["FeatureName"] for f in described["FeatureDefinitions"]],
                described["RecordIdentifierFeatureName"],
                described["EventTimeFeatureName"],
                target,
            )

        return Context(
            transform=transform,
            export_rows=export_rows,
            locations=Locations(
                root=self.roots.project,
                state_dir=self.roots.state,
                manifests=self.root / pipeline / "outputs",
                offline_root=self.roots.state / "featurestore" / "offline",
                export_offline=parquet_exporter(self.read_offline, event_time_of),
            ),
            cache=StepCache(self.store, pipeline),
            register=register,
            versions=versions,
            arn_prefix=prefix(region),
        )

    def _executions(self, pipeline: str) -> list[dict]:
        return [r for r in self.store.all(EXECUTION) if r["PipelineName"] == pipeline]

    def _abandon_interrupted(self) -> None:
        """Executions and steps a stopped emulator cut short: Failed, saying why."""
        with self.store.lock:
            for record in self.store.all(EXECUTION):
                if record["PipelineExecutionStatus"] in RUNNING:
                    now = time.time()
                    steps = [
                        dict(step, StepStatus="Failed", EndTime=now, FailureReason=STEP_STOPPED)
                        if step.get("StepStatus") in STEP_RUNNING
                        else step
                        for step in record.get("Steps", [])
                    ]
                    record.update(
                        PipelineExecutionStatus="Failed",
                        FailureReason="The emulator stopped while this execution ran.",
                        LastModifiedTime=now,
                        Steps=steps,
                    )
                    self.store.put(EXECUTION, record["_Id"], record, record["CreationTime"])

    def _page(self, operation: str, records: list, p: dict, key: str | None) -> dict:
        if key is not None:
            records = sorted(records, key=lambda r: r.get(key, 0))
            if descending(operation, p):
                records.reverse()
        return self.listing.page(operation, records, p)


class StepCache:
    """A pipeline's earlier job-step results, by cache key, in the control plane's store."""

    def __init__(self, store: Any, pipeline: str) -> None:
        self.store = store
        self.prefix = f"{pipeline}/"

    def get(self, key: str) -> dict | None:
        return self.store.get(CACHE, self.prefix + key)

    def put(self, key: str, entry: dict) -> None:
        self.store.put(CACHE, self.prefix + key, entry, time.time())


def _check(p: dict) -> None:
    if "PipelineDefinition" not in p:
        if "PipelineDefinitionS3Location" in p:
            raise invalid("The local emulator takes PipelineDefinition, not an S3 location.")
        return
    try:
        parse_definition(p["PipelineDefinition"])
    except DefinitionError as exc:
        raise invalid(str(exc)) from None


def _parameters(document: dict, given: list[dict]) -> dict[str, Any]:
    declared = {d["Name"]: d for d in document.get("Parameters", ())}
    unknown = [g["Name"] for g in given if g["Name"] not in declared]
    if unknown:
        raise invalid(f"Pipeline parameters {unknown} are not defined in the pipeline.")
    values = {name: d.get("DefaultValue") for name, d in declared.items()}
    for item in given:
        values[item["Name"]] = _typed(declared[item["Name"]], item["Value"])
    missing = [name for name, value in values.items() if value is None]
    if missing:
        raise invalid(f"Pipeline parameters {missing} have no default and were not given.")
    return values


def _typed(declared: dict, value: str) -> Any:
    kind = declared.get("Type", "String")
    try:
        if kind == "Boolean":
            if value.lower() not in ("true", "false"):
                raise ValueError(value)
            return value.lower() == "true"
        return TYPES.get(kind, str)(value)
    except ValueError:
        raise invalid(f"Parameter {declared['Name']} is a {kind}; {value!r} is not.") from None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def execution_folder(state: Path, pipeline: str, execution_id: str) -> Path:
    """Where an execution of `pipeline` keeps its steps' files, in an emulator's state folder."""
    return state / "pipelines" / pipeline / "executions" / execution_id


def evaluated_condition(state: Path, pipeline: str, execution_arn: str, step: str) -> dict | None:
    """What condition step `step` of an execution found (`runner.CONDITION_FILE`: its outcome
    and the values each condition compared), or None when it has not run or left none."""
    try:
        # Each name is one plain path component: what is read stays in the state folder.
        names = (pipeline, "pipeline"), (execution_arn.rsplit("/", 1)[-1], "execution")
        (pipeline, execution_id) = (child(Path(), name, what).name for name, what in names)
        folder = child(execution_folder(state, pipeline, execution_id), step, "step")
        document = json.loads((folder / CONDITION_FILE).read_text())
    except (OSError, ValueError, PathRefused):
        return None
    return document if isinstance(document, dict) else None
