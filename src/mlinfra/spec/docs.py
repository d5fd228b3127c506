"""The spec's JSON Schema rendered as a Markdown reference of every field.

The schema is the one source of the language: `mlinfra schema --markdown` prints this reference
and `docs/spec.md` holds it, so neither can drift from what the validator accepts.

How the schema is read: `$ref`s and `allOf`s are flattened into one view per object (a full
component is its partial form plus `required`); each object gets a table; an object definition
reached from several places is documented once, at its shallowest place, and the other places
point to it ("Same fields as ..."). Output follows the schema's own key order, so the same schema
always renders the same text.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from mlinfra.spec.schema import load_schema  # noqa: F401  (re-exported for callers of docs)


def reference_markdown(schema: dict) -> str:
    """A Markdown reference of every field the schema describes."""
    return _Reference(schema).render()


# ---------------------------------------------------------------------------- schema reading

Path = tuple[str, ...]


def _resolve(root: dict, ref: str) -> dict:
    if not ref.startswith("#/"):
        raise ValueError(f"only local $refs are supported, not {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _ref_names(root: dict, schema: dict) -> list[str]:
    """The $defs a schema stands for, through $ref chains and allOf, outermost first."""
    names: list[str] = []
    ref = schema.get("$ref", "")
    if ref.startswith("#/$defs/"):
        names.append(ref.removeprefix("#/$defs/"))
        names.extend(_ref_names(root, _resolve(root, ref)))
    for sub in schema.get("allOf", []):
        if "if" not in sub:
            names.extend(_ref_names(root, sub))
    return names


def _merge(inner: dict, outer: dict) -> dict:
    """Two schemas that both apply, as one: `outer` wins on annotations, constraints add up."""
    merged = dict(inner)
    for key, value in outer.items():
        if key == "properties" and key in merged:
            props = dict(merged[key])
            for name, sub in value.items():
                props[name] = {"allOf": [props[name], sub]} if name in props else sub
            merged[key] = props
        elif key == "required" and key in merged:
            merged[key] = list(dict.fromkeys([*merged[key], *value]))
        elif key == "_rules" and key in merged:
            merged[key] = [*merged[key], *value]
        elif (
            key in ("additionalProperties", "items")
            and isinstance(value, dict)
            and isinstance(merged.get(key), dict)
        ):
            merged[key] = {"allOf": [merged[key], value]}
        else:
            merged[key] = value
    return merged


def _flatten(root: dict, schema: dict) -> dict:
    """One schema equivalent (for documentation) to `schema` with its $ref and allOf applied.

    if/then rules are kept aside under `_rules`, since they apply only to some instances.
    """
    result: dict = {}
    if "$ref" in schema:
        result = _flatten(root, _resolve(root, schema["$ref"]))
    rules: list[dict] = []
    for sub in schema.get("allOf", []):
        if "if" in sub:
            rules.append(sub)
        else:
            result = _merge(result, _flatten(root, sub))
    own = {k: v for k, v in schema.items() if k not in ("$ref", "allOf", "$comment")}
    if rules:
        own["_rules"] = rules
    return _merge(result, own)


def _is_object(flat: dict) -> bool:
    return "properties" in flat


def _map_values(flat: dict) -> dict | None:
    """The schema of a map's values, when `flat` is a map keyed by user names."""
    values = flat.get("additionalProperties")
    if isinstance(values, dict) and not _is_object(flat):
        return values
    return None


def _placeholder(key: str) -> str:
    """How a user-chosen key is written in a path: `endpoints` -> `<endpoint>`."""
    return f"<{key[:-1]}>" if key.endswith("s") and len(key) > 1 else "<name>"


def _children(flat: dict, path: Path) -> list[tuple[Path, dict, bool]]:
    """(path, raw schema, is-required) of what lies directly below an object, map or list."""
    found: list[tuple[Path, dict, bool]] = []
    required = set(flat.get("required", []))
    for name, sub in flat.get("properties", {}).items():
        found.append(((*path, name), sub, name in required))
    values = _map_values(flat)
    if values is not None and path:
        found.append(((*path, _placeholder(path[-1])), values, False))
    items = flat.get("items")
    if isinstance(items, dict) and path:
        found.append(((*path[:-1], path[-1] + "[]"), items, False))
    return found


def _dotted(path: Path) -> str:
    return ".".join(path)


# ---------------------------------------------------------------------------- text


def _code(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    text = text.replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _text(value: str) -> str:
    """Plain schema text made safe for a Markdown table cell."""
    for plain, escaped in (
        ("\\", "\\\\"),
        ("|", "\\|"),
        ("*", "\\*"),
        ("<", "&lt;"),
        (">", "&gt;"),
        ("\n", " "),
    ):
        value = value.replace(plain, escaped)
    return value


def _number_range(flat: dict) -> str | None:
    low = ("≥", flat["minimum"]) if "minimum" in flat else None
    if "exclusiveMinimum" in flat:
        low = (">", flat["exclusiveMinimum"])
    high = ("≤", flat["maximum"]) if "maximum" in flat else None
    if "exclusiveMaximum" in flat:
        high = ("<", flat["exclusiveMaximum"])
    if low and high:
        if low[0] == "≥" and high[0] == "≤":
            return f"{low[1]} to {high[1]}"
        return f"{low[0]} {low[1]} and {high[0]} {high[1]}"
    bound = low or high
    return f"{bound[0]} {bound[1]}" if bound else None


def _constraints(flat: dict) -> list[str]:
    notes: list[str] = []
    if "pattern" in flat:
        notes.append(f"matching {_code(flat['pattern'])}")
    if "format" in flat:
        notes.append(f"format {flat['format']}")
    if flat.get("minLength", 0) > 1:
        notes.append(f"at least {flat['minLength']} characters")
    if "maxLength" in flat:
        notes.append(f"at most {flat['maxLength']} characters")
    bounds = _number_range(flat)
    if bounds:
        notes.append(bounds)
    if "minItems" in flat:
        notes.append(f"at least {flat['minItems']} item" + ("s" if flat["minItems"] > 1 else ""))
    if flat.get("uniqueItems"):
        notes.append("no duplicates")
    if "minProperties" in flat:
        count = flat["minProperties"]
        notes.append(f"at least {count} entr" + ("ies" if count > 1 else "y"))
    if "maxProperties" in flat:
        notes.append(f"at most {flat['maxProperties']} entries")
    return notes


def _container(text: str, flat: dict) -> str:
    """A list's or map's type, then its own constraints (its items' are inside `text`)."""
    constraints = _constraints(flat)
    return f"{text}; {', '.join(constraints)}" if constraints else text


class _Reference:
    def __init__(self, schema: dict):
        self.root = schema
        self.homes = self._find_homes()

    # -- where each shared object definition is documented

    def _find_homes(self) -> dict[str, Path]:
        """Each object definition's shallowest place in the document (breadth-first)."""
        homes: dict[str, Path] = {}
        queue: deque[tuple[Path, dict]] = deque([((), self.root)])
        while queue:
            path, raw = queue.popleft()
            names = _ref_names(self.root, raw)
            if any(name in homes for name in names):
                continue
            flat = _flatten(self.root, raw)
            if _is_object(flat):
                for name in names:
                    homes[name] = path
            queue.extend((child, sub) for child, sub, _ in _children(flat, path))
        return homes

    def _documented_elsewhere(self, raw: dict, path: Path) -> Path | None:
        for name in _ref_names(self.root, raw):
            home = self.homes.get(name)
            if home is not None and home != path:
                return home
        return None

    # -- types

    def _type(self, flat: dict) -> str:
        if "const" in flat:
            return _code(flat["const"])
        if "enum" in flat:
            return " \\| ".join(_code(v) for v in flat["enum"])
        alternatives = [a for a in flat.get("anyOf", []) if set(a) != {"required"}]
        if alternatives:
            # An alternative without a type of its own (a pattern, say) has the field's type.
            base = {"type": flat["type"]} if "type" in flat else {}
            return " \\| ".join(
                self._type(_flatten(self.root, {**base, **alt})) for alt in alternatives
            )
        kind = flat.get("type")
        if kind == "array" or "items" in flat:
            items = flat.get("items")
            inner = self._type(_flatten(self.root, items)) if isinstance(items, dict) else "any"
            return _container(f"list of {inner}", flat)
        if _is_object(flat):
            return "object"
        values = _map_values(flat)
        if values is not None:
            keys = _flatten(self.root, flat.get("propertyNames", {}))
            key_text = self._type({"type": "string", **keys})
            value_text = self._type(_flatten(self.root, values))
            return _container(f"map from {key_text} to {value_text}", flat)
        text = " \\| ".join(kind) if isinstance(kind, list) else kind or "any"
        constraints = _constraints(flat)
        return f"{text} ({', '.join(constraints)})" if constraints else text

    # -- tables

    def _row(self, path: Path, raw: dict, required: bool) -> str:
        flat = _flatten(self.root, raw)
        default = _code(flat["default"]) if "default" in flat else ""
        description = _text(flat.get("description", ""))
        if required:
            description = f"**Required.** {description}"
        home = self._documented_elsewhere(raw, path)
        if home is not None:
            description += f" Same fields as {_code(_dotted(home))}."
        for child, sub, _ in _children(flat, path):
            if child[-1] not in flat.get("properties", {}):
                home = self._documented_elsewhere(sub, child)
                if home is not None:
                    description += f" Each entry has the fields of {_code(_dotted(home))}."
        cells = [_code(_dotted(path)), self._type(flat), default, description.strip()]
        return "| " + " | ".join(cells) + " |"

    def _notes(self, flat: dict) -> list[str]:
        notes: list[str] = []
        choices = [a["required"] for a in flat.get("anyOf", []) if set(a) == {"required"}]
        if choices:
            options = " or ".join(", ".join(_code(n) for n in names) for names in choices)
            notes.append(f"- At least one of {options} is required.")
        for rule in flat.get("_rules", []):
            condition = rule["if"].get("properties", {})
            when = ", ".join(
                f"{_code(name)} is {_code(sub['const'])}"
                for name, sub in condition.items()
                if "const" in sub
            )
            then = rule.get("then", {})
            parts = []
            if then.get("required"):
                parts.append("requires " + ", ".join(_code(n) for n in then["required"]))
            defaults = [
                f"{_code(name)} defaults to {_code(sub['default'])}"
                for name, sub in then.get("properties", {}).items()
                if "default" in sub
            ]
            parts.extend(defaults)
            if when and parts:
                notes.append(f"- When {when}: " + "; ".join(parts) + ".")
        return notes

    def _tables(self, path: Path, raw: dict, level: int, heading: bool = True) -> list[str]:
        """A table for the object at `path`, then one for each object below it."""
        flat = _flatten(self.root, raw)
        required = set(flat.get("required", []))
        rows = [
            self._row((*path, name), sub, name in required)
            for name, sub in flat["properties"].items()
        ]
        out: list[str] = []
        if heading:
            out += [f"{'#' * level} {_code(_dotted(path))}", ""]
            if flat.get("description"):
                out += [_text(flat["description"]), ""]
        out += ["| Field | Type | Default | Description |", "|---|---|---|---|", *rows, ""]
        notes = self._notes(flat)
        if notes:
            out += [*notes, ""]
        for child, sub, _ in _children(flat, path):
            out += self._below(child, sub, level)
        return out

    def _below(self, path: Path, raw: dict, level: int, heading: bool = True) -> list[str]:
        """Tables for whatever objects lie at or under `path` (through maps and lists)."""
        if self._documented_elsewhere(raw, path) is not None:
            return []
        flat = _flatten(self.root, raw)
        if _is_object(flat):
            return self._tables(path, raw, level, heading)
        out: list[str] = []
        for child, sub, _ in _children(flat, path):
            out += self._below(child, sub, level)
        return out

    # -- the document

    def render(self) -> str:
        flat = _flatten(self.root, self.root)
        title = flat.get("title", "Reference")
        out = [f"# {_text(title)}", ""]
        if flat.get("description"):
            out += [_text(flat["description"]), ""]
        required = set(flat.get("required", []))
        out += [
            "## Top-level fields",
            "",
            "| Field | Type | Default | Description |",
            "|---|---|---|---|",
        ]
        properties = flat.get("properties", {})
        out += [self._row((name,), sub, name in required) for name, sub in properties.items()]
        out.append("")
        for name, sub in properties.items():
            # A top-level object's table sits right under its section heading.
            section = self._below((name,), sub, 3, heading=False)
            if section:
                out += [f"## {_code(name)}", ""]
                description = _flatten(self.root, sub).get("description")
                if description:
                    out += [_text(description), ""]
                out += section
        return "\n".join(out).rstrip("\n") + "\n"
