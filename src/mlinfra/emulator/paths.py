"""Where the emulator may read and write: the project folder and its own state folder.

Every local location a request names (model data, submit directories, `file:` inputs and
outputs of pipeline steps, capture destinations, monitor baselines and reports, training
output) is a `file:` URI or a plain path, relative ones being in the project folder (the
spec's). `confine` turns it into a path only if that path, once resolved (symlinks followed,
`..` collapsed), lies inside the project folder or the emulator's state folder; anything else
is refused with a message naming both roots. So an API client can make the emulator read,
write or delete nothing but the project's files and its own.

`child` does the same for one name joined to a folder the emulator owns (a step, a channel):
a single plain path component, never `..`, never a separator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote


class NotLocal(ValueError):
    """An `s3://` (or other non-local) location: out of the local emulator's reach."""


class PathRefused(Exception):
    """A location the emulator must not touch; the message says why and what is allowed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


def scheme_of(location: str) -> str:
    """The scheme of a location (`s3`, `file`), lower-cased, or "" for a plain path.

    What `urlparse(location).scheme` says, without its ValueError for a malformed network
    location (`s3://[bucket/key`): any text from a request must get an answer here.
    """
    found = _SCHEME.match(location)
    return found.group(1).lower() if found else ""


def location_path(root: Path, location: str | Path) -> Path:
    """The path a `file:` URI or plain path names, relative ones under `root`; not checked.

    `file:data/x.csv` is relative, `file:///abs/x.csv` absolute. NotLocal for `s3://` and any
    other scheme, and for an empty location.
    """
    text = str(location)
    scheme = scheme_of(text)
    if scheme == "file":
        path = Path(unquote(text[len("file://") :] if text.startswith("file://") else text[5:]))
    elif scheme == "" and text:
        path = Path(text)
    else:
        raise NotLocal(f"{text!r} is not a local path or file: URI")
    return path if path.is_absolute() else root / path


def confine(root: Path, state_dir: Path, location: str | Path) -> Path:
    """The resolved path of a local location, if it is inside `root` or `state_dir`.

    NotLocal for `s3://` and the like (the caller decides what that means); PathRefused for
    a location that resolves, symlinks included, outside both folders.
    """
    path = location_path(root, location)
    try:
        resolved = path.resolve()
    except (OSError, ValueError, RuntimeError) as exc:  # NUL bytes, symlink loops
        raise PathRefused(f"{location} is not a usable path: {exc}") from None
    for allowed in (root, state_dir):
        if resolved.is_relative_to(allowed.resolve()):
            return resolved
    via = "" if resolved == Path(str(path)) else f" (it resolves to {resolved})"
    raise PathRefused(
        f"{location} is outside the folders the local emulator may use{via}: only the "
        f"project folder {root} and the emulator's state folder {state_dir} are allowed. "
        "Copy the file into the project folder, or name a location inside it."
    )


@dataclass(frozen=True)
class Roots:
    """The two folders an emulator may use: its project folder and its state folder."""

    project: Path
    state: Path

    def confine(self, location: str | Path) -> Path:
        return confine(self.project, self.state, location)


def child(folder: Path, name: str, what: str) -> Path:
    """`folder / name` for a name that is one plain path component; PathRefused otherwise."""
    text = str(name)
    pure = PurePosixPath(text)
    if not text or text in (".", "..") or pure.name != text or "\\" in text or "\0" in text:
        raise PathRefused(
            f"{what} {text!r} cannot name a folder: it must be a plain name, without '/', "
            "'\\' or '..'."
        )
    return folder / text


def within(folder: Path, path: Path, what: str) -> Path:
    """`path` resolved, if it stays inside `folder` (symlinks followed); PathRefused otherwise."""
    try:
        resolved = path.resolve()
    except (OSError, ValueError, RuntimeError) as exc:
        raise PathRefused(f"{what} {path} is not a usable path: {exc}") from None
    if not resolved.is_relative_to(folder.resolve()):
        raise PathRefused(f"{what} {path} resolves to {resolved}, outside {folder}.")
    return resolved
