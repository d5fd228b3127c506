"""Find a variant's model on disk: a directory, a model.joblib file, or a model.tar.gz.

Archives are what SageMaker training writes to ``model.tar.gz``; they are unpacked under the
pool's root, refusing members that would land outside it (absolute paths, ``..``, links
out, devices).
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mlinfra.emulator.serving.errors import ServingError

MODEL_FILE = "model.joblib"
FEATURES_FILE = "features.json"
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")


@dataclass(frozen=True)
class ModelFiles:
    model: Path
    features: Path | None
    extracted: Path | None  # a directory we unpacked and so must remove on undeploy


def locate(model_data: Path | str, workdir: Path) -> ModelFiles:
    """Resolve ``model_data`` to the model file, extracting an archive into ``workdir``."""
    text = str(model_data)
    if text.startswith("file://"):
        text = text[len("file://") :]
    if "://" in text:
        raise _invalid(f"model data {text} is not a local path; the emulator serves local files")
    path = Path(text).expanduser()
    extracted = None
    if path.is_dir() and not (path / MODEL_FILE).is_file() and (path / "model.tar.gz").is_file():
        path = path / "model.tar.gz"
    if path.is_file() and path.name.endswith(ARCHIVE_SUFFIXES):
        extract(path, workdir)
        path = extracted = workdir
    if path.is_dir():
        model = path / MODEL_FILE
        if not model.is_file():
            found = sorted(path.rglob(MODEL_FILE))
            if not found:
                raise _invalid(f"no {MODEL_FILE} in model data {model_data}")
            model = found[0]
    elif path.is_file():
        model = path
    else:
        raise _invalid(f"model data {model_data} not found")
    features = model.parent / FEATURES_FILE
    return ModelFiles(model, features if features.is_file() else None, extracted)


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
