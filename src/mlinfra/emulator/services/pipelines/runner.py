"""Run one pipeline execution: each step a subprocess in SageMaker's container conventions.

An execution has a folder, `<state>/pipelines/<pipeline>/executions/<id>/`, and each step a
subfolder standing in for its container's `/opt/ml`. Processing and training steps run as
SageMaker's jobs would, through the same piece that runs the jobs an SDK user starts
(`emulator/containers.py`: staging, the process, publishing); here:

- condition: evaluated from property files and parameters; the branch not taken is not run;
- register model: a version in the registry group through the control plane itself;
- transform: a batch transform job through the control plane itself (the jobs an SDK user
  starts run through the same code), the step waiting for its end. A feature store input is
  first exported to a CSV file in the step's folder, the latest row of each record, and the
  step's log says so.

Steps run one at a time in dependency order: two steps never compete for the machine's cores.
What each step published is recorded under `<state>/pipelines/<pipeline>/outputs/`.

A job step whose arguments (parameters included), code and input contents are those of an
earlier successful run of the pipeline reuses that run's outputs instead of running again
(`CacheHitResult` in ListPipelineExecutionSteps), unless its `CacheConfig` disables it;
registration is never reused. Every execution writes `lineage.json`: each step's inputs, code
and outputs with their SHA-256, and the model package it registered.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from threading import Event
from typing import Any

from mlinfra.emulator.containers import (
    LOG_FILE,
    Container,
    JobFailure,
    Locations,
    Stopped,
    under,
)
from mlinfra.emulator.services.pipelines.evidence import (
    git_metadata,
    matching_version,
    run_evidence,
)
from mlinfra.emulator.services.pipelines.expressions import (
    DefinitionError,
    Scope,
    Step,
    evaluated,
)
from mlinfra.sagemaker import serving_lookup
from mlinfra.sagemaker.evidence import report_metrics, sha256_value

log = logging.getLogger("mlinfra.emulator.pipelines")

LINEAGE_FILE = "lineage.json"
LINEAGE_FORMAT = 1
# What a condition step found, in its step's folder: its outcome and each condition's values.
CONDITION_FILE = "condition.json"
# Argument fields that name where a run reads and writes: not what decides its result.
PER_RUN_FIELDS = frozenset({"S3Uri", "S3OutputPath", "RoleArn"})


@dataclass
class Context:
    """What the runner needs from the emulator around it."""

    locations: Locations  # where steps read and write (`containers.Locations`)
    register: Callable[[dict[str, Any]], dict[str, Any]]  # CreateModelPackage request -> reply
    versions: Callable[[str], list[dict[str, Any]]]  # registry group -> its versions, described
    cache: Any  # get(key) -> entry | None, put(key, entry): job steps' earlier results
    arn_prefix: str  # arn:aws:sagemaker:<region>:<account>:
    # (CreateTransformJob request, stop event) -> the job at its end, as described
    transform: Callable[[dict[str, Any], Event], dict[str, Any]] | None = None
    # (feature group, CSV file) -> what was exported: the latest row of each record
    export_rows: Callable[[str, Path], dict[str, Any]] | None = None


class Execution:
    """One execution's run; `on_step` receives each step's record as it starts and ends."""

    def __init__(
        self,
        context: Context,
        folder: Path,
        steps: list[Step],
        scope: Scope,
        on_step: Callable[[dict[str, Any]], None],
    ) -> None:
        self.context = context
        self.folder = folder
        self.steps = steps
        self.scope = scope
        self.on_step = on_step
        self.container = Container(context.locations)
        self.stop_requested = self.container.stop_requested
        self._outcomes: dict[str, bool] = {}  # condition step -> outcome
        self._property_files: dict[str, dict[str, Path]] = {}
        # What each step read, ran and wrote, with content hashes: the execution's lineage.
        self.lineage: dict[str, dict[str, Any]] = {}
        self.cache_hits: dict[str, str] = {}  # step -> the execution whose result it reused
        scope.read_property_file = self._read_property_file

    # --- the whole execution ---------------------------------------------------------------

    def run(self) -> tuple[str, str | None]:
        """Run every step that should run; the execution's final status and failure reason."""
        done: set[str] = set()
        for step in self.steps:
            if self.stop_requested.is_set():
                return "Stopped", None
            if not self._should_run(step, done):
                continue
            record = {"StepName": step.name, "StartTime": time.time(), "AttemptCount": 1}
            record.update(StepStatus="Executing")
            self.on_step(dict(record))
            try:
                metadata = self._run_step(step)
            except Stopped:
                self.on_step(dict(record, StepStatus="Stopped", EndTime=time.time()))
                return "Stopped", None
            except (JobFailure, DefinitionError) as exc:
                reason = str(exc)
                self.on_step(
                    dict(record, StepStatus="Failed", EndTime=time.time(), FailureReason=reason)
                )
                return "Failed", f"Step {step.name} failed: {reason}"
            except Exception as exc:  # a bug here must fail the execution, not the thread
                log.exception("step %s", step.name)
                reason = f"Internal error in the emulator: {type(exc).__name__}: {exc}"
                self.on_step(
                    dict(record, StepStatus="Failed", EndTime=time.time(), FailureReason=reason)
                )
                return "Failed", f"Step {step.name} failed: {reason}"
            record.update(StepStatus="Succeeded", EndTime=time.time(), Metadata=metadata)
            timing = {"started": record["StartTime"], "ended": record["EndTime"]}
            self.lineage.setdefault(step.name, {}).update(timing)
            if step.name in self.cache_hits:
                record["CacheHitResult"] = {
                    "SourcePipelineExecutionArn": self.cache_hits[step.name]
                }
            self.on_step(record)
            done.add(step.name)
        return "Succeeded", None

    def stop(self) -> None:
        self.container.stop()

    def _should_run(self, step: Step, done: set[str]) -> bool:
        if step.branch is not None:
            condition, kind = step.branch
            if condition not in self._outcomes or self._outcomes[condition] != (kind == "If"):
                return False
        return all(dep in done for dep in step.depends_on)

    def _run_step(self, step: Step) -> dict[str, Any]:
        runners = {
            "Processing": self._processing,
            "Training": self._training,
            "Condition": self._condition,
            "RegisterModel": self._register,
            "Transform": self._transform,
        }
        runner = runners.get(step.type)
        if runner is None:
            raise JobFailure(f"the local emulator cannot run {step.type} steps")
        return runner(step)

    # --- processing ------------------------------------------------------------------------

    def _processing(self, step: Step) -> dict[str, Any]:
        args = self.scope.resolve(step.arguments)
        if _is_serving_lookup(args):
            return self._serving(step, args)
        folder = self._step_folder(step.name)
        note = self._noter(step.name)
        self.container.stage_processing(args, folder, note)
        key = self._cache_key(step, args)
        hit = self._cached(step, key)
        if hit is not None:
            return hit
        job, arn = self._job_name(step.name), self._job_arn("processing-job", step.name)
        properties, files = self.container.run_processing(
            args, folder, job, arn, note, publisher=step.name
        )
        self._property_files[step.name] = {
            p["PropertyFileName"]: files.get(p["OutputName"], folder) / p["FilePath"]
            for p in step.body.get("PropertyFiles", ())
        }
        self.scope.steps[step.name] = properties
        self.lineage[step.name].update(
            job=properties["ProcessingJobArn"],
            metrics=_reported_metrics(self._property_files[step.name].values()),
        )
        return self._remember(step, key, {"ProcessingJob": {"Arn": properties["ProcessingJobArn"]}})

    def _serving(self, step: Step, args: dict[str, Any]) -> dict[str, Any]:
        """The `serving` step, answered from the emulator's own registry with the code the
        step runs on SageMaker: the metrics of the group's newest approved version."""
        environment = args.get("Environment") or {}
        group = environment[serving_lookup.GROUP_VARIABLE]
        wanted = environment.get(serving_lookup.METRICS_VARIABLE, "")
        metrics = [m for m in wanted.split(",") if m]
        approved = [
            v for v in self.context.versions(group) if v.get("ModelApprovalStatus") == "Approved"
        ]
        approved.sort(key=lambda v: v["CreationTime"], reverse=True)

        def read_report(location: str) -> Any:
            try:
                return json.loads(self.container.local(location).read_text())
            except JobFailure:  # a report the emulator may not read: the metric is unknown
                return None

        document = serving_lookup.serving_document(approved, read_report, metrics)
        folder = self._step_folder(step.name)
        files = {}
        for declared in step.body.get("PropertyFiles", ()):
            path = (folder / str(declared["FilePath"])).resolve()
            if not path.is_relative_to(folder.resolve()):  # the definition is anyone's text
                raise JobFailure(f"property file {declared['FilePath']!r} leaves the step")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(document) + "\n")
            files[declared["PropertyFileName"]] = path
        self._property_files[step.name] = files
        arn = self._job_arn("processing-job", step.name)
        self.scope.steps[step.name] = {"ProcessingJobArn": arn, "ProcessingJobStatus": "Completed"}
        return {"ProcessingJob": {"Arn": arn}}

    # --- training --------------------------------------------------------------------------

    def _training(self, step: Step) -> dict[str, Any]:
        args = self.scope.resolve(step.arguments)
        folder = self._step_folder(step.name)
        note = self._noter(step.name)
        staged = self.container.stage_training(args, folder, note)
        key = self._cache_key(step, args)
        hit = self._cached(step, key)
        if hit is not None:
            return hit
        job, arn = self._job_name(step.name), self._job_arn("training-job", step.name)
        properties = self.container.run_training(args, folder, staged, job, arn, note)
        self.scope.steps[step.name] = properties
        self.lineage[step.name].update(
            job=arn,
            parameters=staged.hyperparameters,
            metrics={
                m["MetricName"]: m["Value"] for m in properties["FinalMetricDataList"].values()
            },
        )
        return self._remember(step, key, {"TrainingJob": {"Arn": arn}})

    # --- transform -------------------------------------------------------------------------

    def _transform(self, step: Step) -> dict[str, Any]:
        args = self.scope.resolve(step.arguments)
        folder = self._step_folder(step.name)
        note = self._noter(step.name)
        transform, export = self.context.transform, self.context.export_rows
        if transform is None or export is None:
            raise JobFailure("this emulator runs no transform jobs")
        source = args["TransformInput"]["DataSource"]["S3DataSource"]
        path = self.container.local(source["S3Uri"])
        offline = under(path, self.context.locations.offline_root)
        if offline is not None:
            group = offline.parts[0]
            rows = folder / "input" / f"{group}.csv"
            exported = export(group, rows)
            relative = rows.resolve().relative_to(self.context.locations.root.resolve())
            (folder / LOG_FILE).write_text(
                f"Exported the latest row of each record of feature group {group}: "
                f"{exported['rows']} records (of {exported['read']} offline rows) to "
                f"{relative}, the input this transform job scores.\n"
            )
            args["TransformInput"]["DataSource"]["S3DataSource"] = dict(
                source, S3Uri=f"file:{relative.as_posix()}"
            )
            note("inputs", group, source["S3Uri"], rows)
            self.lineage[step.name]["inputs"][group]["exported_rows"] = exported["rows"]
        else:
            if not path.exists():
                raise JobFailure(f"input {source['S3Uri']} does not exist ({path})")
            note("inputs", "data", source["S3Uri"], path)
        request = dict(args, TransformJobName=self._job_name(step.name))
        described = transform(request, self.stop_requested)
        status = described.get("TransformJobStatus")
        if status == "Stopped" or self.stop_requested.is_set():
            raise Stopped
        if status != "Completed":
            raise JobFailure(
                f"transform job {request['TransformJobName']}: "
                f"{described.get('FailureReason', status)}"
            )
        output = self.container.local(described["TransformOutput"]["S3OutputPath"])
        note("outputs", "scores", described["TransformOutput"]["S3OutputPath"], output)
        self.scope.steps[step.name] = described
        self.lineage[step.name]["job"] = described["TransformJobArn"]
        return {"TransformJob": {"Arn": described["TransformJobArn"]}}

    # --- condition and register ------------------------------------------------------------

    def _condition(self, step: Step) -> dict[str, Any]:
        # SageMaker answers only the outcome; the values compared are kept beside the step's
        # files, so that `mlinfra pipeline runs` can show a metric against its threshold.
        conditions = [evaluated(c, self.scope) for c in step.arguments.get("Conditions", ())]
        outcome = all(c["held"] for c in conditions)
        document = {"outcome": outcome, "conditions": conditions}
        (self._step_folder(step.name) / CONDITION_FILE).write_text(json.dumps(document) + "\n")
        self._outcomes[step.name] = outcome
        self.scope.steps[step.name] = {"Outcome": outcome}
        return {"Condition": {"Outcome": "True" if outcome else "False"}}

    def _register(self, step: Step) -> dict[str, Any]:
        request = self._with_evidence(self.scope.resolve(step.arguments))
        approval = request.get("ModelApprovalStatus", "PendingManualApproval")
        group = request.get("ModelPackageGroupName", "")
        same = matching_version(self.context.versions(group), request["CustomerMetadataProperties"])
        if same is not None:
            # The same artifact from the same inputs: that version again, not a new one.
            arn, approval = same["ModelPackageArn"], same.get("ModelApprovalStatus", approval)
            (self._step_folder(step.name) / LOG_FILE).write_text(
                f"Same model artifact and inputs as version {same.get('ModelPackageVersion')} "
                f"({arn}): no new version registered.\n"
            )
            self.lineage.setdefault(step.name, {})["matched"] = {
                "model_package_arn": arn,
                "version": same.get("ModelPackageVersion"),
                "approval": approval,
            }
        else:
            arn = self.context.register(request)["ModelPackageArn"]
            self.lineage.setdefault(step.name, {})["registered"] = {
                "model_package_arn": arn,
                "approval": approval,
            }
        self.scope.steps[step.name] = {"ModelPackageArn": arn, "ModelApprovalStatus": approval}
        return {"RegisterModel": {"Arn": arn}}

    def _with_evidence(self, request: dict[str, Any]) -> dict[str, Any]:
        """The request with what this run knows of the version: content hashes of its code,
        inputs, artifact and evaluation report, and the project's git commit."""
        containers = (request.get("InferenceSpecification") or {}).get("Containers") or [{}]
        model = containers[0].get("ModelDataUrl")
        if not model:
            raise JobFailure("the model package names no ModelDataUrl to register")
        produced = [
            entry["location"]
            for record in self.lineage.values()
            for entry in (record.get("outputs") or {}).values()
        ]
        artifact = content_sha256(self.container.local(model))
        declared = request.get("CustomerMetadataProperties")
        customer = run_evidence(self.lineage, produced, artifact, declared)
        root = self.context.locations.root
        metadata = {**git_metadata(root), **(request.get("MetadataProperties") or {})}
        found = dict(request, CustomerMetadataProperties=customer)
        if metadata:
            found["MetadataProperties"] = metadata
        statistics = ((request.get("ModelMetrics") or {}).get("ModelQuality") or {}).get(
            "Statistics"
        )
        if statistics:
            report = self.container.local(statistics["S3Uri"])
            if not report.is_file():
                raise JobFailure(f"the evaluation report {report} was not written")
            digest = {**statistics, "ContentDigest": sha256_value(content_sha256(report))}
            found["ModelMetrics"] = {
                **request["ModelMetrics"],
                "ModelQuality": {**request["ModelMetrics"]["ModelQuality"], "Statistics": digest},
            }
        return found

    # --- caching ---------------------------------------------------------------------------

    def _cache_key(self, step: Step, args: dict[str, Any]) -> str:
        """What decides a job step's result: its arguments without their per-run locations,
        and the content of its code and inputs (the parameters are in the arguments)."""
        decisive = {
            "type": step.type,
            "arguments": _without_locations(args),
            "content": self.lineage.get(step.name, {}),
        }
        return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()

    def _cached(self, step: Step, key: str) -> dict[str, Any] | None:
        """The result of an earlier run of the same step on the same content, if its outputs
        are still there; the step then takes that run's outputs instead of running."""
        if _cache_disabled(step):
            return None
        entry = self.context.cache.get(key)
        if entry is None or not all(Path(p).exists() for p in entry["outputs"]):
            return None
        self.scope.steps[step.name] = entry["properties"]
        self._property_files[step.name] = {k: Path(v) for k, v in entry["files"].items()}
        self.lineage[step.name] = dict(entry["lineage"], cache_hit=entry["source"])
        self.cache_hits[step.name] = entry["source"]
        (self.folder / step.name / LOG_FILE).write_text(
            f"Same code, inputs and arguments as in {entry['source']}: its result is reused.\n"
        )
        return entry["metadata"]

    def _remember(self, step: Step, key: str, metadata: dict[str, Any]) -> dict[str, Any]:
        lineage = self.lineage.get(step.name, {})
        self.context.cache.put(
            key,
            {
                "key": key,
                "source": self.scope.execution["PipelineExecutionArn"],
                "properties": self.scope.steps[step.name],
                "files": {k: str(v) for k, v in self._property_files.get(step.name, {}).items()},
                "lineage": lineage,
                "outputs": [o["location"] for o in lineage.get("outputs", {}).values()],
                "metadata": metadata,
            },
        )
        return metadata

    # --- lineage ---------------------------------------------------------------------------

    def _noter(self, step: str) -> Callable[[str, str, str, Path], None]:
        """What a job of `step` read and wrote, noted in the execution's lineage."""

        def note(kind: str, name: str, source: str, path: Path) -> None:
            entry: dict[str, Any] = {"location": str(source), "sha256": content_sha256(path)}
            snapshot = self.container.snapshots.get(str(path))
            if snapshot is not None:
                entry["snapshot"] = snapshot
            self.lineage.setdefault(step, {}).setdefault(kind, {})[name] = entry

        return note

    def write_lineage(self, header: dict[str, Any]) -> Path:
        """`lineage.json` in the execution's folder: the header, then each step's record."""
        path = self.folder / LINEAGE_FILE
        document = {"format": LINEAGE_FORMAT, **header, "steps": self.lineage}
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        partial.replace(path)
        return path

    # --- helpers ---------------------------------------------------------------------------

    def _step_folder(self, step: str) -> Path:
        folder = self.container.child(self.folder, step, "step")
        if folder.exists():  # a step never sees a previous attempt's files
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        return folder

    def _job_name(self, step: str) -> str:
        return f"pipelines-{self.scope.execution['PipelineExecutionId']}-{step}"[:63]

    def _job_arn(self, kind: str, step: str) -> str:
        return f"{self.context.arn_prefix}{kind}/{self._job_name(step).lower()}"

    def _read_property_file(self, step: str, name: str) -> Any:
        path = self._property_files.get(step, {}).get(name)
        if path is None:
            raise DefinitionError(f"Step {step} has no property file {name}.")
        path = self.container.local(path)
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise JobFailure(
                f"property file {name} of step {step} was not written: {path}"
            ) from None
        except json.JSONDecodeError as exc:
            raise JobFailure(f"property file {path} is not JSON: {exc}") from None


def _is_serving_lookup(args: dict[str, Any]) -> bool:
    """Whether a processing step is mlinfra's lookup of the serving version's metrics."""
    entrypoint = (args.get("AppSpecification") or {}).get("ContainerEntrypoint") or []
    environment = args.get("Environment") or {}
    return (
        serving_lookup.GROUP_VARIABLE in environment
        and bool(entrypoint)
        and str(entrypoint[-1]).endswith("/" + serving_lookup.SCRIPT_NAME)
    )


def _reported_metrics(files: Any) -> dict[str, float]:
    """The metrics a processing step reported in its property files, in SageMaker's evaluation
    report style (`{"metrics": {"accuracy": {"value": 0.9}}}`); none from what is not."""
    found: dict[str, float] = {}
    for path in files:
        try:
            document = json.loads(Path(path).read_text())
        except (OSError, ValueError):
            continue  # a property file is read by the condition that needs it, and fails there
        found.update(report_metrics(document))
    return found


def _without_locations(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_locations(v) for k, v in value.items() if k not in PER_RUN_FIELDS}
    if isinstance(value, list):
        return [_without_locations(v) for v in value]
    return value


def _cache_disabled(step: Step) -> bool:
    # SageMaker's own switch, when a definition has it: `CacheConfig: {Enabled: false}`.
    return (step.body.get("CacheConfig") or {}).get("Enabled") is False


def content_sha256(path: Path) -> str:
    """A file's SHA-256, or a folder's: of its files' relative paths and SHA-256s, sorted."""
    if path.is_file():
        return _file_sha256(path)
    listing = "".join(
        f"{p.relative_to(path).as_posix()}\0{_file_sha256(p)}\n"
        for p in sorted(path.rglob("*"))
        if p.is_file()
    )
    return hashlib.sha256(listing.encode()).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
