"""Writing a rendered Pulumi project where the user asked, with an error in their words when
it cannot be written: for a render, and for a compile-cache hit without the stages' imports."""

from __future__ import annotations

from pathlib import Path

from mlinfra.operations.errors import OperationError
from mlinfra.render.files import write_project


def os_problem(exc: OSError) -> str:
    """An OSError as `path: reason`, without Python's `[Errno N]`."""
    reason = exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if exc.filename else reason


def write_stack(files, out_dir: str | Path, suggestion: str) -> None:
    """Write a rendered Pulumi project into `out_dir`; an error saying why when it cannot."""
    try:
        write_project(files, out_dir)
    except OSError as exc:
        reason = os_problem(exc)
        for place in (Path(out_dir), *Path(out_dir).parents):
            if place.exists() and not place.is_dir():
                reason = f"{place} is a file, not a folder"
                break
        raise OperationError(
            f"cannot write the Pulumi project to {out_dir}: {reason}", suggestion
        ) from None
