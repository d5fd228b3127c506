"""Fill in the defaults the JSON Schema declares, so the schema is their one source.

Works on plain, schema-valid data and returns a new value; follows `$ref`, `allOf` and
`if`/`then` the way the schema uses them.
"""

from __future__ import annotations

import copy
from typing import Any

from jsonschema import Draft202012Validator

_fillers: dict[int, _Filler] = {}


def apply_defaults(schema: dict, data: Any) -> Any:
    filler = _fillers.get(id(schema))
    if filler is None or filler.root is not schema:
        filler = _fillers[id(schema)] = _Filler(schema)
    return filler.fill(schema, data)


class _Filler:
    """Walks data beside its schema. Schemas are read-only, so what is derived is cached."""

    def __init__(self, root: dict):
        self.root = root
        self.validator = Draft202012Validator(root)
        self._derefs: dict[int, dict] = {}
        self._conditions: dict[int, Draft202012Validator] = {}

    def deref(self, schema: dict) -> dict:
        found = self._derefs.get(id(schema))
        if found is None:
            found = self._derefs[id(schema)] = self._deref(schema)
        return found

    def matches(self, condition: dict, data: Any) -> bool:
        validator = self._conditions.get(id(condition))
        if validator is None:
            validator = self.validator.evolve(schema=self.deref(condition))
            self._conditions[id(condition)] = validator
        return validator.is_valid(data)

    def _deref(self, schema: dict) -> dict:
        while "$ref" in schema:
            node: Any = self.root
            for part in schema["$ref"].removeprefix("#/").split("/"):
                node = node[part]
            schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
        return schema

    def branches(self, schema: dict, data: Any) -> list[dict]:
        """The subschemas that apply to `data`: itself, its allOf, and a matching if/then."""
        schema = self.deref(schema)
        found = [schema]
        for sub in schema.get("allOf", []):
            found.extend(self.branches(sub, data))
        if "if" in schema and "then" in schema:
            if self.matches(schema["if"], data):
                found.extend(self.branches(schema["then"], data))
        return found

    def fill(self, schema: dict, data: Any) -> Any:
        applicable = self.branches(schema, data)
        if isinstance(data, dict):
            out = dict(data)
            for sub in applicable:
                for name, prop in sub.get("properties", {}).items():
                    prop = self.deref(prop)
                    if name not in out and "default" in prop:
                        out[name] = copy.deepcopy(prop["default"])
            for name, value in list(out.items()):
                for sub in applicable:
                    prop = sub.get("properties", {}).get(name)
                    if prop is None and isinstance(sub.get("additionalProperties"), dict):
                        prop = sub["additionalProperties"]
                    if prop is not None:
                        value = self.fill(prop, value)
                out[name] = value
            return out
        if isinstance(data, list):
            for sub in applicable:
                if isinstance(sub.get("items"), dict):
                    return [self.fill(sub["items"], item) for item in data]
            return list(data)
        return data
