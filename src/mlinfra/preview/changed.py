"""Changed-only previews (`previews.mode: changed-only`): build what the branch changed, and
use the base environment's resources for the rest.

Like dbt's `state:modified` with deferral. A component is changed when its declared spec (as
the preview resolves it: defaults, the base's overrides and `previews.overrides` applied)
differs from the one at the git revision the branch forked from, or when a local file it
names (a script, an artifact, a baseline) has other content. Only changed components are
lowered into the preview; a reference from one of them to an unchanged component is
rewritten to the base environment's resource: a `Ref` becomes the value the base's state
records, and a physical name written into a property becomes the base's name.

A preview reads its base and never writes into it: what a changed component writes into is
the preview's own even when its component is unchanged (`own_copies`). A changed pipeline
registers its versions into the preview's own registry group (else, with `approval: auto`,
the base's next apply would serve the branch's model), and a changed monitor retrains the
preview's own copy of its pipeline, which in turn registers into the preview's group.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mlinfra.git import GitError, Repository, merge_base
from mlinfra.ir.addresses import Address
from mlinfra.ir.graph import Args, Call, Concat, Json, Ref, Resource, ResourceGraph, build_graph
from mlinfra.preview.environment import PreviewError, preview_spec
from mlinfra.render.outputs import name_property
from mlinfra.spec.model import EnvSpec, declared
from mlinfra.spec.validate import validate_text

CHANGED_ONLY = "changed-only"


@dataclass(frozen=True)
class Selection:
    """Which components a changed-only preview builds, and against what revision."""

    against: str  # "main (3f2a1b0)"
    changed: tuple[str, ...]  # component addresses, in spec order
    deferred: tuple[str, ...]
    # Resources of deferred components that the preview has its own of, because what it
    # builds writes into them (`own_copies`): resource addresses, in graph order.
    own: tuple[str, ...] = ()


def is_changed_only(spec: EnvSpec) -> bool:
    return spec.previews is not None and spec.previews.mode == CHANGED_ONLY


# --- what changed ---------------------------------------------------------------------------


class _Files:
    """The git blob id of each local file a spec names, in the working tree or at a revision."""

    def __init__(self, folder: Path, repository: Repository, revision: str | None) -> None:
        self.folder, self.repository, self.revision = folder, repository, revision
        self._seen: dict[str, str | None] = {}

    def blob(self, text: str) -> str | None:
        if text in self._seen:
            return self._seen[text]
        found = None
        path = (self.folder / text).resolve()
        if "\n" not in text and path.is_relative_to(self.repository.root):
            relative = self.repository.path_of(path)
            if self.revision is None:
                if path.is_file():
                    found = self.repository.file_id(relative)
            else:
                found = self.repository.file_id_at(self.revision, relative)
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


def select(result, spec: EnvSpec, branch: str, spec_file: str, compare_to: str | None) -> Selection:
    """The components of the preview `spec` that differ from the revision it forked from."""
    folder = Path(spec_file).resolve().parent
    try:
        repository = Repository.around(folder)
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
    shown = repository.read_at(revision, repository.path_of(Path(spec_file)))
    everything = tuple(c.address for c in spec.components)
    if shown is None:
        try:
            repository.commit(revision)
        except GitError:
            raise PreviewError(
                f"{revision!r} is not a revision of the repository at {repository.root}",
                "pass --compare-to with a branch, tag or commit",
            ) from None
        return Selection(label, everything, ())  # the spec is new: all of it is changed
    before = validate_text(shown.decode("utf-8", errors="replace"), spec_file, None)
    try:
        old = preview_spec(before, branch, spec.base, spec_file).spec if before.ok else None
    except PreviewError:
        old = None
    if old is None:  # invalid there, or without the base: nothing can be deferred to it
        return Selection(label, everything, ())
    now, then = _Files(folder, repository, None), _Files(folder, repository, revision)
    changed, deferred = [], []
    for component in spec.components:
        previous = old.component(component.address)
        same = previous is not None and now.declared(declared(component)) == then.declared(
            declared(previous)
        )
        (deferred if same else changed).append(component.address)
    return Selection(label, tuple(changed), tuple(deferred))


# --- what the preview writes into -----------------------------------------------------------

REGISTRY_TYPES = frozenset({"local.ModelPackageGroup", "aws.sagemaker.ModelPackageGroup"})


def _writes_into(resource: Resource, target: Resource) -> bool:
    """Whether `resource` changes `target` when it runs, rather than only reading it: a
    pipeline registers versions into a registry group; a monitor starts a pipeline."""
    kind, target_kind = resource.component.split(".")[0], target.component.split(".")[0]
    if kind == "pipeline":
        return target.type in REGISTRY_TYPES
    return kind == "monitor" and target_kind == "pipeline"


def own_copies(preview: ResourceGraph, selection: Selection) -> Selection:
    """`selection` with the resources of deferred components that the changed ones write
    into: a registry group (only it: the model that reads it stays the base's), a pipeline
    (with the rest of its component), and what those write into in turn."""
    deferred = set(selection.deferred)
    by_address = {r.address: r for r in preview.resources}
    own: set[str] = set()
    pending = [r for r in preview.resources if r.component not in deferred]
    while pending:
        resource = pending.pop()
        for address in resource.dependencies():
            target = by_address.get(address)
            if target is None or target.component not in deferred or address in own:
                continue
            if not _writes_into(resource, target):
                continue
            taken = (
                [target]
                if target.type in REGISTRY_TYPES
                else [r for r in preview.resources if r.component == target.component]
            )
            for found in taken:
                if found.address not in own:
                    own.add(found.address)
                    pending.append(found)
    ordered = tuple(r.address for r in preview.resources if r.address in own)
    return replace(selection, own=ordered)


# --- deferring to the base ------------------------------------------------------------------


def _names_of(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Concat):
        return [p for p in value.parts if isinstance(p, str)]
    return []


def _resource_name(resource: Resource) -> Any:
    return resource.properties.get(name_property(resource.type))


def name_map(
    preview: ResourceGraph, base: ResourceGraph, deferred: set[str], own: Collection[str] = ()
) -> dict[str, str]:
    """Each deferred resource's name in the preview -> its name in the base environment
    (but for the preview's `own` copies, whose names stay the preview's)."""
    found: dict[str, str] = {}
    for resource in preview.resources:
        if resource.component not in deferred or resource.address in own:
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
    def __init__(
        self, names: dict[str, str], base_state, from_base: Callable[[str], bool], base_env: str
    ):
        self.base_state = base_state
        self.from_base = from_base  # whether an address is the base's resource
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
            if not self.from_base(value.address):
                return value
            self.used.add(str(Address.parse(value.address).component))
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
    """The preview's graph with only the changed components' resources and its own copies
    of what they write into (`selection.own`), every other reference to an unchanged
    component pointing at the base environment's."""
    deferred = set(selection.deferred)
    own = set(selection.own)

    def from_base(address: str) -> bool:
        return str(Address.parse(address).component) in deferred and address not in own

    names = name_map(preview, base, deferred, own)
    rewriter = _Rewriter(names, base_state, from_base, base_env)
    kept = []
    for resource in preview.resources:
        if from_base(resource.address):
            continue
        kept.append(
            replace(
                resource,
                properties=rewriter.value(resource.properties),
                depends_on=tuple(d for d in resource.depends_on if not from_base(d)),
            )
        )
    outputs = {a: rewriter.value(v) for a, v in preview.outputs.items() if not from_base(a)}
    return build_graph(preview.project, preview.env, preview.target, preview.region, kept, outputs)
