"""Where an environment's state lives: a local folder, or `s3://bucket/prefix`.

The location comes from `--state`, else the spec's `state:` key (whose default the schema
gives); a relative folder is relative to the spec's folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from mlinfra.state.file import FileBackend
from mlinfra.state.lock import Lock
from mlinfra.state.model import State, StateError
from mlinfra.state.s3 import SCHEME, S3Backend


class Backend(Protocol):
    def describe(self, env: str) -> str: ...

    def read(self, project: str, env: str) -> State: ...

    def write(self, state: State) -> State: ...

    def lock(self, env: str, command: str, timeout: float = 0.0) -> Lock: ...


def backend_for(
    location: str, spec_dir: str | Path, region: str | None = None, client: Any = None
) -> Backend:
    """The backend of `location`: a folder relative to `spec_dir`, or an S3 URI."""
    if any(ord(c) < 0x20 or c == "\x7f" for c in location):
        # A NUL cannot be in a path at all, and no one means a tab or newline in one.
        raise StateError(
            f"the state location {location!r} contains a control character; give a folder "
            "(relative to the spec) or s3://BUCKET/PREFIX"
        )
    if location.startswith(SCHEME):
        return S3Backend(location, client=client, region=region)
    return FileBackend(Path(spec_dir) / location)
