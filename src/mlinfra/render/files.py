"""Writing a rendered project's files into its folder, each atomically: what a render and a
compile-cache hit (`operations.compile_cache`) share, without the renderer's imports."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path


class RenderError(ValueError):
    """The graph cannot be written as a program: a bug in mlinfra, never bad user input."""


def write_project(files: Mapping[str, str | bytes], out_dir: str | os.PathLike) -> list[Path]:
    """Write the files into `out_dir` (created if needed), each atomically: written to a
    temporary file beside it, then renamed over the old one, so a reader (or a crash) never
    sees half a file. Files already there that mlinfra did not render are left alone."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in sorted(files):
        if "/" in name or "\\" in name or name in {"", ".", ".."}:
            raise RenderError(f"{name!r} is not a file name")
        target = out / name
        handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out)
        try:
            content = files[name]
            data = content if isinstance(content, bytes) else content.encode("utf-8")
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        written.append(target)
    return written
