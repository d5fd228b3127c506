"""Defaults from the JSON Schema, filled while validating, as jsonschema's documentation shows.

jsonschema's FAQ ("Why doesn't my schema's default property set the default on my
instance?") extends a validator's `properties` keyword so that it sets each missing property
that has a `default` before validating the properties. Validation then walks the data exactly
as the schema applies (`$ref`, `allOf`, the `then` of an `if` that holds), so a default inside
a conditional is filled only where its condition holds: a training step gets `max_runtime`,
a condition step does not. A default never replaces a written value.

Two rules keep the recipe exact for this schema (tests/spec/test_defaults.py checks them):
defaults live only under `properties` (never in an `if`, `anyOf`, `oneOf` or `not`, which
are evaluated on data whether or not they hold), and an object whose fields have defaults
that apply when the object itself is left out has a default of its own, `{}`, as the FAQ's
hint says, so that its fields are filled in.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators


def extend_with_default(validator_class: type) -> type:
    """`validator_class` whose `properties` keyword first sets the missing defaults."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(
        validator: Any, properties: dict, instance: Any, schema: dict
    ) -> Iterator[ValidationError]:
        if isinstance(instance, dict):  # a wrong type is `type`'s error, not ours to fill
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    # A copy: the schema is shared, and what is filled in is filled in further.
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


DefaultFillingValidator = extend_with_default(Draft202012Validator)
