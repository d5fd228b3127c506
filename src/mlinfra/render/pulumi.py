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
- `Resource.replace_on_change` needs no resource option: such resources (endpoint
  configurations) carry a hash of their content in their name, so a change is a new name,
  which Pulumi can only apply by replacing, and Pulumi's default replacement creates the new
  resource before deleting the old one (`delete_before_replace` stays False). The endpoint is
  switched to the new configuration before the old one goes.
- A training script uploaded under a `sourcedir.tar.gz` key (the lowering's convention for
  SageMaker script mode) is packed into that archive when the program runs, by the
  `source_archive` helper, reproducibly, into the project's `build/` folder.
- The finished program is compiled (which parses it as `ast.parse` does); a failure is a bug here.
"""

from __future__ import annotations

import builtins
import json
import keyword
import os
import posixpath
import re
import tempfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from mlinfra.ir.graph import Args, Call, Concat, FileAsset, Json, Ref, Resource, ResourceGraph
from mlinfra.render import helpers
from mlinfra.render.literals import (
    INDENT,
    Atom,
    Group,
    Item,
    LiteralError,
    Node,
    layout,
    map_items,
    scalar_literal,
    string_literal,
)
from mlinfra.spec.model import EnvSpec

# `aws.<module>.<Class>`: what a resource or `...Args` type may be, written into the program
# as code (`aws.sagemaker.Model(`), so it is checked, never trusted.
TYPE_PATTERN = re.compile(r"aws\.[a-z0-9_]+\.[A-Za-z0-9]+")  # fullmatch: `$` admits a "\n"
# Packages the program needs, pinned to the versions mlinfra itself is built and tested with.
REQUIREMENTS = ("pulumi", "pulumi-aws", "boto3")
# Keyword arguments of every pulumi_aws resource constructor besides its properties.
RESERVED_PROPERTIES = frozenset({"resource_name", "opts"})


class RenderError(ValueError):
    """The graph cannot be written as a program: a bug in mlinfra, never bad user input."""


# The script-mode archive of a training step, which the `source_archive` helper builds.
SOURCE_ARCHIVE = "sourcedir.tar.gz"
# Names the program defines or imports; no resource variable may take them.
_RESERVED_NAMES = frozenset({"json", "pulumi", "aws", *helpers.NAMES, *dir(builtins)})


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
    """Turns property values (plain data and IR markers) into layout nodes."""

    def __init__(self, names: dict[str, str], spec_dir_from_out: str) -> None:
        self.names = names
        self.spec_dir_from_out = spec_dir_from_out
        self.used_helpers: set[str] = set()
        self.uses_json = False

    def node(self, value: Any, where: str) -> Node:
        if isinstance(value, Ref):
            return Atom(self.ref(value, where))
        if isinstance(value, Args):
            return self.args(value, where)
        if isinstance(value, Concat):
            return self.concat(value, where)
        if isinstance(value, Json):
            return self.json(value, where)
        if isinstance(value, Call):
            return self.call(value, where)
        if isinstance(value, FileAsset):
            return self.file_asset(value, where)
        if isinstance(value, Mapping):
            try:
                return Group("{", tuple(map_items(value, lambda v: self.node(v, where))), "}")
            except LiteralError as exc:
                raise RenderError(f"{where}: {exc}") from None
        if isinstance(value, list | tuple):
            return Group("[", tuple(Item("", self.node(v, where)) for v in value), "]")
        try:
            return Atom(scalar_literal(value))
        except LiteralError as exc:
            raise RenderError(f"{where}: {exc}") from None

    def ref(self, ref: Ref, where: str) -> str:
        if ref.address not in self.names:
            raise RenderError(f"{where}: refers to {ref.address!r}, which is not in the graph")
        attribute = _check_identifier(ref.attribute, f"{where}: attribute")
        return f"{self.names[ref.address]}.{attribute}"

    def args(self, value: Args, where: str) -> Group:
        type_name = _check_type(value.type, f"{where}: Args type")
        items = tuple(
            Item(f"{_check_identifier(key, f'{where}: field')}=", self.node(field, where))
            for key, field in value.fields.items()
        )
        return Group(f"{type_name}(", items, ")")

    def concat(self, value: Concat, where: str) -> Node:
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
        return Group(
            "pulumi.Output.concat(", tuple(Item("", self.node(p, where)) for p in parts), ")"
        )

    def json(self, value: Json, where: str) -> Group:
        if isinstance(value.value, FileAsset | Args) or _contains(value.value, (FileAsset, Args)):
            raise RenderError(f"{where}: a Json document cannot hold files or Args")
        # Sorted keys: the deployed document does not depend on the order the lowering built
        # it in, so a reordering alone is no change.
        sort_keys = Item("sort_keys=", Atom("True"))
        document = Item("", self.node(value.value, where))
        if _contains(value.value, (Ref, Concat)):
            return Group("pulumi.Output.json_dumps(", (document, sort_keys), ")")
        self.uses_json = True
        return Group("json.dumps(", (document, sort_keys), ")")

    def call(self, value: Call, where: str) -> Group:
        if value.function not in helpers.CALLABLE:
            known = ", ".join(sorted(helpers.CALLABLE))
            raise RenderError(f"{where}: unknown runtime helper {value.function!r} ({known})")
        if _contains(value.args, (Ref, Args, Call, Concat, Json, FileAsset)):
            raise RenderError(f"{where}: {value.function}() takes plain values only")
        self.used_helpers.add(value.function)
        return Group(
            f"{value.function}(", tuple(Item("", self.node(a, where)) for a in value.args), ")"
        )

    def file_asset(self, value: FileAsset, where: str, archive: bool = False) -> Group:
        if not isinstance(value.path, str) or not value.path:
            raise RenderError(f"{where}: FileAsset needs a path")
        # Relative to the program's folder, where Pulumi runs it; never an absolute path of
        # the machine that rendered it (unless the spec itself gave one).
        path: Node = self.node(
            posixpath.normpath(posixpath.join(self.spec_dir_from_out, value.path)), where
        )
        if archive:
            self.used_helpers.add("source_archive")
            path = Group("source_archive(", (Item("", path),), ")")
        return Group("pulumi.FileAsset(", (Item("", path),), ")")


def _contains(value: Any, kinds: tuple[type, ...]) -> bool:
    if isinstance(value, kinds):
        return True
    if isinstance(value, Mapping):
        return any(_contains(v, kinds) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_contains(v, kinds) for v in value)
    if isinstance(value, Args):
        return _contains(value.fields, kinds)
    if isinstance(value, Json):
        return _contains(value.value, kinds)
    if isinstance(value, Call):
        return _contains(value.args, kinds)
    if isinstance(value, Concat):
        return _contains(value.parts, kinds)
    return False


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


def _resource_statement(resource: Resource, variable: str, writer: _Writer) -> str:
    where = resource.address
    type_name = _check_type(resource.type, f"{where}: resource type")
    items = [Item("", Atom(string_literal(resource.address)))]
    archive = is_source_archive(resource)
    for key, value in resource.properties.items():
        _check_identifier(key, f"{where}: property")
        if key in RESERVED_PROPERTIES:
            raise RenderError(f"{where}: {key!r} is not a property name pulumi_aws allows")
        if archive and key == "source":
            items.append(Item("source=", writer.file_asset(value, f"{where}.source", True)))
        else:
            items.append(Item(f"{key}=", writer.node(value, f"{where}.{key}")))
    options = []
    if resource.depends_on:
        missing = [a for a in resource.depends_on if a not in writer.names]
        if missing:
            raise RenderError(f"{where}: depends on {missing}, not in the graph")
        deps = tuple(Item("", Atom(writer.names[a])) for a in resource.depends_on)
        options.append(Item("depends_on=", Group("[", deps, "]")))
    if resource.protect:
        # Pulumi refuses to delete a protected resource (`pulumi destroy` included) until
        # the option is removed: the data it holds outlives a mistaken change to the spec.
        options.append(Item("protect=", Atom("True")))
    if options:
        items.append(Item("opts=", Group("pulumi.ResourceOptions(", tuple(options), ")")))
    lines = [f"{variable} = {type_name}("]
    for item in items:
        lines.append(f"{INDENT}{item.prefix}{layout(item.value, 1, len(item.prefix), 1)},")
    lines.append(")")
    statement = "\n".join(lines)
    if resource.replace_on_change:
        statement = (
            "# Replaced, never updated in place: its name holds a hash of its content, so a\n"
            "# change creates the new one first and deletes the old one after.\n" + statement
        )
    return statement


def render_program(graph: ResourceGraph, spec_file_from_out: str = "../../mlinfra.yaml") -> str:
    """The `__main__.py` of the graph's Pulumi project.

    `spec_file_from_out` is the spec's path as seen from the project's folder (posix), e.g.
    `../../../examples/churn/mlinfra.yaml`: it is named in the header, and files the spec
    refers to (`FileAsset`s) are found relative to its folder.
    """
    spec_file_from_out = posixpath.normpath(spec_file_from_out)
    names = variable_names(graph.addresses())
    writer = _Writer(names, posixpath.dirname(spec_file_from_out) or ".")

    body: list[str] = []
    for component, resources in sections(graph):
        where = _where(resources)
        header = f"# {comment_text(component)}" + (f" — {where}" if where else "")
        statements = [_resource_statement(r, names[r.address], writer) for r in resources]
        body.append("\n\n".join([header + "\n" + statements[0], *statements[1:]]))

    exports = []
    for key, value in graph.outputs.items():
        if not isinstance(key, str):
            raise RenderError(f"output name {key!r} is not a string")
        call = Group(
            "pulumi.export(",
            (Item("", Atom(string_literal(key))), Item("", writer.node(value, f"output {key}"))),
            ")",
        )
        exports.append(layout(call))

    used, modules = helpers.closure(writer.used_helpers)
    standard = sorted(modules - {"boto3"} | ({"json"} if writer.uses_json else set()))
    third_party = ["boto3"] if "boto3" in modules else []
    imports = ["\n".join(f"import {name}" for name in standard) + "\n"] if standard else []
    imports.append(
        "\n".join([*(f"import {name}" for name in third_party), "import pulumi"])
        + "\nimport pulumi_aws as aws"
    )

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
    if used:
        parts.append("# -- runtime helpers, called while the program runs (preview and update)\n")
        parts[-1] += "\n\n\n".join(helpers.source(name) for name in used)
    parts.extend(body)
    if exports:
        parts.append("# -- outputs: the physical name of each component\n" + "\n".join(exports))
    program = "\n\n\n".join(parts) + "\n"
    _check_program(program, graph)
    return program


def _check_program(program: str, graph: ResourceGraph) -> None:
    # Compiling parses the program exactly as ast.parse does, and then some, without building
    # a Python object per node: on a 1,000-component program, a third of the time and far
    # less memory than compile(ast.parse(...)).
    try:
        compile(program, "__main__.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        raise RenderError(
            f"the program rendered for {graph.project} ({graph.env}) is not valid Python: "
            f"{exc}. This is a bug in mlinfra's renderer."
        ) from exc


# -- the project --------------------------------------------------------------------------


def _yaml_string(text: str) -> str:
    # JSON strings are YAML flow scalars; ensure_ascii keeps them plain ASCII.
    return json.dumps(text, ensure_ascii=True)


def requirements() -> str:
    lines = ["# The versions mlinfra was built and tested with."]
    lines += [f"{name}=={metadata.version(name)}" for name in REQUIREMENTS]
    return "\n".join(lines) + "\n"


def render_project(
    graph: ResourceGraph, spec: EnvSpec, spec_file_from_out: str = "../../mlinfra.yaml"
) -> dict[str, str]:
    """The files of the Pulumi project of one `sagemaker` environment, by name.

    `spec` gives what the graph does not carry: the AWS account the stack must deploy into.
    `spec_file_from_out` is the spec's path relative to the folder the files will be written
    to (see `render_program`); it is the only place locations enter, so rendering does not
    depend on where the repository lives.
    """
    if graph.target != "sagemaker":
        raise RenderError(f"only sagemaker graphs render to Pulumi, not {graph.target!r}")
    source = comment_text(posixpath.normpath(spec_file_from_out))
    generated = f"# Generated by mlinfra from {source}; do not edit.\n"
    project = "\n".join(
        [
            generated.rstrip("\n"),
            f"name: {_yaml_string(graph.project)}",
            "runtime:",
            "  name: python",
            "  options:",
            "    toolchain: pip",
            "    virtualenv: venv",
            "description: "
            + _yaml_string(f"{graph.project}: generated by mlinfra from the project's spec"),
        ]
    )
    config = [generated.rstrip("\n"), "config:", f"  aws:region: {_yaml_string(graph.region)}"]
    if spec.account:
        # The provider refuses to touch any other account, so a stack selected by mistake
        # (or credentials for the wrong account) cannot deploy prod into dev.
        config += ["  aws:allowedAccountIds:", f"    - {_yaml_string(spec.account)}"]
    return {
        ".gitignore": "# Made when Pulumi installs requirements.txt and runs the program.\n"
        "venv/\n__pycache__/\nbuild/\n",
        "Pulumi.yaml": project + "\n",
        f"Pulumi.{_check_env(graph.env)}.yaml": "\n".join(config) + "\n",
        "requirements.txt": requirements(),
        "__main__.py": render_program(graph, spec_file_from_out),
    }


def _check_env(env: str) -> str:
    # The environment name becomes a file name.
    if not re.fullmatch(r"[a-z][a-z0-9-]*", env):
        raise RenderError(f"environment name {env!r} cannot name a stack file")
    return env


def write_project(files: Mapping[str, str], out_dir: str | os.PathLike) -> list[Path]:
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
            with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
                stream.write(files[name])
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        written.append(target)
    return written
