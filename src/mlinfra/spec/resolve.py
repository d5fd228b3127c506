"""Environment resolution: defaults + overrides, deep-merged on the ranged node tree.

Merging nodes rather than plain values means a value that comes from an override keeps the
override's source range, so a fault in prod points at the prod override line.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlinfra.syntax.nodes import Entry, Mapping, Node

# Each component section, and the singular word its addresses start with (`endpoint.churn-api`).
SECTION_KIND = {
    "feature_stores": "feature_store",
    "models": "model",
    "pipelines": "pipeline",
    "endpoints": "endpoint",
    "monitors": "monitor",
    "batch_jobs": "batch_job",
}
COMPONENT_SECTIONS = tuple(SECTION_KIND)
PREVIEW = "preview"


def merge(base: Node | None, override: Node | None) -> Node | None:
    """Deep-merge two nodes: maps merge key by key, anything else is replaced."""
    if override is None:
        return base
    if not (isinstance(base, Mapping) and isinstance(override, Mapping)):
        return override
    entries: list[Entry] = []
    for entry in base.entries:
        replacement = override.entry(entry.name)
        if replacement is None:
            entries.append(entry)
        else:
            # The component keeps the key where it was declared; its values may move.
            entries.append(Entry(entry.key, merge(entry.value, replacement.value)))
    entries.extend(e for e in override.entries if base.entry(e.name) is None)
    return Mapping(base.range, tuple(entries))


@dataclass(frozen=True)
class Resolved:
    """One environment's view of the spec: the merged tree and where its settings came from."""

    name: str
    tree: Mapping
    settings_from: str  # the environment whose `environments.<env>` settings apply
    is_preview: bool = False


def _with_sections(root: Mapping, overrides: Node | None) -> Mapping:
    """Apply an `overrides:` block to the component sections of `root`.

    Only declared components are overridden: an override of an undeclared one is an error
    that the reference checks report, and it must not leak in as a half-defined component.
    """
    if not isinstance(overrides, Mapping):
        return root
    entries: list[Entry] = []
    for entry in root.entries:
        extra = overrides.get(entry.name) if entry.name in COMPONENT_SECTIONS else None
        if isinstance(extra, Mapping) and isinstance(entry.value, Mapping):
            known = [e for e in extra.entries if entry.value.entry(e.name) is not None]
            extra = Mapping(extra.range, tuple(known))
        entries.append(Entry(entry.key, merge(entry.value, extra)) if extra else entry)
    return Mapping(root.range, tuple(entries))


def environment_names(root: Mapping) -> list[str]:
    envs = root.get("environments")
    return envs.keys() if isinstance(envs, Mapping) else []


def resolve(root: Mapping, env: str) -> Resolved:
    """The spec as environment `env` sees it."""
    envs = root.get("environments")
    env_node = envs.get(env) if isinstance(envs, Mapping) else None
    if not isinstance(env_node, Mapping):
        raise KeyError(env)
    return Resolved(env, _with_sections(root, env_node.get("overrides")), env)


def resolve_preview(root: Mapping, base_env: str | None = None) -> Resolved | None:
    """The spec as a preview sees it: its base environment, then `previews.overrides`."""
    previews = root.get("previews")
    if not isinstance(previews, Mapping):
        return None
    if base_env is None:
        base_node = previews.get("base")
        base_env = getattr(base_node, "value", None)
    if not isinstance(base_env, str) or base_env not in environment_names(root):
        return None
    base = resolve(root, base_env)
    tree = _with_sections(base.tree, previews.get("overrides"))
    return Resolved(PREVIEW, tree, base_env, is_preview=True)


def overridden_only(root: Mapping, view: Resolved) -> Mapping:
    """The part of a resolved tree that its overrides changed, with the keys every spec needs.

    Untouched components are the very entries of the document, already checked against the
    schema; only what a merge produced needs checking again (e.g. that it is still complete).
    """
    entries: list[Entry] = []
    for entry in view.tree.entries:
        original = root.entry(entry.name)
        if entry.name in ("version", "project", "environments"):
            entries.append(entry)
        elif entry.name in COMPONENT_SECTIONS and isinstance(entry.value, Mapping):
            if original is not None and original.value is entry.value:
                continue
            known = original.value if original is not None else None
            changed = tuple(
                e
                for e in entry.value.entries
                if not isinstance(known, Mapping) or known.entry(e.name) is not e
            )
            entries.append(Entry(entry.key, Mapping(entry.value.range, changed)))
    return Mapping(view.tree.range, tuple(entries))
