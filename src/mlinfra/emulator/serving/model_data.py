"""Find a variant's model on disk: a directory, a model.joblib file, or a model.tar.gz.

Archives are what SageMaker training writes to ``model.tar.gz``; they are unpacked under the
pool's root, refusing members that would land outside it (absolute paths, ``..``, links
out, devices). The model directory found is what SageMaker mounts at ``/opt/ml/model``: an
inference script's ``model_fn`` gets it, and the default handler loads its ``model.joblib``.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from mlinfra.emulator.serving.errors import ServingError

MODEL_FILE = "model.joblib"
FEATURES_FILE = "features.json"
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")


@dataclass(frozen=True)
class Setup:
    """What a replica loads, sent to its spawned process: the model directory (``model_fn``
    gets it), its model.joblib and features.json if any, the inference script if the container
    names one, and the container's environment, which the process takes as its own."""

    model_dir: str
    model_file: str | None = None
    features_file: str | None = None
    script: str | None = None
    environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelFiles:
    directory: Path  # the model directory, /opt/ml/model in a SageMaker container
    model: Path | None  # model.joblib; None only when a script's model_fn is to load the model
    features: Path | None


def locate(model_data: Path | str, workdir: Path, *, need_model_file: bool = True) -> ModelFiles:
    """Resolve ``model_data`` to the model directory and file, extracting an archive into
    ``workdir``. Without ``need_model_file`` (an inference script may define ``model_fn``)
    a directory without model.joblib is still a model."""
    text = str(model_data)
    if text.startswith("file://"):
        text = text[len("file://") :]
    if "://" in text:
        raise _invalid(f"model data {text} is not a local path; the emulator serves local files")
    path = Path(text).expanduser()
    if path.is_dir() and not (path / MODEL_FILE).is_file() and (path / "model.tar.gz").is_file():
        path = path / "model.tar.gz"
    if path.is_file() and path.name.endswith(ARCHIVE_SUFFIXES):
        extract(path, workdir)
        path = workdir
    model: Path | None
    if path.is_dir():
        directory, model = path, path / MODEL_FILE
        if not model.is_file():
            found = sorted(path.rglob(MODEL_FILE))
            model = found[0] if found else None
            if model is None and need_model_file:
                raise _invalid(f"no {MODEL_FILE} in model data {model_data}")
    elif path.is_file():
        directory, model = path.parent, path
    else:
        raise _invalid(f"model data {model_data} not found")
    features = (model.parent if model is not None else directory) / FEATURES_FILE
    return ModelFiles(directory, model, features if features.is_file() else None)


def extract(archive: Path, dest: Path) -> None:
    """Unpack ``archive`` into ``dest``, refusing any member that escapes it."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in members:
                _check(member, archive)
            # The "data" filter re-checks the same rules and drops unsafe modes.
            tar.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise _invalid(f"cannot extract model archive {archive}: {exc}") from None


def _check(member: tarfile.TarInfo, archive: Path) -> None:
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts:
        raise _invalid(f"model archive {archive} has an unsafe member path: {member.name}")
    if member.isdev():
        raise _invalid(f"model archive {archive} has a device member: {member.name}")
    if member.issym() or member.islnk():
        target = PurePosixPath(member.linkname)
        if target.is_absolute() or ".." in target.parts:
            raise _invalid(f"model archive {archive} has a link out of it: {member.name}")


def _invalid(message: str) -> ServingError:
    return ServingError("ValidationException", message, 400)
