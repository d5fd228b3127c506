"""Search: SageMaker's query over experiments, trials, trial components, model packages,
pipelines and pipeline executions.

A SearchExpression holds Filters (a property, an operator, a value), NestedFilters (filters
that one element of a list property must all pass), SubExpressions, and the Operator (And,
the default, or Or) that joins them. A property is named by its path in the resource's
SearchRecord shape (`DisplayName`, `Parameters.C`, `Metrics.accuracy.Max`, `Tags.team`,
`Parents.TrialName`): in a map the path names the key, in a list of metrics or tags the
metric or key, and a parameter's value is its number or string. Comparisons are numeric
where the property is a number (or a timestamp, given as epoch seconds or ISO 8601), text
otherwise.

Search reads the records as they are kept (trial components from the experiments service's
memory, the rest from the store), filters them, sorts them (`SortBy`, LastModifiedTime by
default, newest first) and projects only the page it answers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from mlinfra.emulator.kit.errors import invalid
from mlinfra.emulator.kit.records import Listing, shaped
from mlinfra.emulator.store import Store
from mlinfra.sagemaker import resources

MISSING = object()
# Search resource -> (the SearchRecord member that holds it, the store kind of its records).
RESOURCES = {
    "Experiment": ("Experiment", "experiment"),
    "ExperimentTrial": ("Trial", "experiment-trial"),
    "ExperimentTrialComponent": ("TrialComponent", "experiment-trial-component"),
    "ModelPackage": ("ModelPackage", resources.MODEL_PACKAGE.arn_kind),
    "ModelPackageGroup": ("ModelPackageGroup", resources.MODEL_PACKAGE_GROUP.arn_kind),
    "Pipeline": ("Pipeline", resources.PIPELINE.arn_kind),
    "PipelineExecution": ("PipelineExecution", "pipeline-execution"),
}
# In a list of these, a path's next part names the element by this field.
NAMED_ELEMENTS = ("MetricName", "Key", "Name")
PARAMETER_VALUES = ("NumberValue", "StringValue")


class Search:
    """The Search operation over the records of the services that keep them.

    `trial_components` answers every trial component's record (kept in memory by the
    experiments service: there may be tens of thousands)."""

    OPERATIONS = ("Search",)
    KINDS = ()

    def __init__(
        self, store: Store, listing: Listing, trial_components: Callable[[], list[dict]]
    ) -> None:
        self.store = store
        self.listing = listing
        self.trial_components = trial_components

    def search(self, p: dict, region: str) -> dict:
        resource = p["Resource"]
        if resource not in RESOURCES:
            raise invalid(
                f"Search over {resource} is not supported by the mlinfra local emulator. "
                f"Supported: {', '.join(sorted(RESOURCES))}."
            )
        member, kind = RESOURCES[resource]
        if resource == "ExperimentTrialComponent":
            records = self.trial_components()
        else:
            records = self.store.all(kind)
        expression = p.get("SearchExpression")
        if expression:
            records = [r for r in records if matches(r, expression)]
        sort_by = p.get("SortBy", "LastModifiedTime")
        have = [r for r in records if lookup(r, sort_by) is not MISSING]
        lack = [r for r in records if lookup(r, sort_by) is MISSING]
        have.sort(key=lambda r: _sortable(lookup(r, sort_by)))
        if p.get("SortOrder", "Descending") == "Descending":
            have.reverse()
        ordered = have + lack  # what has no such property comes last, either way
        page, token = self.listing.pager.page("Search", ordered, p)
        result: dict[str, Any] = {
            "Results": [shaped("SearchRecord", {member: record}) for record in page],
            "TotalHits": {"Value": len(ordered), "Relation": "EqualTo"},
        }
        if token is not None:
            result["NextToken"] = token
        return result


def matches(record: dict, expression: dict) -> bool:
    """Whether a record passes a SearchExpression."""
    tests: list[Callable[[], bool]] = []
    for item in expression.get("Filters", ()):
        tests.append(lambda f=item: passes(lookup(record, f["Name"]), f))
    for nested in expression.get("NestedFilters", ()):
        tests.append(lambda n=nested: _nested(record, n))
    for sub in expression.get("SubExpressions", ()):
        tests.append(lambda s=sub: matches(record, s))
    if not tests:
        return True
    if expression.get("Operator", "And") == "Or":
        return any(test() for test in tests)
    return all(test() for test in tests)


def _nested(record: dict, nested: dict) -> bool:
    name = nested["NestedPropertyName"]
    container = lookup(record, name, unwrap=False)
    if isinstance(container, dict):
        elements = list(container.values())
    elif isinstance(container, list):
        elements = container
    else:
        return False
    prefix = name + "."
    for element in elements:
        if all(
            passes(lookup(element, f["Name"].removeprefix(prefix)), f) for f in nested["Filters"]
        ):
            return True
    return False


def lookup(record: Any, path: str, unwrap: bool = True) -> Any:
    """The value at a property path of a record, or MISSING."""
    value = record
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part, MISSING)
        elif isinstance(value, list):
            value = _element(value, part)
        else:
            return MISSING
        if value is MISSING or value is None:
            return MISSING
    if unwrap and isinstance(value, dict):
        for field in PARAMETER_VALUES:  # a parameter: {"NumberValue": 0.5}
            if field in value:
                return value[field]
    return value


def _element(items: list, name: str) -> Any:
    for item in items:
        if isinstance(item, dict):
            for field in NAMED_ELEMENTS:
                if item.get(field) == name:
                    return item.get("Value", item) if field in ("Key", "Name") else item
    # A list of plain structures (a trial component's Parents): each one's field `name`.
    found = [item[name] for item in items if isinstance(item, dict) and name in item]
    return found[0] if len(found) == 1 else (found or MISSING)


def passes(value: Any, item: dict) -> bool:
    """Whether a property's value passes one Filter."""
    operator = item.get("Operator", "Equals")
    if operator == "Exists":
        return value is not MISSING
    if operator == "NotExists":
        return value is MISSING
    if value is MISSING:
        return operator == "NotEquals"
    if "Value" not in item:
        raise invalid(f"Filter {item['Name']}: {operator} needs a Value.")
    if isinstance(value, list):  # several elements named alike: any may pass
        return any(passes(v, item) for v in value)
    wanted = item["Value"]
    if operator == "In":
        return any(_equal(value, w.strip()) for w in wanted.split(","))
    if operator == "Equals":
        return _equal(value, wanted)
    if operator == "NotEquals":
        return not _equal(value, wanted)
    if operator == "Contains":
        return isinstance(value, str) and wanted in value
    left, right = _comparable(value, wanted, item["Name"])
    return {
        "GreaterThan": left > right,
        "GreaterThanOrEqualTo": left >= right,
        "LessThan": left < right,
        "LessThanOrEqualTo": left <= right,
    }[operator]


def _equal(value: Any, wanted: str) -> bool:
    if isinstance(value, bool):
        return str(value).lower() == wanted.lower()
    if isinstance(value, (int, float)):
        number = _number(wanted)
        return number is not None and float(value) == number
    return str(value) == wanted


def _comparable(value: Any, wanted: str, name: str) -> tuple[Any, Any]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = _number(wanted)
        if number is None:
            raise invalid(f"Filter {name}: {wanted!r} is not a number or a timestamp.")
        return float(value), number
    return str(value), wanted


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        pass
    try:  # a timestamp in ISO 8601, compared as epoch seconds as the records keep them
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _sortable(value: Any) -> tuple[int, Any]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value))
    return (1, str(value))
