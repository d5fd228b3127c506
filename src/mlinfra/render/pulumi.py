"""Render a `ResourceGraph` as a Pulumi project: `Pulumi.yaml`, `Pulumi.<env>.yaml`,
`requirements.txt` and a readable `__main__.py` that uses the real `pulumi_aws` SDK.

`render_project` is pure: it returns file name -> content and the same graph always gives
byte-identical files. `write_project` writes them, each atomically.

How the program is written:
- No template engine. The program is assembled from fixed code fragments and values written
  by `render.literals`, the one place where data becomes source text, so user text can only
  ever appear as a Python literal (or, in comments, escaped onto one line).
- `depends_on` and `protect` become `pulumi.ResourceOptions`; protected resources (data in
  a `protect: true` environment) cannot be deleted by Pulumi until the option is removed.
- Every name that reaches a code position is checked rather than trusted: resource and
  `...Args` types must look like `aws.<module>.<Class>`, property and field names and `Ref`
  attributes must be Python identifiers, `Call`s may name only the runtime helpers of
  `render.helpers`.
  A graph that breaks these rules is a bug in the lowering and raises `RenderError`.
- Resources are grouped by the spec component they come from, each group headed by a comment
  naming the component and its line in the spec; groups and resources are in dependency
  order, so every variable is assigned before it is used.
- The tags every resource carries (the environment's, and mlinfra's project and environment
  tags) are written once, as `TAGS`, and spread into each resource's own:
  `tags={**TAGS, "mlinfra:component": "endpoint.churn-api"}` (see `shared_tags`).
- `Resource.replace_on_change` needs no resource option: such resources (endpoint
  configurations) carry a hash of their content in their name, so a change is a new name,
  which Pulumi can only apply by replacing, and Pulumi's default replacement creates the new
  resource before deleting the old one (`delete_before_replace` stays False). The endpoint is
  switched to the new configuration before the old one goes.
- What needs a model version that may not exist yet (`ir.waiting`: the model, what depends
  on it, the endpoint and monitor components that wait because of it) is declared inside
  `if serves("group", "endpoint"...):` blocks, so a run with nothing to serve creates
  everything else; the program's stack output `mlinfra:model-versions` says what each
  lookup found (`render.runtime` says how, and why the lookup happens in the program).
- A training script uploaded under a `sourcedir.tar.gz` key (the lowering's convention for
  SageMaker script mode) is packed into that archive when the program runs, by the
  `source_archive` helper, reproducibly, into the project's `build/` folder.
- The program is well-formed by construction: every code position is a fixed fragment or
  a checked name, every value a literal of `render.literals`, and the layout is indented by
  `render.literals.layout` alone. Rendering therefore does not parse its own output (at
  1,000 components that took half of the compile time): the tests parse every program they
  render (the goldens, the hostile-text and the generated-spec property tests), and
  `mlinfra render --check` runs `check_program` on what it writes.
"""

from __future__ import annotations

import builtins
import json
import keyword
import posixpath
import re
import symtable
from collections.abc import Mapping
from importlib import metadata
from types import MappingProxyType
from typing import Any

from mlinfra.allocation import without_collector
from mlinfra.ir.graph import (
    Args,
    Call,
    Concat,
    FileAsset,
    Json,
    Ref,
    Resource,
    ResourceGraph,
    refs_in,
)
from mlinfra.ir.waiting import Gate, call_keys, gates
from mlinfra.render import helpers
from mlinfra.render.files import RenderError
from mlinfra.render.literals import (
    INDENT,
    Group,
    LiteralError,
    Node,
    layout,
    scalar_literal,
    string_literal,
)
from mlinfra.spec.model import EnvSpec

# `aws.<module>.<Class>`: what a resource or `...Args` type may be, written into the program
# as code (`aws.sagemaker.Model(`), so it is checked, never trusted.
TYPE_PATTERN = re.compile(r"aws\.[a-z0-9_]+\.[A-Za-z0-9]+")  # fullmatch: `$` admits a "\n"
# A local environment's resources: classes of `mlinfra.engines.providers.dynamic` (`local.Model(`).
LOCAL_TYPE_PATTERN = re.compile(r"local\.[A-Z][A-Za-z0-9]*")
# Packages the program needs, pinned to the versions mlinfra itself is built and tested with.
REQUIREMENTS = ("pulumi", "pulumi-aws", "boto3")
# A local program runs with mlinfra's own Python, which has these (and mlinfra) already.
LOCAL_REQUIREMENTS = ("pulumi", "boto3")
# Keyword arguments of every pulumi_aws resource constructor besides its properties.
RESERVED_PROPERTIES = frozenset({"resource_name", "opts"})


# The script-mode archive of a training step, which the `source_archive` helper builds.
SOURCE_ARCHIVE = "sourcedir.tar.gz"
# The files every project has; a bundled file may take none of their names.
_PROJECT_FILES = frozenset({".gitignore", "Pulumi.yaml", "requirements.txt", "__main__.py"})
# Names the program defines or imports; no resource variable may take them.
_RESERVED_NAMES = frozenset(
    {"json", "pulumi", "aws", "local", "TAGS", *helpers.NAMES, *dir(builtins)}
)


# -- names --------------------------------------------------------------------------------


def is_identifier(name: object) -> bool:
    return isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)


def _check_identifier(name: object, what: str) -> str:
    # isidentifier() admits non-ASCII letters; code positions take ASCII names only.
    if not (is_identifier(name) and name.isascii()):
        raise RenderError(f"{what} {name!r} is not a Python identifier")
    return name


def _check_type(type_name: object, what: str) -> str:
    if not isinstance(type_name, str) or not TYPE_PATTERN.fullmatch(type_name):
        raise RenderError(f"{what} {type_name!r} is not a pulumi_aws type (aws.<module>.<Class>)")
    return type_name


def _check_local_type(type_name: object, what: str) -> str:
    if not isinstance(type_name, str) or not LOCAL_TYPE_PATTERN.fullmatch(type_name):
        raise RenderError(f"{what} {type_name!r} is not a local resource type (local.<Class>)")
    return type_name


def variable_names(addresses: list[str]) -> dict[str, str]:
    """A distinct Python variable for each address: `endpoint.churn-api/config` ->
    `endpoint_churn_api_config`; a clash gets `_2`, `_3`... in address order."""
    names: dict[str, str] = {}
    taken = set(_RESERVED_NAMES)
    for address in addresses:
        base = re.sub(r"[^a-z0-9]+", "_", address.lower()).strip("_") or "resource"
        if base[0].isdigit():
            base = f"r_{base}"
        name, n = base, 1
        while name in taken or keyword.iskeyword(name):
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        names[address] = name
    return names


def comment_text(text: str) -> str:
    """`text` made safe for a comment or docstring: one line, no quotes that could end a
    docstring, unprintable characters escaped (so a file name cannot start a new line)."""
    return str.__repr__(str(text))[1:-1].replace('"', '\\"')


# -- values -------------------------------------------------------------------------------


class _Writer:
    """Turns property values (plain data and IR markers) into layout nodes.

    Values of the exact types lowering makes are dispatched on their type; anything else (a
    subclass) takes the long way through `isinstance`, so it is written as its base type.
    """

    def __init__(
        self,
        names: dict[str, str],
        spec_dir_from_out: str,
        tags: Mapping[str, str],
        local: bool = False,
    ) -> None:
        self.names = names
        # A local program's resources are `local.<Class>`es and its Calls are functions of
        # `mlinfra.engines.providers.dynamic`, which ask the emulator; a sagemaker program's are
        # pulumi_aws classes and the runtime helpers written into it.
        self.local = local
        self.check_type = _check_local_type if local else _check_type
        self.spec_dir_from_out = spec_dir_from_out
        self.tags = tags  # the environment's tags, written once as `TAGS` (see `shared_tags`)
        self.used_helpers: set[str] = set()
        self.uses_json = False
        # The IR marker types met since the innermost Json or Call began: what it holds.
        self.markers: set[type] = set()
        # Literals of the strings met so far (most keys and many values repeat), and names
        # already checked; exact `str`s only, so no subclass can answer for another string.
        self.strings: dict[str, str] = {}
        self.keys: dict[str, str] = {}
        self.checked: dict[Any, set[str]] = {
            _check_identifier: set(),
            _check_type: set(),
            _check_local_type: set(),
        }
        self.by_type: dict[type, Any] = {
            MappingProxyType: self.mapping,
            dict: self.mapping,
            tuple: self.sequence,
            list: self.sequence,
            Ref: self.ref,
            Args: self.args,
            Concat: self.concat,
            Json: self.json,
            Call: self.call,
            FileAsset: self.file_asset,
            int: self.scalar,
            bool: self.scalar,
            float: self.scalar,
            type(None): self.scalar,
        }

    def node(self, value: Any, where: str) -> Node:
        if type(value) is str:
            found = self.strings.get(value)
            if found is None:
                found = self.strings[value] = self.scalar(value, where)
            return found
        write = self.by_type.get(type(value))
        if write is not None:
            return write(value, where)
        for kind in (Ref, Args, Concat, Json, Call, FileAsset):
            if isinstance(value, kind):
                return self.by_type[kind](value, where)
        if isinstance(value, Mapping):
            return self.mapping(value, where)
        if isinstance(value, list | tuple):
            return self.sequence(value, where)
        return self.scalar(value, where)

    def scalar(self, value: Any, where: str) -> str:
        try:
            return scalar_literal(value)
        except LiteralError as exc:
            raise RenderError(f"{where}: {exc}") from None

    def mapping(self, value: Mapping, where: str) -> Group:
        items = []
        for key, item in value.items():
            prefix = self.keys.get(key) if type(key) is str else None
            if prefix is None:
                if not isinstance(key, str):
                    raise RenderError(
                        f"{where}: map keys must be strings, got {type(key).__name__}"
                    )
                prefix = f"{self.scalar(key, where)}: "
                if type(key) is str:
                    self.keys[key] = prefix
            items.append((prefix, self.node(item, where)))
        return Group("{", tuple(items), "}")

    def sequence(self, value: list | tuple, where: str) -> Group:
        return Group("[", tuple([("", self.node(v, where)) for v in value]), "]")

    def checked_name(self, name: object, check, what: str) -> str:
        """`name` passed through `check` (`_check_identifier` or `_check_type`), once per
        name and check: a type is never taken for an identifier, nor the other way round."""
        passed = self.checked[check]
        if type(name) is str and name in passed:
            return name
        check(name, what)
        if type(name) is str:
            passed.add(name)
        return name

    def ref(self, ref: Ref, where: str) -> str:
        self.markers.add(Ref)
        if ref.address not in self.names:
            raise RenderError(f"{where}: refers to {ref.address!r}, which is not in the graph")
        attribute = self.checked_name(ref.attribute, _check_identifier, f"{where}: attribute")
        return f"{self.names[ref.address]}.{attribute}"

    def args(self, value: Args, where: str) -> Group:
        self.markers.add(Args)
        type_name = self.checked_name(value.type, _check_type, f"{where}: Args type")
        items = tuple(
            (
                f"{self.checked_name(key, _check_identifier, f'{where}: field')}=",
                self.node(field, where),
            )
            for key, field in value.fields.items()
        )
        return Group(f"{type_name}(", items, ")")

    def concat(self, value: Concat, where: str) -> Node:
        self.markers.add(Concat)
        parts: list[Any] = []
        for part in value.parts:
            if isinstance(part, str) and parts and isinstance(parts[-1], str):
                parts[-1] += part
            elif isinstance(part, str | Ref | Call | Concat):
                parts.append(part)
            else:
                raise RenderError(f"{where}: Concat takes text and Refs, not {part!r}")
        parts = [p for p in parts if p != ""]
        if all(isinstance(p, str) for p in parts):
            return self.node("".join(parts), where)
        return Group("pulumi.Output.concat(", tuple(("", self.node(p, where)) for p in parts), ")")

    def inner(self, value: Any, where: str) -> tuple[Node, set[type]]:
        """The node of a Json's or Call's content, and the marker types inside it."""
        outer, self.markers = self.markers, set()
        written = self.node(value, where)
        inner, self.markers = self.markers, outer
        outer |= inner
        return written, inner

    def json(self, value: Json, where: str) -> Group:
        self.markers.add(Json)
        document, inner = self.inner(value.value, where)
        if FileAsset in inner or Args in inner:
            raise RenderError(f"{where}: a Json document cannot hold files or Args")
        # Sorted keys: the deployed document does not depend on the order the lowering built
        # it in, so a reordering alone is no change.
        items = (("", document), ("sort_keys=", "True"))
        if Ref in inner or Concat in inner:
            return Group("pulumi.Output.json_dumps(", items, ")")
        self.uses_json = True
        return Group("json.dumps(", items, ")")

    def call(self, value: Call, where: str) -> Group:
        self.markers.add(Call)
        if self.local:
            return self.local_call(value, where)
        if value.function not in helpers.CALLABLE:
            known = ", ".join(sorted(helpers.CALLABLE))
            raise RenderError(f"{where}: unknown runtime helper {value.function!r} ({known})")
        arguments, inner = self.inner(tuple(value.args), where)
        if inner:
            raise RenderError(f"{where}: {value.function}() takes plain values only")
        self.used_helpers.add(value.function)
        return Group(f"{value.function}(", arguments.items, ")")

    def local_call(self, value: Call, where: str) -> Group:
        # The local provider (and the emulator's client under it) loads only when a local
        # program is rendered: a sagemaker program never needs it.
        from mlinfra.engines.providers.local import CALLS

        if value.function not in CALLS:
            known = ", ".join(CALLS)
            raise RenderError(f"{where}: {value.function!r} is not a local function ({known})")
        arguments, inner = self.inner(tuple(value.args), where)
        if inner:
            raise RenderError(f"{where}: {value.function}() takes plain values only")
        return Group(f"local.{value.function}(", arguments.items, ")")

    def file_asset(self, value: FileAsset, where: str, archive: bool = False) -> Group:
        self.markers.add(FileAsset)
        if not isinstance(value.path, str) or not value.path:
            raise RenderError(f"{where}: FileAsset needs a path")
        if value.content is not None:
            # mlinfra's own file, which the project holds beside the program.
            path: Node = self.node(bundled_name(value, where), where)
            return Group("pulumi.FileAsset(", (("", path),), ")")
        # Relative to the program's folder, where Pulumi runs it; never an absolute path of
        # the machine that rendered it (unless the spec itself gave one).
        path = self.node(
            posixpath.normpath(posixpath.join(self.spec_dir_from_out, value.path)), where
        )
        if archive:
            self.used_helpers.add("source_archive")
            path = Group("source_archive(", (("", path),), ")")
        return Group("pulumi.FileAsset(", (("", path),), ")")

    def resource_tags(self, value: Any, where: str) -> Node:
        """A resource's `tags`: `TAGS` spread, then the resource's own, when it carries every
        one of the environment's tags; else written out in full."""
        shared = self.tags
        if not shared or (type(value) is not MappingProxyType and type(value) is not dict):
            return self.node(value, where)
        for key, tag in shared.items():
            if type(value.get(key)) is not str or value[key] != tag:
                return self.node(value, where)
        own = self.mapping({k: v for k, v in value.items() if k not in shared}, where)
        return Group("{", (("**", "TAGS"), *own.items), "}") if own.items else "TAGS"


def bundled_name(value: FileAsset, where: str) -> str:
    """The file name a bundled file has in the project: one plain name, beside the program."""
    name = value.path
    if (
        not isinstance(name, str)
        or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name)
        or name in _PROJECT_FILES
    ):
        raise RenderError(f"{where}: {name!r} cannot name a file of the project")
    return name


def bundled_files(graph: ResourceGraph) -> dict[str, bytes]:
    """The files mlinfra itself puts in the project (FileAssets with `content`), by name."""
    found: dict[str, bytes] = {}

    def visit(value: Any, where: str) -> None:
        if isinstance(value, FileAsset) and value.content is not None:
            name = bundled_name(value, where)
            if found.get(name, value.content) != value.content:
                raise RenderError(f"{where}: two different files would be {name!r}")
            found[name] = value.content
        elif isinstance(value, Mapping):
            for item in value.values():
                visit(item, where)
        elif isinstance(value, tuple | list):
            for item in value:
                visit(item, where)
        elif isinstance(value, Args):
            visit(value.fields, where)

    for resource in graph.resources:
        visit(resource.properties, resource.address)
    return found


def shared_tags(graph: ResourceGraph) -> dict[str, str]:
    """The tags (key and value) that every resource with tags carries, in the order of the
    first: the environment's own and mlinfra's project and environment tags. The program
    defines them once, as `TAGS`, and each resource spreads them into its tags. Empty when
    fewer than two resources carry tags."""
    common: dict[str, str] | None = None
    tagged = 0
    for resource in graph.resources:
        tags = resource.properties.get("tags")
        if not isinstance(tags, Mapping):
            continue
        tagged += 1
        if common is None:
            common = {k: v for k, v in tags.items() if type(k) is str and type(v) is str}
        else:
            common = {k: v for k, v in common.items() if type(tags.get(k)) is str and tags[k] == v}
    return common if common and tagged > 1 else {}


# -- sections -----------------------------------------------------------------------------


def sections(graph: ResourceGraph) -> list[tuple[str, list[Resource]]]:
    """The graph's resources grouped by component, groups in dependency order.

    Components are ordered by a stable topological sort of the dependencies between them
    (first appearance in the graph breaks ties), and resources keep the graph's order within
    their component. If components depend on each other in a cycle (resources of A need B's
    and the other way round), runs of consecutive resources are grouped instead, in the
    graph's own order, which is always valid.
    """
    members: dict[str, list[Resource]] = {}
    for resource in graph.resources:
        members.setdefault(resource.component, []).append(resource)
    component_of = {r.address: r.component for r in graph.resources}
    needs = {
        component: list(
            dict.fromkeys(
                component_of[dep]
                for r in resources
                for dep in r.dependencies()
                if dep in component_of and component_of[dep] != component
            )
        )
        for component, resources in members.items()
    }
    ordered: list[str] = []
    state: dict[str, int] = {}

    def visit(component: str) -> bool:
        if state.get(component) == 2:
            return True
        if state.get(component) == 1:
            return False
        state[component] = 1
        if not all(visit(dep) for dep in needs[component]):
            return False
        state[component] = 2
        ordered.append(component)
        return True

    if all(visit(component) for component in members):
        return [(component, members[component]) for component in ordered]
    runs: list[tuple[str, list[Resource]]] = []
    for resource in graph.resources:
        if runs and runs[-1][0] == resource.component:
            runs[-1][1].append(resource)
        else:
            runs.append((resource.component, [resource]))
    return runs


def _where(resources: list[Resource]) -> str:
    """`mlinfra.yaml:121`: the spec line of the component's own resource (its key in the
    spec), else of the first resource that knows its source."""
    own = [r for r in resources if r.address == r.component]
    for resource in own + resources:
        if resource.source is not None:
            name = posixpath.basename(resource.source.filename.replace("\\", "/"))
            return f"{comment_text(name)}:{resource.source.start.line}"
    return ""


# -- the program --------------------------------------------------------------------------


def is_source_archive(resource: Resource) -> bool:
    """An S3 object whose source the lowering asked to be packed into a script-mode
    `sourcedir.tar.gz` (`FileAsset.packed_as`)."""
    source = resource.properties.get("source")
    return (
        resource.type in ("aws.s3.BucketObjectv2", "aws.s3.BucketObject")
        and isinstance(source, FileAsset)
        and source.packed_as == SOURCE_ARCHIVE
    )


def _resource_statement(resource: Resource, variable: str, writer: _Writer, indent: int = 0) -> str:
    where = resource.address
    type_name = writer.checked_name(resource.type, writer.check_type, f"{where}: resource type")
    items: list[tuple[str, Node]] = [("", string_literal(resource.address))]
    archive = is_source_archive(resource)
    for key, value in resource.properties.items():
        writer.checked_name(key, _check_identifier, f"{where}: property")
        if key in RESERVED_PROPERTIES:
            raise RenderError(f"{where}: {key!r} is not a property name pulumi_aws allows")
        if archive and key == "source":
            items.append(("source=", writer.file_asset(value, f"{where}.source", True)))
        elif key == "tags":
            items.append(("tags=", writer.resource_tags(value, f"{where}.tags")))
        else:
            items.append((f"{key}=", writer.node(value, f"{where}.{key}")))
    options: list[tuple[str, Node]] = []
    if resource.depends_on:
        missing = [a for a in resource.depends_on if a not in writer.names]
        if missing:
            raise RenderError(f"{where}: depends on {missing}, not in the graph")
        deps = tuple(("", writer.names[a]) for a in resource.depends_on)
        options.append(("depends_on=", Group("[", deps, "]")))
    if resource.protect:
        # Pulumi refuses to delete a protected resource (`pulumi destroy` included) until
        # the option is removed: the data it holds outlives a mistaken change to the spec.
        options.append(("protect=", "True"))
    if options:
        items.append(("opts=", Group("pulumi.ResourceOptions(", tuple(options), ")")))
    pad = INDENT * indent
    lines = [f"{pad}{variable} = {type_name}("]
    for prefix, value in items:
        lines.append(f"{pad}{INDENT}{prefix}{layout(value, indent + 1, len(prefix), 1)},")
    lines.append(f"{pad})")
    statement = "\n".join(lines)
    if resource.replace_on_change:
        statement = (
            f"{pad}# Replaced, never updated in place: its name holds a hash of its content, so a\n"
            f"{pad}# change creates the new one first and deletes the old one after.\n" + statement
        )
    return statement


# -- what waits ---------------------------------------------------------------------------


def _lookups(gates: tuple[Gate, ...]) -> tuple[tuple[Any, ...], ...]:
    """The registry lookups (a Call's arguments: group, endpoints) behind `gates`: the
    latest approved model's version and its ARN come from the same one."""
    return tuple(dict.fromkeys(gate.key[1] for gate in gates))


def _test(gates: tuple[Gate, ...], writer: _Writer) -> str:
    """`serves("group", "endpoint")` for each lookup behind `gates`, joined by `and`."""
    writer.used_helpers.add(helpers.GUARD)
    tests = []
    for lookup in _lookups(gates):
        arguments = writer.sequence(lookup, f"{helpers.GUARD}()").items
        tests.append(layout(Group(f"{helpers.GUARD}(", arguments, ")"), 0, 3))
    return " and ".join(tests)


def _guard(gates: tuple[Gate, ...], writer: _Writer) -> str:
    """`if serves(...):`, the line that declares what follows only once there is a version
    to serve, with a comment naming what it waits for."""
    holders = ", ".join(dict.fromkeys(comment_text(g.holder) for g in gates))
    return (
        f"# Waits for {holders}: declared once there is a version to serve (see `serves`).\n"
        f"if {_test(gates, writer)}:"
    )


def _section_blocks(
    resources: list[Resource],
    names: dict[str, str],
    writer: _Writer,
    waits: Mapping[str, tuple[Gate, ...]],
) -> list[str]:
    """The statements of one component, those that wait for a model version inside an
    `if serves(...)` block (consecutive ones waiting for the same share one)."""
    blocks: list[str] = []
    runs: list[tuple[tuple, list[Resource]]] = []
    for resource in resources:
        lookups = _lookups(waits.get(resource.address, ()))
        if runs and runs[-1][0] == lookups:
            runs[-1][1].append(resource)
        else:
            runs.append((lookups, [resource]))
    for lookups, run in runs:
        if not lookups:
            blocks.extend(_resource_statement(r, names[r.address], writer) for r in run)
            continue
        statements = [_resource_statement(r, names[r.address], writer, 1) for r in run]
        blocks.append(_guard(waits[run[0].address], writer) + "\n" + "\n\n".join(statements))
    return blocks


def _output_gates(value: Any, waits: Mapping[str, tuple[Gate, ...]]) -> tuple[Gate, ...]:
    found: dict[Gate, None] = {}
    for ref in refs_in(value):
        found.update(dict.fromkeys(waits.get(ref.address, ())))
    for key in call_keys(value):
        if key[0] in helpers.MAY_BE_MISSING:
            found[Gate(key, "")] = None
    return tuple(found)


def render_program(graph: ResourceGraph, spec_file_from_out: str = "../../mlinfra.yaml") -> str:
    """The `__main__.py` of the graph's Pulumi project.

    `spec_file_from_out` is the spec's path as seen from the project's folder (posix), e.g.
    `../../../examples/churn/mlinfra.yaml`: it is named in the header, and files the spec
    refers to (`FileAsset`s) are found relative to its folder.
    """
    spec_file_from_out = posixpath.normpath(spec_file_from_out)
    names = variable_names(graph.addresses())
    local = graph.target == "local"
    tags = shared_tags(graph)
    writer = _Writer(names, posixpath.dirname(spec_file_from_out) or ".", tags, local)

    # What waits for a model version: declared only once there is one (`ir.waiting`).
    waits = {} if local else gates(graph, lambda key: key[0] in helpers.MAY_BE_MISSING)

    body: list[str] = []
    for component, resources in sections(graph):
        where = _where(resources)
        header = f"# {comment_text(component)}" + (f" — {where}" if where else "")
        blocks = _section_blocks(resources, names, writer, waits)
        body.append("\n\n".join([header + "\n" + blocks[0], *blocks[1:]]))

    exports = []
    for key, value in graph.outputs.items():
        if not isinstance(key, str):
            raise RenderError(f"output name {key!r} is not a string")
        call = Group(
            "pulumi.export(",
            (("", string_literal(key)), ("", writer.node(value, f"output {key}"))),
            ")",
        )
        waiting = () if local else _output_gates(value, waits)
        if waiting:
            exports.append(f"if {_test(waiting, writer)}:\n{INDENT}{layout(call, 1)}")
        else:
            exports.append(layout(call))
    lookups = list(dict.fromkeys(gate.key[1] for found in waits.values() for gate in found))
    if lookups:
        # What each lookup found: what `mlinfra apply` reads to tell what waits, and why.
        writer.used_helpers.add(helpers.LOOKUPS)
        found = Group(f"{helpers.LOOKUPS}(", writer.sequence(lookups, "lookups").items, ")")
        name = string_literal(helpers.LOOKUPS_OUTPUT)
        exports.append(layout(Group("pulumi.export(", (("", name), ("", found)), ")")))

    used, modules = helpers.closure(writer.used_helpers)
    standard = sorted(modules - {"boto3"} | ({"json"} if writer.uses_json else set()))
    third_party = ["boto3"] if "boto3" in modules else []
    imports = ["\n".join(f"import {name}" for name in standard) + "\n"] if standard else []
    sdk = (
        "\n\nfrom mlinfra.providers import dynamic as local"
        if local
        else "\nimport pulumi_aws as aws"
    )
    imports.append("\n".join([*(f"import {name}" for name in third_party), "import pulumi"]) + sdk)

    header = (
        f'"""Pulumi program of {comment_text(graph.project)} ({comment_text(graph.env)}), '
        "generated by mlinfra; do not edit.\n\n"
        f"Source: {comment_text(spec_file_from_out)}, environment {comment_text(graph.env)}. "
        "Change the spec and run\n"
        f"`mlinfra render --env {comment_text(graph.env)}` to regenerate it. Resources are "
        "grouped by the spec\ncomponent they come from, in dependency order.\n"
        '"""'
    )
    parts = [header + "\n\n" + "\n".join(imports)]
    if tags:
        # One blank line after the imports before a statement, as isort (and ruff) want it.
        parts[0] += (
            "\n\n# -- the environment's tags, which every resource carries\n"
            f"TAGS = {layout(writer.mapping(tags, 'tags'))}"
        )
    if local:
        # Relative to the program's folder, where Pulumi runs it.
        emulator = Group(
            "local.use_emulator(",
            (("", string_literal(spec_file_from_out)), ("region=", string_literal(graph.region))),
            ")",
        )
        parts[0] += (
            "\n\n# -- the emulator beside the spec (the first change starts it if none runs)\n"
            + layout(emulator)
        )
    if used:
        parts.append("# -- runtime helpers, called while the program runs (preview and update)\n")
        parts[-1] += "\n\n\n".join(helpers.source(name) for name in used)
    parts.extend(body)
    if exports:
        parts.append("# -- outputs: the physical name of each component\n" + "\n".join(exports))
    return "\n\n\n".join(parts) + "\n"


def check_program(program: str, graph: ResourceGraph) -> None:
    """Parse a rendered program; a failure is a bug in the renderer (`RenderError`).

    Not part of rendering (see the module's docstring): `mlinfra render --check` and the
    tests run it.
    """
    # `symtable` runs the parser `ast.parse` runs, so it raises the same SyntaxError for the
    # same text, and then checks names and scopes, without building a Python object per
    # node (which makes ast.parse alone twice as slow as compiling the program) and without
    # generating bytecode (a third of compile()'s time). What only compile() would also
    # refuse, a keyword argument given twice, cannot be written: arguments come from maps,
    # and `resource_name` and `opts` are refused as properties.
    try:
        symtable.symtable(program, "__main__.py", "exec")
    except (SyntaxError, ValueError) as exc:
        raise RenderError(
            f"the program rendered for {graph.project} ({graph.env}) is not valid Python: "
            f"{exc}. This is a bug in mlinfra's renderer."
        ) from exc


# -- the project --------------------------------------------------------------------------


def _yaml_string(text: str) -> str:
    # JSON strings are YAML flow scalars; ensure_ascii keeps them plain ASCII.
    return json.dumps(text, ensure_ascii=True)


def requirements(names: tuple[str, ...] = REQUIREMENTS) -> str:
    lines = ["# The versions mlinfra was built and tested with."]
    lines += [f"{name}=={metadata.version(name)}" for name in names]
    return "\n".join(lines) + "\n"


@without_collector
def render_project(
    graph: ResourceGraph, spec: EnvSpec, spec_file_from_out: str = "../../mlinfra.yaml"
) -> dict[str, str | bytes]:
    """The files of the Pulumi project of one environment, by name: text, and the bytes of
    the files mlinfra bundles with the program (the monitor job's archive).

    `spec` gives what the graph does not carry: the AWS account the stack must deploy into.
    `spec_file_from_out` is the spec's path relative to the folder the files will be written
    to (see `render_program`); it is the only place locations enter, so rendering does not
    depend on where the repository lives.
    """
    if graph.target not in ("sagemaker", "local"):
        raise RenderError(f"{graph.target!r} graphs do not render to Pulumi")
    local = graph.target == "local"
    source = comment_text(posixpath.normpath(spec_file_from_out))
    generated = f"# Generated by mlinfra from {source}; do not edit.\n"
    # A local program imports mlinfra itself (its providers), so it runs with the Python
    # mlinfra is installed in rather than a virtualenv of its own.
    runtime = ["runtime: python"] if local else [
        "runtime:",
        "  name: python",
        "  options:",
        "    toolchain: pip",
        "    virtualenv: venv",
    ]  # fmt: skip
    project = "\n".join(
        [
            generated.rstrip("\n"),
            f"name: {_yaml_string(graph.project)}",
            *runtime,
            "description: "
            + _yaml_string(f"{graph.project}: generated by mlinfra from the project's spec"),
        ]
    )
    config = [generated.rstrip("\n"), "config:", f"  aws:region: {_yaml_string(graph.region)}"]
    if local:
        config = [generated.rstrip("\n"), "config: {}"]
    if spec.account:
        # The provider refuses to touch any other account, so a stack selected by mistake
        # (or credentials for the wrong account) cannot deploy prod into dev.
        config += ["  aws:allowedAccountIds:", f"    - {_yaml_string(spec.account)}"]
    files: dict[str, str | bytes] = {
        ".gitignore": "# Made when Pulumi installs requirements.txt and runs the program.\n"
        "venv/\n__pycache__/\nbuild/\n",
        "Pulumi.yaml": project + "\n",
        f"Pulumi.{_check_env(graph.env)}.yaml": "\n".join(config) + "\n",
        "requirements.txt": requirements(LOCAL_REQUIREMENTS if local else REQUIREMENTS),
        "__main__.py": render_program(graph, spec_file_from_out),
    }
    return {**files, **bundled_files(graph)}


def _check_env(env: str) -> str:
    # The environment name becomes a file name.
    if not re.fullmatch(r"[a-z][a-z0-9-]*", env):
        raise RenderError(f"environment name {env!r} cannot name a stack file")
    return env
