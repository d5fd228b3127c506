"""Run one pipeline execution: each step a subprocess in SageMaker's container conventions.

An execution has a folder, `<state>/pipelines/<pipeline>/executions/<id>/`, and each step a
subfolder standing in for its container's `/opt/ml`:

- processing: inputs copied to `input/<name>` from where their S3Uri points, `output/`
  written by the script and then "uploaded" to its S3Uri; every `/opt/ml/processing/...`
  path in the entrypoint, arguments and environment (such as `MLINFRA_PROCESSING_INPUT`) is
  mapped onto the step's folder;
- training: channels in `input/data/<channel>` (`SM_CHANNEL_<NAME>`), `model/`
  (`SM_MODEL_DIR`) packed afterwards into `<S3OutputPath>/<job>/output/model.tar.gz` as
  SageMaker does, `output/data/` (`SM_OUTPUT_DATA_DIR`), hyperparameters as `--key value`
  arguments and `SM_HPS`; the code (`sagemaker_submit_directory`) copied to `code/`;
- condition: evaluated from property files and parameters; the branch not taken is not run;
- register model: a version in the registry group through the control plane itself.

Locations are local: `file:` URIs (relative to the spec's folder) or paths, each confined to
the project and state folders (`paths.confine`; a step reading or writing elsewhere fails
saying so). The emulator's feature-store offline folder is read through the feature store and
exported as Parquet. A script runs with the emulator's own Python (`sys.executable`), under
the emulator's supervisor (`supervisor.py`: it dies with the emulator), output to `log.txt`.
Steps run one at a time in dependency order: two steps never compete for the machine's cores.

Publishing a processing output is S3's upload: each file overwrites the one at its key, and
what the same step published there before is removed first (a manifest per step and target,
under `<state>/pipelines/<pipeline>/outputs/`, records it); nothing else in the target folder
is ever deleted, so naming a folder of the project as an output cannot wipe it.

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
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlinfra.emulator import supervisor
from mlinfra.emulator.kit.paths import NotLocal, PathRefused, child, confine, within
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
from mlinfra.sagemaker.evidence import report_metrics, sha256_value

log = logging.getLogger("mlinfra.emulator.pipelines")

PROCESSING_ROOT = "/opt/ml/processing"
LOG_FILE = "log.txt"
LOG_TAIL_LINES = 20
LINEAGE_FILE = "lineage.json"
LINEAGE_FORMAT = 1
# What a condition step found, in its step's folder: its outcome and each condition's values.
CONDITION_FILE = "condition.json"
# Argument fields that name where a run reads and writes: not what decides its result.
PER_RUN_FIELDS = frozenset({"S3Uri", "S3OutputPath", "RoleArn"})
PYTHON_NAMES = ("python", "python3")


class StepFailure(Exception):
    """A step failed; the message is its FailureReason."""


class Stopped(Exception):
    """The execution was asked to stop while the step ran."""


@dataclass
class Context:
    """What the runner needs from the emulator around it."""

    root: Path  # the spec's folder: relative locations are relative to it
    state_dir: Path  # the emulator's state folder: with `root`, all a step may touch
    manifests: Path  # where what each step published is recorded (see `_publish`)
    offline_root: Path  # the feature store's offline folder
    # (feature group, folder) -> Parquet written; its snapshot (rows, event-time range)
    export_offline: Callable[[str, Path], dict[str, Any]]
    register: Callable[[dict[str, Any]], dict[str, Any]]  # CreateModelPackage request -> reply
    versions: Callable[[str], list[dict[str, Any]]]  # registry group -> its versions, described
    cache: Any  # get(key) -> entry | None, put(key, entry): job steps' earlier results
    arn_prefix: str  # arn:aws:sagemaker:<region>:<account>:


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
        self.stop_requested = threading.Event()
        self._process: subprocess.Popen | None = None
        self._process_lock = threading.Lock()
        self._outcomes: dict[str, bool] = {}  # condition step -> outcome
        self._property_files: dict[str, dict[str, Path]] = {}
        # What each step read, ran and wrote, with content hashes: the execution's lineage.
        self.lineage: dict[str, dict[str, Any]] = {}
        self.cache_hits: dict[str, str] = {}  # step -> the execution whose result it reused
        self._snapshots: dict[str, dict[str, Any]] = {}  # staged folder -> feature snapshot
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
            except (StepFailure, DefinitionError) as exc:
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
        self.stop_requested.set()
        with self._process_lock:
            if self._process is not None and self._process.poll() is None:
                supervisor.stop(self._process)

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
        }
        runner = runners.get(step.type)
        if runner is None:
            raise StepFailure(f"the local emulator cannot run {step.type} steps")
        return runner(step)

    # --- processing ------------------------------------------------------------------------

    def _processing(self, step: Step) -> dict[str, Any]:
        args = self.scope.resolve(step.arguments)
        folder = self._step_folder(step.name)
        for item in args.get("ProcessingInputs", ()):
            s3 = item.get("S3Input")
            if s3 is None:
                raise StepFailure(f"input {item.get('InputName')}: only S3Input is supported")
            target = _container_path(folder, s3["LocalPath"])
            staged = self._stage(s3["S3Uri"], target)
            self._note(step.name, "inputs", item["InputName"], s3["S3Uri"], staged)
        key = self._cache_key(step, args)
        hit = self._cached(step, key)
        if hit is not None:
            return hit
        outputs = (args.get("ProcessingOutputConfig") or {}).get("Outputs", [])
        for item in outputs:
            _container_path(folder, item["S3Output"]["LocalPath"]).mkdir(
                parents=True, exist_ok=True
            )
        app = args.get("AppSpecification") or {}
        command = [*app.get("ContainerEntrypoint", ()), *app.get("ContainerArguments", ())]
        if not command:
            raise StepFailure("AppSpecification has no ContainerEntrypoint")
        command = [_map_value(folder, c) for c in command]
        if command[0] in PYTHON_NAMES:
            command[0] = sys.executable
        env = {k: _map_value(folder, str(v)) for k, v in (args.get("Environment") or {}).items()}
        self._execute(command, env, folder, args)
        properties: dict[str, Any] = {
            "ProcessingJobName": self._job_name(step.name),
            "ProcessingJobArn": self._job_arn("processing-job", step.name),
            "ProcessingJobStatus": "Completed",
            "ProcessingOutputConfig": {"Outputs": {}},
        }
        files: dict[str, Path] = {}
        for item in outputs:
            target = self._local(item["S3Output"]["S3Uri"])
            self._publish(step.name, _container_path(folder, item["S3Output"]["LocalPath"]), target)
            properties["ProcessingOutputConfig"]["Outputs"][item["OutputName"]] = {
                "OutputName": item["OutputName"],
                "S3Output": dict(item["S3Output"], S3Uri=str(target)),
            }
            files[item["OutputName"]] = target
            self._note(step.name, "outputs", item["OutputName"], str(target), target)
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

    # --- training --------------------------------------------------------------------------

    def _training(self, step: Step) -> dict[str, Any]:
        args = self.scope.resolve(step.arguments)
        folder = self._step_folder(step.name)
        hyper = {k: _decode(v) for k, v in (args.get("HyperParameters") or {}).items()}
        program = hyper.get("sagemaker_program")
        submit = hyper.get("sagemaker_submit_directory")
        if not program or not submit:
            raise StepFailure("only script mode (sagemaker_program) training runs locally")
        code = folder / "code"
        self._stage_code(str(submit), code)
        self._note(step.name, "code", str(program), str(submit), code)
        channels = {}
        for channel in args.get("InputDataConfig", ()):
            source = (channel.get("DataSource") or {}).get("S3DataSource") or {}
            path = self._child(folder / "input" / "data", channel["ChannelName"], "channel")
            staged = self._stage(source["S3Uri"], path)
            self._note(step.name, "inputs", channel["ChannelName"], source["S3Uri"], staged)
            channels[channel["ChannelName"]] = path
        key = self._cache_key(step, args)
        hit = self._cached(step, key)
        if hit is not None:
            return hit
        model_dir, output_data = folder / "model", folder / "output" / "data"
        model_dir.mkdir(parents=True, exist_ok=True)
        output_data.mkdir(parents=True, exist_ok=True)
        user = {k: v for k, v in hyper.items() if not k.startswith("sagemaker_")}
        env = {
            **(args.get("Environment") or {}),
            **_training_environment(folder, channels, user),
        }
        try:
            script = within(code, code / str(program), "sagemaker_program")
        except PathRefused as exc:
            message = f"{exc.message} The program is a file of the submitted code."
            raise StepFailure(message) from None
        command = [sys.executable, str(script), *_arguments(user)]
        output = self._execute(command, env, folder, args, cwd=code)
        job = self._job_name(step.name)
        destination = self._local(args["OutputDataConfig"]["S3OutputPath"]) / job / "output"
        destination.mkdir(parents=True, exist_ok=True)
        archive = destination / "model.tar.gz"
        _pack(model_dir, archive)
        _pack(output_data, destination / "output.tar.gz")
        self._note(step.name, "outputs", "model", str(archive), archive)
        arn = self._job_arn("training-job", step.name)
        self.scope.steps[step.name] = {
            "TrainingJobName": job,
            "TrainingJobArn": arn,
            "TrainingJobStatus": "Completed",
            "ModelArtifacts": {"S3ModelArtifacts": str(archive)},
            "OutputDataConfig": {"S3OutputPath": str(destination.parent.parent)},
            "FinalMetricDataList": _final_metrics(args, output),
        }
        self.lineage[step.name].update(
            job=arn,
            parameters=user,
            metrics={
                m["MetricName"]: m["Value"]
                for m in self.scope.steps[step.name]["FinalMetricDataList"].values()
            },
        )
        return self._remember(step, key, {"TrainingJob": {"Arn": arn}})

    def _stage_code(self, submit: str, code: Path) -> None:
        source = self._local(submit)
        code.mkdir(parents=True, exist_ok=True)
        if source.is_file() and source.name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(source) as tar:
                tar.extractall(code, filter="data")
        elif source.exists():
            self._copy(source, code)
        else:
            raise StepFailure(f"code {submit} not found at {source}")

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
            raise StepFailure("the model package names no ModelDataUrl to register")
        produced = [
            entry["location"]
            for record in self.lineage.values()
            for entry in (record.get("outputs") or {}).values()
        ]
        artifact = content_sha256(self._local(model))
        declared = request.get("CustomerMetadataProperties")
        customer = run_evidence(self.lineage, produced, artifact, declared)
        metadata = {**git_metadata(self.context.root), **(request.get("MetadataProperties") or {})}
        found = dict(request, CustomerMetadataProperties=customer)
        if metadata:
            found["MetadataProperties"] = metadata
        statistics = ((request.get("ModelMetrics") or {}).get("ModelQuality") or {}).get(
            "Statistics"
        )
        if statistics:
            report = self._local(statistics["S3Uri"])
            if not report.is_file():
                raise StepFailure(f"the evaluation report {report} was not written")
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

    def _note(self, step: str, kind: str, name: str, source: str, path: Path) -> None:
        entry: dict[str, Any] = {"location": str(source), "sha256": content_sha256(path)}
        if str(path) in self._snapshots:
            entry["snapshot"] = self._snapshots[str(path)]
        self.lineage.setdefault(step, {}).setdefault(kind, {})[name] = entry

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
        folder = self._child(self.folder, step, "step")
        if folder.exists():  # a step never sees a previous attempt's files
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        return folder

    def _job_name(self, step: str) -> str:
        return f"pipelines-{self.scope.execution['PipelineExecutionId']}-{step}"[:63]

    def _job_arn(self, kind: str, step: str) -> str:
        return f"{self.context.arn_prefix}{kind}/{self._job_name(step).lower()}"

    def _local(self, uri: Any) -> Path:
        """A location the step names, confined to the project and state folders."""
        try:
            return confine(self.context.root, self.context.state_dir, uri)
        except NotLocal:
            raise StepFailure(
                f"{uri} is not reachable from the local emulator; a local pipeline reads and "
                "writes local paths and file: URIs only"
            ) from None
        except PathRefused as exc:
            raise StepFailure(exc.message) from None

    @staticmethod
    def _child(folder: Path, name: str, what: str) -> Path:
        try:
            return child(folder, name, what)
        except PathRefused as exc:
            raise StepFailure(exc.message) from None

    def _copy(self, source: Path, target: Path) -> None:
        """Copy a file into folder `target`, or a folder's contents into it; every file
        copied, symlinks followed, must be inside the project or state folder.

        Real copies, not links: a script that writes into its input folder must not change
        the user's files or an earlier step's outputs, as on SageMaker it could not."""

        def copy(src: str, dst: str) -> None:
            shutil.copy2(self._local(Path(src)), dst)

        if source.is_file():
            copy(str(source), str(target / source.name))
            return
        shutil.copytree(source, target, dirs_exist_ok=True, copy_function=copy)

    def _publish(self, step: str, output: Path, target: Path) -> None:
        """The end-of-job upload of a processing output: its files appear under `target`.

        As S3 overwrites keys, a file replaces the one at its place; what this step published
        to `target` before (its manifest) goes first, and nothing else there is removed. Hard
        links where possible: the step's process has ended, so nothing writes to them."""
        manifest = self._child(self.context.manifests, step, "step") / (
            hashlib.sha256(str(target).encode()).hexdigest()[:32] + ".json"
        )
        for relative in _read_manifest(manifest, target):
            earlier = target / relative
            if earlier.is_symlink() or earlier.is_file():
                self._local(earlier.parent)  # never through a link out of the roots
                earlier.unlink()
        written = []
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(output.rglob("*")):
            if path.is_dir():
                continue
            relative = path.relative_to(output).as_posix()
            destination = target / relative
            self._local(destination.parent)  # a folder of the target linked out: refused
            destination.parent.mkdir(parents=True, exist_ok=True)
            if destination.is_symlink() or destination.exists():
                if destination.is_dir() and not destination.is_symlink():
                    raise StepFailure(f"output {relative} cannot replace the folder {destination}")
                destination.unlink()
            _link_or_copy(self._local(path), destination)
            written.append(relative)
        manifest.parent.mkdir(parents=True, exist_ok=True)
        partial = manifest.with_suffix(".tmp")
        partial.write_text(json.dumps({"target": str(target), "files": written}, indent=1))
        partial.replace(manifest)

    def _stage(self, uri: Any, target: Path) -> Path:
        """Put what `uri` names into folder `target`, as a File-mode S3 download would; the
        file or folder staged."""
        source = self._local(uri)
        target.mkdir(parents=True, exist_ok=True)
        offline = _under(source, self.context.offline_root)
        if offline is not None:
            self._snapshots[str(target)] = self.context.export_offline(offline.parts[0], target)
            return target
        if not source.exists():
            raise StepFailure(f"input {uri} does not exist ({source})")
        self._copy(source, target)
        return target / source.name if source.is_file() else target

    def _execute(
        self,
        command: list[str],
        env: dict[str, str],
        folder: Path,
        args: dict[str, Any],
        cwd: Path | None = None,
    ) -> str:
        """Run one step's process to the end; its output, or a `StepFailure` with the log tail.

        The job's `StoppingCondition.MaxRuntimeInSeconds` bounds it, as on SageMaker."""
        limit = (args.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
        log_path = folder / LOG_FILE
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
        with log_path.open("wb") as out:
            with self._process_lock:
                if self.stop_requested.is_set():
                    raise Stopped
                # Supervised: its process group dies with the emulator, however it ends.
                self._process = supervisor.popen(
                    command,
                    cwd=cwd or folder,
                    env=environment,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            try:
                code = self._process.wait(limit)
            except subprocess.TimeoutExpired:
                supervisor.stop(self._process)
                code = None
        text = log_path.read_text(errors="replace")
        if self.stop_requested.is_set():
            raise Stopped
        tail = "\n".join(text.rstrip().splitlines()[-LOG_TAIL_LINES:])
        if code is None:
            raise StepFailure(
                f"the script ran longer than MaxRuntimeInSeconds ({limit}) and was stopped. "
                f"Log ({log_path}):\n{tail}"
            )
        if code != 0:
            raise StepFailure(f"the script exited with code {code}. Log ({log_path}):\n{tail}")
        return text

    def _read_property_file(self, step: str, name: str) -> Any:
        path = self._property_files.get(step, {}).get(name)
        if path is None:
            raise DefinitionError(f"Step {step} has no property file {name}.")
        path = self._local(path)
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise StepFailure(
                f"property file {name} of step {step} was not written: {path}"
            ) from None
        except json.JSONDecodeError as exc:
            raise StepFailure(f"property file {path} is not JSON: {exc}") from None


def _training_environment(
    folder: Path, channels: dict[str, Path], hyperparameters: dict[str, Any]
) -> dict[str, str]:
    """The `SM_*` variables of SageMaker's training toolkit, pointing into the step's folder."""
    return {
        "SM_MODEL_DIR": str(folder / "model"),
        "SM_OUTPUT_DATA_DIR": str(folder / "output" / "data"),
        "SM_OUTPUT_DIR": str(folder / "output"),
        "SM_INPUT_DIR": str(folder / "input"),
        "SM_CHANNELS": json.dumps(sorted(channels)),
        "SM_HPS": json.dumps(hyperparameters),
        "SM_USER_ARGS": json.dumps(_arguments(hyperparameters)),
        "SM_MODULE_DIR": str(folder / "code"),
        "SM_CURRENT_HOST": "algo-1",
        "SM_HOSTS": json.dumps(["algo-1"]),
        "SM_NUM_GPUS": "0",
        **{f"SM_CHANNEL_{name.upper()}": str(path) for name, path in channels.items()},
        **{f"SM_HP_{key.upper()}": _hp_text(value) for key, value in hyperparameters.items()},
    }


def _final_metrics(args: dict[str, Any], log_text: str) -> dict[str, dict[str, Any]]:
    """The last value each MetricDefinitions regex finds in the log, as FinalMetricDataList."""
    metrics = {}
    for definition in (args.get("AlgorithmSpecification") or {}).get("MetricDefinitions", ()):
        found = re.findall(definition["Regex"], log_text)
        if found:
            value = found[-1][0] if isinstance(found[-1], tuple) else found[-1]
            metrics[definition["Name"]] = {
                "MetricName": definition["Name"],
                "Value": float(value),
                "Timestamp": time.time(),
            }
    return metrics


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


def _container_path(folder: Path, local_path: str) -> Path:
    """A processing container path (`/opt/ml/processing/x`) in the step's folder (`x`)."""
    relative = local_path.removeprefix(PROCESSING_ROOT).strip("/")
    if local_path == relative or not relative:
        raise StepFailure(f"LocalPath {local_path} is outside {PROCESSING_ROOT}")
    try:
        return within(folder, folder / relative, "LocalPath")
    except PathRefused:
        raise StepFailure(f"LocalPath {local_path} is outside {PROCESSING_ROOT}") from None


def _map_value(folder: Path, value: str) -> str:
    if value == PROCESSING_ROOT or value.startswith(PROCESSING_ROOT + "/"):
        return str(folder / value.removeprefix(PROCESSING_ROOT).strip("/"))
    return value


def _under(path: Path, root: Path) -> Path | None:
    try:
        relative = path.resolve().relative_to(root.resolve())
    except ValueError:
        return None
    return relative if relative.parts else None


def _read_manifest(manifest: Path, target: Path) -> list[str]:
    """The files a step published to `target` before: relative paths, none leaving it."""
    try:
        document = json.loads(manifest.read_text())
    except FileNotFoundError:
        return []
    except (OSError, ValueError):
        log.warning("unreadable output manifest %s: nothing of it is removed", manifest)
        return []
    if not isinstance(document, dict) or document.get("target") != str(target):
        return []
    files = document.get("files")
    return [
        f
        for f in (files if isinstance(files, list) else [])
        if isinstance(f, str) and f and not Path(f).is_absolute() and ".." not in Path(f).parts
    ]


def _link_or_copy(source: Any, target: Any) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _pack(model_dir: Path, archive: Path) -> None:
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.rglob("*")):
            tar.add(path, arcname=path.relative_to(model_dir).as_posix(), recursive=False)


def _decode(value: Any) -> Any:
    """A hyperparameter as the container sees it: JSON text decoded, other text as it is."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _hp_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _arguments(hyperparameters: dict[str, Any]) -> list[str]:
    found = []
    for key, value in hyperparameters.items():
        found += [f"--{key}", _hp_text(value)]
    return found
