"""A SageMaker job's container, run locally: its `/opt/ml` folder, inputs, process and outputs.

One piece runs the processing and training jobs of both a pipeline's steps
(`services/pipelines/runner.py`) and the jobs an SDK user starts (`services/jobs/`). A job
has a folder standing in for its container's `/opt/ml`:

- processing: inputs copied to `input/<name>` from where their S3Uri points, `output/`
  written by the script and then "uploaded" to its S3Uri; every `/opt/ml/processing/...`
  path in the entrypoint, arguments and environment (such as `MLINFRA_PROCESSING_INPUT`) is
  mapped onto the job's folder;
- training: channels in `input/data/<channel>` (`SM_CHANNEL_<NAME>`), `model/`
  (`SM_MODEL_DIR`) packed afterwards into `<S3OutputPath>/<job>/output/model.tar.gz` as
  SageMaker does, `output/data/` (`SM_OUTPUT_DATA_DIR`), hyperparameters as `--key value`
  arguments and `SM_HPS`; the code (`sagemaker_submit_directory`) copied to `code/`.

Locations are local: `file:` URIs (relative to the spec's folder) or paths, each confined to
the project and state folders (`paths.confine`; a job reading or writing elsewhere fails
saying so). The emulator's feature-store offline folder is read through the feature store and
exported as Parquet. A script runs with the emulator's own Python (`sys.executable`), under
the emulator's supervisor (`supervisor.py`: it dies with the emulator), output to `log.txt`.

Publishing a processing output is S3's upload: each file overwrites the one at its key, and
what the same job (or step) published there before is removed first (a manifest per job and
target records it); nothing else in the target folder is ever deleted, so naming a folder of
the project as an output cannot wipe it.
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

log = logging.getLogger("mlinfra.emulator.jobs")

PROCESSING_ROOT = "/opt/ml/processing"
LOG_FILE = "log.txt"
LOG_TAIL_LINES = 20
PYTHON_NAMES = ("python", "python3")

# (input or output kind, its name, the location the request gave, the local file or folder)
Note = Callable[[str, str, str, Path], None]


class JobFailure(Exception):
    """A job failed; the message is its FailureReason."""


class Stopped(Exception):
    """The job was asked to stop while it ran."""


@dataclass(frozen=True)
class Locations:
    """Where a job may read and write, and how the feature store's offline data is read."""

    root: Path  # the spec's folder: relative locations are relative to it
    state_dir: Path  # the emulator's state folder: with `root`, all a job may touch
    manifests: Path  # where what each job published is recorded (see `Container.publish`)
    offline_root: Path  # the feature store's offline folder
    # (feature group, folder) -> Parquet written; its snapshot (rows, event-time range)
    export_offline: Callable[[str, Path], dict[str, Any]]


def parquet_exporter(
    read_offline: Callable[[str], Any], event_time_of: Callable[[str], str]
) -> Callable[[str, Path], dict[str, Any]]:
    """`Locations.export_offline` over a feature group's offline table (`read_offline`) and
    the name of its event-time feature (`event_time_of`)."""

    def export_offline(group: str, folder: Path) -> dict[str, Any]:
        import pyarrow.parquet as pq  # half a second to import: only reading offline data needs it

        table = read_offline(group)
        pq.write_table(table, folder / f"{group}.parquet")
        return offline_snapshot(table, event_time_of(group))

    return export_offline


def offline_snapshot(table: Any, event_time: str) -> dict[str, Any]:
    """A feature group's offline rows as a version records them: how many, and the range of
    their event times (None for an empty store)."""
    found: dict[str, Any] = {"rows": table.num_rows, "from": None, "to": None}
    if table.num_rows and event_time in table.column_names:
        import pyarrow.compute as pc  # only a run that reads a feature group needs pyarrow

        bounds = pc.min_max(table.column(event_time))
        found.update({"from": bounds["min"].as_py(), "to": bounds["max"].as_py()})
    return found


@dataclass(frozen=True)
class Training:
    """A training job's staged code and channels, ready to run."""

    program: str
    code: Path
    channels: dict[str, Path]
    hyperparameters: dict[str, Any]  # the user's, decoded, without `sagemaker_*`


class Container:
    """Jobs run one after another in SageMaker's container conventions; `stop()` ends the one
    running (and any started later) as StopTrainingJob or StopPipelineExecution would."""

    def __init__(self, locations: Locations) -> None:
        self.locations = locations
        self.stop_requested = threading.Event()
        # staged folder -> the snapshot of the feature group exported into it
        self.snapshots: dict[str, dict[str, Any]] = {}
        self._process: subprocess.Popen | None = None
        self._process_lock = threading.Lock()

    def stop(self) -> None:
        self.stop_requested.set()
        with self._process_lock:
            if self._process is not None and self._process.poll() is None:
                supervisor.stop(self._process)

    # --- processing ------------------------------------------------------------------------

    def stage_processing(self, args: dict[str, Any], folder: Path, note: Note) -> None:
        """Copy a processing job's inputs into their `/opt/ml/processing/...` folders."""
        for item in args.get("ProcessingInputs", ()):
            s3 = item.get("S3Input")
            if s3 is None:
                raise JobFailure(f"input {item.get('InputName')}: only S3Input is supported")
            target = container_path(folder, s3["LocalPath"])
            staged = self.stage(s3["S3Uri"], target)
            note("inputs", item["InputName"], s3["S3Uri"], staged)

    def run_processing(
        self,
        args: dict[str, Any],
        folder: Path,
        job: str,
        job_arn: str,
        note: Note,
        publisher: str | None = None,
    ) -> tuple[dict[str, Any], dict[str, Path]]:
        """Run a staged processing job and publish its outputs: its properties (as
        DescribeProcessingJob has them) and each output's local folder. `publisher` (the
        job, or a pipeline's step across its executions) owns what is published."""
        outputs = (args.get("ProcessingOutputConfig") or {}).get("Outputs", [])
        for item in outputs:
            container_path(folder, item["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
        app = args.get("AppSpecification") or {}
        command = [*app.get("ContainerEntrypoint", ()), *app.get("ContainerArguments", ())]
        if not command:
            raise JobFailure("AppSpecification has no ContainerEntrypoint")
        command = [_map_value(folder, c) for c in command]
        if command[0] in PYTHON_NAMES:
            command[0] = sys.executable
        env = {k: _map_value(folder, str(v)) for k, v in (args.get("Environment") or {}).items()}
        self.execute(command, env, folder, args)
        properties: dict[str, Any] = {
            "ProcessingJobName": job,
            "ProcessingJobArn": job_arn,
            "ProcessingJobStatus": "Completed",
            "ProcessingOutputConfig": {"Outputs": {}},
        }
        files: dict[str, Path] = {}
        for item in outputs:
            target = self.local(item["S3Output"]["S3Uri"])
            self.publish(
                publisher or job, container_path(folder, item["S3Output"]["LocalPath"]), target
            )
            properties["ProcessingOutputConfig"]["Outputs"][item["OutputName"]] = {
                "OutputName": item["OutputName"],
                "S3Output": dict(item["S3Output"], S3Uri=str(target)),
            }
            files[item["OutputName"]] = target
            note("outputs", item["OutputName"], str(target), target)
        return properties, files

    # --- training --------------------------------------------------------------------------

    def stage_training(self, args: dict[str, Any], folder: Path, note: Note) -> Training:
        """Copy a script-mode training job's code and channels into its folder."""
        hyper = {k: _decode(v) for k, v in (args.get("HyperParameters") or {}).items()}
        program = hyper.get("sagemaker_program")
        submit = hyper.get("sagemaker_submit_directory")
        if not program or not submit:
            raise JobFailure(
                "only script mode training runs locally: HyperParameters must name "
                "sagemaker_program and sagemaker_submit_directory"
            )
        code = folder / "code"
        self.stage_code(str(submit), code)
        note("code", str(program), str(submit), code)
        channels = {}
        for channel in args.get("InputDataConfig", ()):
            source = (channel.get("DataSource") or {}).get("S3DataSource") or {}
            if "S3Uri" not in source:
                raise JobFailure(
                    f"channel {channel['ChannelName']}: only S3DataSource inputs run locally"
                )
            path = self.child(folder / "input" / "data", channel["ChannelName"], "channel")
            staged = self.stage(source["S3Uri"], path)
            note("inputs", channel["ChannelName"], source["S3Uri"], staged)
            channels[channel["ChannelName"]] = path
        user = {k: v for k, v in hyper.items() if not k.startswith("sagemaker_")}
        return Training(str(program), code, channels, user)

    def run_training(
        self,
        args: dict[str, Any],
        folder: Path,
        staged: Training,
        job: str,
        job_arn: str,
        note: Note,
    ) -> dict[str, Any]:
        """Run a staged training job and pack its model: its properties, as
        DescribeTrainingJob has them."""
        model_dir, output_data = folder / "model", folder / "output" / "data"
        model_dir.mkdir(parents=True, exist_ok=True)
        output_data.mkdir(parents=True, exist_ok=True)
        env = {
            **(args.get("Environment") or {}),
            **_training_environment(folder, staged.channels, staged.hyperparameters),
        }
        try:
            script = within(staged.code, staged.code / staged.program, "sagemaker_program")
        except PathRefused as exc:
            message = f"{exc.message} The program is a file of the submitted code."
            raise JobFailure(message) from None
        command = [sys.executable, str(script), *_arguments(staged.hyperparameters)]
        output = self.execute(command, env, folder, args, cwd=staged.code)
        destination = self.local(args["OutputDataConfig"]["S3OutputPath"]) / job / "output"
        self.local(destination.parent)  # a job name is one plain component, but links exist
        destination.mkdir(parents=True, exist_ok=True)
        archive = destination / "model.tar.gz"
        _pack(model_dir, archive)
        _pack(output_data, destination / "output.tar.gz")
        note("outputs", "model", str(archive), archive)
        return {
            "TrainingJobName": job,
            "TrainingJobArn": job_arn,
            "TrainingJobStatus": "Completed",
            "ModelArtifacts": {"S3ModelArtifacts": str(archive)},
            "OutputDataConfig": {"S3OutputPath": str(destination.parent.parent)},
            "FinalMetricDataList": final_metrics(args, output),
        }

    def stage_code(self, submit: str, code: Path) -> None:
        source = self.local(submit)
        code.mkdir(parents=True, exist_ok=True)
        if source.is_file() and source.name.endswith((".tar.gz", ".tgz")):
            try:
                with tarfile.open(source) as tar:
                    tar.extractall(code, filter="data")
            except (tarfile.TarError, OSError) as exc:
                raise JobFailure(f"code {submit} is not a usable archive: {exc}") from None
        elif source.exists():
            self.copy(source, code)
        else:
            raise JobFailure(f"code {submit} not found at {source}")

    # --- locations -------------------------------------------------------------------------

    def local(self, uri: Any) -> Path:
        """A location the job names, confined to the project and state folders."""
        try:
            return confine(self.locations.root, self.locations.state_dir, uri)
        except NotLocal:
            raise JobFailure(
                f"{uri} is not reachable from the local emulator; a local job reads and "
                "writes local paths and file: URIs only"
            ) from None
        except PathRefused as exc:
            raise JobFailure(exc.message) from None

    @staticmethod
    def child(folder: Path, name: str, what: str) -> Path:
        try:
            return child(folder, name, what)
        except PathRefused as exc:
            raise JobFailure(exc.message) from None

    def copy(self, source: Path, target: Path) -> None:
        """Copy a file into folder `target`, or a folder's contents into it; every file
        copied, symlinks followed, must be inside the project or state folder.

        Real copies, not links: a script that writes into its input folder must not change
        the user's files or an earlier job's outputs, as on SageMaker it could not."""

        def copy(src: str, dst: str) -> None:
            shutil.copy2(self.local(Path(src)), dst)

        if source.is_file():
            copy(str(source), str(target / source.name))
            return
        shutil.copytree(source, target, dirs_exist_ok=True, copy_function=copy)

    def publish(self, publisher: str, output: Path, target: Path) -> None:
        """The end-of-job upload of a processing output: its files appear under `target`.

        As S3 overwrites keys, a file replaces the one at its place; what this job published
        to `target` before (its manifest) goes first, and nothing else there is removed. Hard
        links where possible: the job's process has ended, so nothing writes to them."""
        manifest = self.child(self.locations.manifests, publisher, "publisher") / (
            hashlib.sha256(str(target).encode()).hexdigest()[:32] + ".json"
        )
        for relative in _read_manifest(manifest, target):
            earlier = target / relative
            if earlier.is_symlink() or earlier.is_file():
                self.local(earlier.parent)  # never through a link out of the roots
                earlier.unlink()
        written = []
        target.mkdir(parents=True, exist_ok=True)
        for path in sorted(output.rglob("*")):
            if path.is_dir():
                continue
            relative = path.relative_to(output).as_posix()
            destination = target / relative
            self.local(destination.parent)  # a folder of the target linked out: refused
            destination.parent.mkdir(parents=True, exist_ok=True)
            if destination.is_symlink() or destination.exists():
                if destination.is_dir() and not destination.is_symlink():
                    raise JobFailure(f"output {relative} cannot replace the folder {destination}")
                destination.unlink()
            _link_or_copy(self.local(path), destination)
            written.append(relative)
        manifest.parent.mkdir(parents=True, exist_ok=True)
        partial = manifest.with_suffix(".tmp")
        partial.write_text(json.dumps({"target": str(target), "files": written}, indent=1))
        partial.replace(manifest)

    def stage(self, uri: Any, target: Path) -> Path:
        """Put what `uri` names into folder `target`, as a File-mode S3 download would; the
        file or folder staged."""
        source = self.local(uri)
        target.mkdir(parents=True, exist_ok=True)
        offline = under(source, self.locations.offline_root)
        if offline is not None:
            self.snapshots[str(target)] = self.locations.export_offline(offline.parts[0], target)
            return target
        if not source.exists():
            raise JobFailure(f"input {uri} does not exist ({source})")
        self.copy(source, target)
        return target / source.name if source.is_file() else target

    # --- the process -----------------------------------------------------------------------

    def execute(
        self,
        command: list[str],
        env: dict[str, str],
        folder: Path,
        args: dict[str, Any],
        cwd: Path | None = None,
    ) -> str:
        """Run one job's process to the end; its output, or a `JobFailure` with the log tail.

        The job's `StoppingCondition.MaxRuntimeInSeconds` bounds it, as on SageMaker."""
        limit = (args.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
        log_path = folder / LOG_FILE
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
        with log_path.open("wb") as out:
            with self._process_lock:
                if self.stop_requested.is_set():
                    raise Stopped
                # Supervised: its process group dies with the emulator, however it ends.
                try:
                    self._process = supervisor.popen(
                        command,
                        cwd=cwd or folder,
                        env=environment,
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                except (OSError, ValueError) as exc:  # no such program, a NUL in an argument
                    raise JobFailure(f"cannot run {command[0]!r}: {exc}") from None
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
            raise JobFailure(
                f"the script ran longer than MaxRuntimeInSeconds ({limit}) and was stopped. "
                f"Log ({log_path}):\n{tail}"
            )
        if code != 0:
            raise JobFailure(f"the script exited with code {code}. Log ({log_path}):\n{tail}")
        return text


def _training_environment(
    folder: Path, channels: dict[str, Path], hyperparameters: dict[str, Any]
) -> dict[str, str]:
    """The `SM_*` variables of SageMaker's training toolkit, pointing into the job's folder."""
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


def final_metrics(args: dict[str, Any], log_text: str) -> dict[str, dict[str, Any]]:
    """The last value each MetricDefinitions regex finds in the log, by metric name."""
    metrics = {}
    for definition in (args.get("AlgorithmSpecification") or {}).get("MetricDefinitions", ()):
        try:
            found = re.findall(definition["Regex"], log_text)
        except re.error:
            continue  # a user's regex that does not compile finds nothing, as on SageMaker
        if found:
            value = found[-1][0] if isinstance(found[-1], tuple) else found[-1]
            try:
                number = float(value)
            except ValueError:
                continue
            metrics[definition["Name"]] = {
                "MetricName": definition["Name"],
                "Value": number,
                "Timestamp": time.time(),
            }
    return metrics


def container_path(folder: Path, local_path: str) -> Path:
    """A processing container path (`/opt/ml/processing/x`) in the job's folder (`x`)."""
    relative = local_path.removeprefix(PROCESSING_ROOT).strip("/")
    if local_path == relative or not relative:
        raise JobFailure(f"LocalPath {local_path} is outside {PROCESSING_ROOT}")
    try:
        return within(folder, folder / relative, "LocalPath")
    except PathRefused:
        raise JobFailure(f"LocalPath {local_path} is outside {PROCESSING_ROOT}") from None


def _map_value(folder: Path, value: str) -> str:
    if value == PROCESSING_ROOT or value.startswith(PROCESSING_ROOT + "/"):
        return str(folder / value.removeprefix(PROCESSING_ROOT).strip("/"))
    return value


def under(path: Path, root: Path) -> Path | None:
    """`path` relative to `root` when it is strictly below it (a feature group's folder under
    the offline root), else None."""
    try:
        relative = path.resolve().relative_to(root.resolve())
    except ValueError:
        return None
    return relative if relative.parts else None


def _read_manifest(manifest: Path, target: Path) -> list[str]:
    """The files a job published to `target` before: relative paths, none leaving it."""
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
