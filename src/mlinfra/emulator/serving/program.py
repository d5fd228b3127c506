"""Find the inference script a model's container names, as SageMaker's framework containers do.

A container's ``SAGEMAKER_PROGRAM`` names a script (``train.py``) and
``SAGEMAKER_SUBMIT_DIRECTORY`` says where it is: a folder, a ``sourcedir.tar.gz``, or
``/opt/ml/model/code``, the ``code/`` folder of the model archive itself (what SageMaker uses
under network isolation). The container copies or unpacks that location and imports the
program by name (sagemaker-containers ``_env.ServingEnv`` and ``_modules.import_module`` /
``_files.download_and_extract``). The emulator looks in the submit directory when it is local,
then in the model's ``code/`` folder; a program found in neither fails the endpoint, as a
container that cannot import its program never starts. Only the file the program names is
ever run: its name must be a plain file name, looked up inside those folders.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from mlinfra.emulator.serving.errors import ServingError
from mlinfra.emulator.serving.model_data import ARCHIVE_SUFFIXES, extract

PROGRAM = "SAGEMAKER_PROGRAM"
SUBMIT_DIRECTORY = "SAGEMAKER_SUBMIT_DIRECTORY"
MODEL_CODE = "/opt/ml/model/code"  # the model archive's code/ folder, inside the container
CODE_FOLDER = "code"


@dataclass(frozen=True)
class Program:
    """An inference script: its file name and, if the emulator can read it, its submit location.

    ``source`` is None when the submit directory is the model's own ``code/`` folder, is
    absent, or is out of the emulator's reach (``s3://``); ``submitted`` is the variable as
    written, for messages.
    """

    name: str
    source: Path | None = None
    submitted: str | None = None

    def find(self, model_dir: Path, workdir: Path) -> Path:
        """The script's path; a ``sourcedir.tar.gz`` is unpacked under ``workdir`` first.

        Raises ServingError naming the program and every place looked.
        """
        looked: list[str] = []
        for folder in self._folders(model_dir, workdir, looked):
            script = folder / self.name
            if script.is_file():
                return script
        raise ServingError(
            "ValidationException",
            f"The inference script {PROGRAM}={self.name} was not found: looked in "
            f"{'; '.join(looked)}.",
            400,
        )

    def _folders(self, model_dir: Path, workdir: Path, looked: list[str]) -> list[Path]:
        folders = []
        source = self.source
        if source is not None:
            described = f"{SUBMIT_DIRECTORY}={self.submitted} ({source})"
            if source.is_file() and source.name.endswith(ARCHIVE_SUFFIXES):
                unpacked = workdir / CODE_FOLDER
                extract(source, unpacked)
                folders.append(unpacked)
                described += f", unpacked into {unpacked}"
            elif source.is_file():
                # The local target names the entry point itself (file:pipelines/train.py).
                folders.append(source.parent)
                described = f"{SUBMIT_DIRECTORY}={self.submitted} ({source.parent})"
            else:
                folders.append(source)
                if not source.exists():
                    described += ", which does not exist"
            looked.append(described)
        elif self.submitted and not is_model_code(self.submitted):
            looked.append(f"{SUBMIT_DIRECTORY}={self.submitted}, which the emulator cannot read")
        model_code = model_dir / CODE_FOLDER
        folders.append(model_code)
        looked.append(f"the model's {CODE_FOLDER}/ folder ({model_code})")
        return folders


def program_of(environment: Mapping[str, str], local_path: Callable[[str], Path]) -> Program | None:
    """The program a container environment names, or None.

    ``local_path`` turns the submit directory into a local path (relative ones are the spec
    folder's business) or raises ValueError when the emulator cannot reach it (s3://); its
    other errors (a folder outside the project, ``paths.PathRefused``) pass through. Raises
    ServingError when ``SAGEMAKER_PROGRAM`` is not a plain script name.
    """
    name = str(environment.get(PROGRAM) or "").strip()
    if not name:
        return None
    if PurePosixPath(name).name != name or "\\" in name or name in (".", ".."):
        raise ServingError(
            "ValidationException",
            f"{PROGRAM}={name} must be the file name of a script (like inference.py), not a path.",
            400,
        )
    if not name.endswith(".py"):  # a module name, as the containers also accept
        name += ".py"
    submitted = str(environment.get(SUBMIT_DIRECTORY) or "").strip() or None
    source = None
    if submitted is not None and not is_model_code(submitted):
        try:
            source = local_path(submitted)
        except ValueError:  # s3:// and the like: only the model's code/ folder is searched
            source = None
    return Program(name, source, submitted)


def is_model_code(location: str) -> bool:
    """Whether a submit directory is the model archive's own code/ folder in the container."""
    try:
        parsed = urlparse(location)
    except ValueError:  # a malformed network location ("s3://[x"): not the code folder
        return False
    path = unquote(parsed.path) if parsed.scheme == "file" else location
    return parsed.scheme in ("", "file") and path.rstrip("/") == MODEL_CODE
