"""The compile cache: what `mlinfra render` wrote, kept beside the spec and written again,
without validating, lowering or rendering, when nothing the compile read has changed.

A compile reads the spec's bytes, the files the spec names (scripts, artifacts, baselines,
input data: their content, or a folder's every file), mlinfra's own code and the installed
packages (botocore's SageMaker model, pulumi_aws), and where it is run from (the spec's path
as given and the output folder, which the program and the diagnostics name). All of that is
the key; an entry is used only when every part is the same, so a cached render is the render
that would have been made (`tests/operations/test_compile_cache.py` compares them byte for
byte after edits of every kind).

It lives in `.mlinfra/cache/render/` beside the spec: one small JSON index per command shape
(which environments, which output folder) and the files' contents by their SHA-256. It is safe
to delete. A corrupt, truncated or foreign entry, a missing object or one whose bytes do not
hash to its name is a miss: the compile runs and the entry is written again, never an error.
Nothing in it is executed or unpickled: it is JSON and file bytes, checked by hash, because a
branch could commit a `.mlinfra/` folder of its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import mlinfra
from mlinfra.diagnostics import Diagnostic, Position, Severity, SourceRange
from mlinfra.operations.progress import Progress, Written
from mlinfra.operations.stacks import write_stack

# Bumped when an entry's layout or what the key covers changes: older entries are misses.
FORMAT = 1
CACHE_DIR = Path(".mlinfra") / "cache" / "render"
OBJECTS = "objects"
_CHUNK = 1 << 20
# Larger than any spec validation accepts (`syntax.loader.MAX_FILE_BYTES`, 4 MiB), whose
# module the cache does not import: a bigger file is never a hit, and is not read.
LARGEST_SPEC = 8 << 20
# Entries kept: a project is rendered into a few folders (each environment, `--all`), and a
# render into a new temporary folder each time must not grow the cache without end.
KEPT_ENTRIES = 16


@dataclass(frozen=True)
class CompileRequest:
    """What a render was asked for, as the command was given it."""

    spec_file: str
    environments: tuple[str, ...] | None  # None: every environment (`--all`)
    out: str | None

    def describe(self) -> dict:
        # The spec's path as given and the working folder: diagnostics name the spec as the
        # user wrote it, and programs name it relative to the output folder.
        return {
            "spec_file": self.spec_file,
            "cwd": os.getcwd(),
            "environments": list(self.environments) if self.environments is not None else None,
            "out": self.out,
        }


@dataclass(frozen=True)
class Stack:
    """One environment's rendered project: where it went and its files."""

    env: str
    out_dir: str
    resources: int
    files: dict[str, str | bytes]


@dataclass(frozen=True)
class Recalled:
    """A cache hit: the validation's diagnostics and text, and each stack as rendered."""

    diagnostics: list[Diagnostic]
    text: str
    stacks: list[Stack]


def stack_folder(spec_file: str, env: str, every: bool, out: str | None) -> str:
    """Where a render writes `env`'s project: `--out`, or with `--all` a folder per
    environment in `--out`; by default `stacks/<env>/` beside the spec."""
    if every:
        return os.path.join(out or os.path.join(os.path.dirname(spec_file), "stacks"), env)
    return out or os.path.join(os.path.dirname(spec_file), "stacks", env)


def _where_it_goes(request: CompileRequest, stack: dict) -> str:
    """The folder a recalled stack is written to, as the request puts it; a `_Corrupt` when
    the entry names another environment, folder or file: a recalled entry is data, and only
    ever writes where the render would."""
    env, every = stack["env"], request.environments is None
    if not isinstance(env, str) or (not every and (env,) != request.environments):
        raise _Corrupt(env)
    folder = stack_folder(request.spec_file, env, every, request.out)
    names = stack["files"]
    if stack["out_dir"] != folder or any(
        os.path.basename(n) != n or n in ("", ".", "..") for n in names
    ):
        raise _Corrupt(folder)
    return folder


# --- the key ----------------------------------------------------------------------------------


def code_fingerprint() -> str:
    """mlinfra's version and code, Python's, and every installed distribution's version.

    The code is fingerprinted by each file's size and modification time (not its content:
    that would cost more than the hit it guards), so an edited mlinfra, a reinstall or an
    upgraded botocore or pulumi_aws is a miss even when the version string stays 0.1.0.
    """
    parts = [f"mlinfra {mlinfra.__version__}", sys.version]
    package = Path(mlinfra.__file__).parent
    for folder, dirs, files in os.walk(package):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            found = os.stat(os.path.join(folder, name))
            relative = os.path.relpath(os.path.join(folder, name), package)
            parts.append(f"{relative} {found.st_size} {found.st_mtime_ns}")
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))
        except OSError:
            continue
        parts.extend(
            f"{entry}/{n}" for n in names if n.endswith((".dist-info", ".egg-info", ".pth"))
        )
    return _sha256("\n".join(parts).encode())


def path_states(spec_file: str, written: list[str]) -> dict[str, str]:
    """`path_state` of each path the spec names, by the path as written."""
    spec_dir = Path(spec_file).resolve().parent  # as validation and lowering resolve paths
    return {path: path_state(spec_dir, path) for path in sorted(set(written))}


def path_state(spec_dir: Path, written: str) -> str:
    """What a path the spec names is now: its content's hash, a folder's every file, or
    that it is missing. Where it resolves to is part of it (a symlink moved elsewhere)."""
    path = spec_dir / written
    try:
        real = os.path.realpath(path)
        if os.path.isfile(path):
            return f"file {real} {_file_sha256(path)}"
        if os.path.isdir(path):
            return f"folder {real} {_folder_sha256(Path(real))}"
        return "missing" if not os.path.lexists(path) else f"other {real}"
    except (OSError, ValueError) as exc:  # unreadable, a NUL in the path...
        return f"unreadable {type(exc).__name__} {getattr(exc, 'errno', '')}"


def _file_sha256(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _folder_sha256(folder: Path) -> str:
    listing = []
    for current, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(current, name)
            state = _file_sha256(path) if os.path.isfile(path) else "other"
            listing.append(f"{os.path.relpath(path, folder)}\0{state}")
    return _sha256("\n".join(listing).encode())


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _key(request: CompileRequest, text: str, code: str, paths: dict[str, str]) -> str:
    described = json.dumps(
        {
            "format": FORMAT,
            "request": request.describe(),
            "spec": _sha256(text.encode("utf-8")),
            "code": code,
            "paths": paths,
        },
        sort_keys=True,
    )
    return _sha256(described.encode())


# --- where it is kept -------------------------------------------------------------------------


def cache_dir(spec_file: str) -> Path:
    return Path(os.path.abspath(spec_file)).parent / CACHE_DIR


def _index_path(request: CompileRequest) -> Path:
    name = _sha256(json.dumps(request.describe(), sort_keys=True).encode())[:32]
    return cache_dir(request.spec_file) / f"{name}.json"


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# --- diagnostics as JSON, positions and all ---------------------------------------------------


def _encode_range(where: SourceRange | None) -> list | None:
    if where is None:
        return None
    start, end = where.start, where.end
    return [
        where.filename,
        start.line,
        start.column,
        start.offset,
        end.line,
        end.column,
        end.offset,
    ]


def _decode_range(data: list | None) -> SourceRange | None:
    if data is None:
        return None
    filename, line, column, offset, end_line, end_column, end_offset = data
    return SourceRange(
        filename, Position(line, column, offset), Position(end_line, end_column, end_offset)
    )


def _encode_diagnostic(d: Diagnostic) -> dict:
    return {
        "severity": d.severity.value,
        "code": d.code,
        "summary": d.summary,
        "range": _encode_range(d.range),
        "detail": d.detail,
        "suggestion": d.suggestion,
        "environments": list(d.environments),
    }


def _decode_diagnostic(data: dict) -> Diagnostic:
    return Diagnostic(
        Severity(data["severity"]),
        data["code"],
        data["summary"],
        _decode_range(data["range"]),
        data["detail"],
        data["suggestion"],
        tuple(data["environments"]),
    )


# --- reading and writing entries --------------------------------------------------------------


def recall(request: CompileRequest) -> Recalled | None:
    """The cached render of `request` when nothing it read has changed, else None."""
    try:
        # Decoded as validation decodes it: the key is the text that was validated.
        text = _spec_text(request.spec_file)
        if text is None:
            return None
        entry = json.loads(_index_path(request).read_bytes())
        if entry.get("format") != FORMAT:
            return None
        paths = path_states(request.spec_file, entry["paths"])
        if entry["key"] != _key(request, text, code_fingerprint(), paths):
            return None
        objects = cache_dir(request.spec_file) / OBJECTS
        stacks = [
            Stack(
                stack["env"],
                _where_it_goes(request, stack),
                stack["resources"],
                {name: _object(objects, sha, kind) for name, (sha, kind) in stack["files"].items()},
            )
            for stack in entry["stacks"]
        ]
        diagnostics = [_decode_diagnostic(d) for d in entry["diagnostics"]]
        return Recalled(diagnostics, text, stacks)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, _Corrupt):
        # Missing, truncated, corrupt or foreign: a miss, and the render writes it again.
        return None


def _spec_text(spec_file: str) -> str | None:
    """The spec's text, or None when it is not a regular file of a size validation takes:
    then validation says what is wrong (a named pipe must not block a read here)."""
    handle = os.open(spec_file, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        status = os.fstat(handle)
        if not stat.S_ISREG(status.st_mode) or status.st_size > LARGEST_SPEC:
            return None
        with os.fdopen(os.dup(handle), "rb") as stream:
            return stream.read(LARGEST_SPEC + 1).decode("utf-8-sig")
    finally:
        os.close(handle)


class _Corrupt(Exception):
    pass


def _object(objects: Path, sha: str, kind: str) -> str | bytes:
    data = (objects / sha).read_bytes()
    if _sha256(data) != sha:
        raise _Corrupt(sha)
    return data.decode("utf-8") if kind == "text" else data


def write_recalled(recalled: Recalled, progress: Progress) -> None:
    """Write each stack a hit recalled, where and as the render that made it wrote it."""
    for stack in recalled.stacks:
        started = time.perf_counter()
        write_stack(
            stack.files, stack.out_dir, "give --out a folder, or a path where one can be made"
        )
        files = tuple(sorted(stack.files))
        seconds = time.perf_counter() - started
        progress(Written(stack.out_dir, stack.env, stack.resources, seconds, files, cached=True))


def remember(
    request: CompileRequest,
    text: str,
    paths: dict[str, str],
    diagnostics: list[Diagnostic],
    stacks: list[Stack],
) -> None:
    """Keep what a render made from the spec `text` it validated, keyed by what it read:
    `paths` are the `path_states` of the local paths the validated environments name, taken
    before lowering and found unchanged after rendering. A cache that cannot be written is
    no error: the next render compiles again."""
    try:
        folder = cache_dir(request.spec_file)
        objects = folder / OBJECTS
        listed = []
        for stack in stacks:
            files = {}
            for name, content in stack.files.items():
                data = content if isinstance(content, bytes) else content.encode("utf-8")
                sha = _sha256(data)
                # Written even when there: a damaged copy (a miss, on reading) is replaced.
                _write_atomically(objects / sha, data)
                files[name] = [sha, "bytes" if isinstance(content, bytes) else "text"]
            listed.append(
                {
                    "env": stack.env,
                    "out_dir": stack.out_dir,
                    "resources": stack.resources,
                    "files": files,
                }
            )
        entry = {
            "format": FORMAT,
            "key": _key(request, text, code_fingerprint(), paths),
            "paths": sorted(paths),
            "diagnostics": [_encode_diagnostic(d) for d in diagnostics],
            "stacks": listed,
        }
        _write_atomically(_index_path(request), json.dumps(entry, sort_keys=True).encode())
        _forget_unused(folder)
    except OSError:
        return


def _written_at(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _forget_unused(folder: Path) -> None:
    """Keep the `KEPT_ENTRIES` most recently written entries (one per command shape: which
    environments, which folder), and delete the objects none of them refers to (what earlier
    versions of the spec rendered)."""
    used: set[str] = set()
    indexes = sorted(folder.glob("*.json"), key=_written_at, reverse=True)
    for index in indexes[KEPT_ENTRIES:]:
        index.unlink(missing_ok=True)
    for index in indexes[:KEPT_ENTRIES]:
        try:
            for stack in json.loads(index.read_bytes())["stacks"]:
                used.update(sha for sha, _ in stack["files"].values())
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            index.unlink(missing_ok=True)  # unreadable: it can never be a hit
    for found in (folder / OBJECTS).iterdir():
        if found.name not in used:
            found.unlink(missing_ok=True)
