"""Changed-only previews (`previews.mode: changed-only`): build what the branch changed, and
use the base environment's resources for the rest.

Like dbt's `state:modified` with deferral. A component is changed when its declared spec (as
the preview resolves it: defaults, the base's overrides and `previews.overrides` applied)
differs from the one at the git revision the branch forked from, or when a local file it
names (a script, an artifact, a baseline) has other content. Only changed components are
lowered into the preview; a reference from one of them to an unchanged component is
rewritten to the base environment's resource: a `Ref` becomes the value the base's state
records, and a physical name written into a property becomes the base's name.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mlinfra.ir.graph import Args, Call, Concat, Json, Ref, Resource, ResourceGraph, build_graph
from mlinfra.preview.environment import PreviewError
from mlinfra.preview.git import GitError, merge_base
from mlinfra.spec.model import EnvSpec

CHANGED_ONLY = "changed-only"


@dataclass(frozen=True)
class Selection:
    """Which components a changed-only preview builds, and against what revision."""

    against: str  # "main (3f2a1b0)"
    changed: tuple[str, ...]  # component addresses, in spec order
    deferred: tuple[str, ...]


def is_changed_only(spec: EnvSpec) -> bool:
    return spec.previews.get("mode") == CHANGED_ONLY


# --- what changed ---------------------------------------------------------------------------


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # An argument list, never a shell: revisions and paths are the user's text.
    return subprocess.run(  # noqa: S603
        ["git", "-C", str(folder), *args],  # noqa: S607 - git from PATH, as the user runs it
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _plain(value: Any) -> Any:
    if isinstance(value, MappingProxyType | dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


class _Files:
    """The git blob id of each local file a spec names, in the working tree or at a revision."""

    def __init__(self, folder: Path, root: Path, revision: str | None) -> None:
        self.folder, self.root, self.revision = folder, root, revision
        self._seen: dict[str, str | None] = {}

    def blob(self, text: str) -> str | None:
        if text in self._seen:
            return self._seen[text]
        found = None
        path = (self.folder / text).resolve()
        if "\n" not in text and path.is_relative_to(self.root):
            relative = path.relative_to(self.root).as_posix()
            if self.revision is None:
                if path.is_file():
                    answer = _git(self.root, "hash-object", "--", relative)
                    found = answer.stdout.strip() if answer.returncode == 0 else None
            else:
                # Blobs only: a folder of the same name is no file.
                answer = _git(self.root, "ls-tree", self.revision, "--", relative)
                fields = answer.stdout.split(None, 3) if answer.returncode == 0 else []
                found = fields[2] if len(fields) == 4 and fields[1] == "blob" else None
        self._seen[text] = found
        return found

    def declared(self, value: Any) -> Any:
        """`value` with every string that names a file replaced by the file's identity."""
        if isinstance(value, dict):
            return {k: self.declared(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.declared(v) for v in value]
        if isinstance(value, str) and ("/" in value or "." in value) and len(value) < 1024:
            blob = self.blob(value)
            if blob is not None:
                return {"file": value, "blob": blob}
        return value


def _repository_root(folder: Path) -> Path:
    answer = _git(folder, "rev-parse", "--show-toplevel")
    if answer.returncode != 0:
        raise GitError(f"{folder} is not in a git repository")
    return Path(answer.stdout.strip()).resolve()


def select(result, spec: EnvSpec, branch: str, spec_file: str, compare_to: str | None) -> Selection:
    """The components of the preview `spec` that differ from the revision it forked from."""
    from mlinfra.preview.environment import preview_spec
    from mlinfra.spec.validate import validate_text

    folder = Path(spec_file).resolve().parent
    try:
        root = _repository_root(folder)
        if compare_to is None:
            upstream, revision = merge_base(folder)
            label = f"{upstream} ({revision[:7]})"
        else:
            revision, label = compare_to, compare_to
    except GitError as exc:
        raise PreviewError(
            f"a changed-only preview compares with the revision its branch forked from: {exc}",
            "pass --compare-to REV, or set previews.mode: full",
        ) from None
    relative = Path(spec_file).resolve().relative_to(root).as_posix()
    shown = _git(root, "show", f"{revision}:{relative}")
    everything = tuple(c.address for c in spec.components)
    if shown.returncode != 0:
        if _git(root, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}").returncode:
            raise PreviewError(
                f"{revision!r} is not a revision of the repository at {root}",
                "pass --compare-to with a branch, tag or commit",
            )
        return Selection(label, everything, ())  # the spec is new: all of it is changed
    before = validate_text(shown.stdout, spec_file, None)
    try:
        old = preview_spec(before, branch, spec.base, spec_file).spec if before.ok else None
    except PreviewError:
        old = None
    if old is None:  # invalid there, or without the base: nothing can be deferred to it
        return Selection(label, everything, ())
    now, then = _Files(folder, root, None), _Files(folder, root, revision)
    changed, deferred = [], []
    for component in spec.components:
        previous = old.component(component.address)
        same = previous is not None and now.declared(_plain(component.props)) == then.declared(
            _plain(previous.props)
        )
        (deferred if same else changed).append(component.address)
    return Selection(label, tuple(changed), tuple(deferred))


# --- deferring to the base ------------------------------------------------------------------


def _names_of(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Concat):
        return [p for p in value.parts if isinstance(p, str)]
    return []


def _resource_name(resource: Resource) -> Any:
    from mlinfra.render.outputs import NAME_PROPERTIES

    return resource.properties.get(NAME_PROPERTIES.get(resource.type, "name"))


def name_map(preview: ResourceGraph, base: ResourceGraph, deferred: set[str]) -> dict[str, str]:
    """Each deferred resource's name in the preview -> its name in the base environment."""
    found: dict[str, str] = {}
    for resource in preview.resources:
        if resource.component not in deferred:
            continue
        theirs = base.get(resource.address)
        if theirs is None:
            continue
        mine, other = _names_of(_resource_name(resource)), _names_of(_resource_name(theirs))
        for a, b in zip(mine, other, strict=False):
            if a != b and len(a) > 3:
                found[a] = b
    return found


@dataclass(frozen=True)
class Recorded:
    """One base resource's outputs, as a reference to it needs them."""

    outputs: Any


class StackResources:
    """A sagemaker base's resources as its Pulumi stack holds them, in the shape of a state:
    read (with the Pulumi CLI) only when a changed component refers to an unchanged one,
    and then once. `read` returns address -> outputs."""

    def __init__(self, read) -> None:
        self._read = read
        self._found: dict | None = None

    def get(self, address: str) -> Recorded | None:
        if self._found is None:
            self._found = self._read()
        outputs = self._found.get(address)
        return Recorded(outputs) if outputs is not None else None


class _Rewriter:
    def __init__(self, names: dict[str, str], base_state, deferred: set[str], base_env: str):
        self.base_state = base_state
        self.deferred = deferred
        self.base_env = base_env
        self.used: set[str] = set()  # deferred components a kept resource refers to
        self._by_name = names
        self._pattern = (
            re.compile(
                r"(?<![A-Za-z0-9-])("
                + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
                + r")(?![A-Za-z0-9-])"
            )
            if names
            else None
        )

    def text(self, value: str) -> str:
        if self._pattern is None:
            return value
        return self._pattern.sub(lambda m: self._by_name[m.group(1)], value)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Ref):
            component = value.address.split("/", 1)[0]
            if component not in self.deferred:
                return value
            self.used.add(component)
            recorded = self.base_state.get(value.address)
            outputs = recorded.outputs if recorded is not None else None
            if not outputs or value.attribute not in outputs:
                raise PreviewError(
                    f"the changed-only preview uses {value.address} of {self.base_env!r}, "
                    f"which has not created it",
                    f"apply {self.base_env!r} first: mlinfra apply --env {self.base_env}",
                )
            return outputs[value.attribute]
        if isinstance(value, MappingProxyType | dict):
            return MappingProxyType({k: self.value(v) for k, v in value.items()})
        if isinstance(value, tuple | list):
            return tuple(self.value(v) for v in value)
        if isinstance(value, Concat):
            return Concat(tuple(self.value(p) for p in value.parts))
        if isinstance(value, Call):
            return Call(value.function, tuple(self.value(a) for a in value.args))
        if isinstance(value, Json):
            return Json(self.value(value.value))
        if isinstance(value, Args):
            return Args(value.type, self.value(value.fields))
        return value


def defer(
    preview: ResourceGraph,
    base: ResourceGraph,
    base_state,
    selection: Selection,
    base_env: str,
) -> ResourceGraph:
    """The preview's graph with only the changed components' resources, every reference to
    an unchanged one pointing at the base environment's."""
    deferred = set(selection.deferred)
    rewriter = _Rewriter(name_map(preview, base, deferred), base_state, deferred, base_env)
    kept = []
    for resource in preview.resources:
        if resource.component in deferred:
            continue
        kept.append(
            replace(
                resource,
                properties=rewriter.value(resource.properties),
                depends_on=tuple(
                    d for d in resource.depends_on if d.split("/", 1)[0] not in deferred
                ),
            )
        )
    outputs = {
        a: rewriter.value(v)
        for a, v in preview.outputs.items()
        if a.split("/", 1)[0] not in deferred
    }
    return build_graph(preview.project, preview.env, preview.target, preview.region, kept, outputs)
