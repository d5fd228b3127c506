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
from functools import cache
from typing import Any

from botocore.model import Shape

from mlinfra.emulator.kit.errors import invalid
from mlinfra.emulator.kit.records import Listing
from mlinfra.emulator.protocol import CONTROL_SERVICE, project
from mlinfra.emulator.store import Store
from mlinfra.sagemaker import resources
from mlinfra.sagemaker.api import service_model

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


@cache
def record_shape(member: str) -> Shape:
    """The shape of a SearchRecord's member, resolved once: projecting onto the same shape
    objects reuses what `project` learnt of them."""
    return service_model(CONTROL_SERVICE).shape_for("SearchRecord").members[member]


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
        # Each trial component's flattened view, kept while its record is the same object
        # (the experiments service replaces a record when it changes): Search reads tens of
        # thousands of them, and flattening is most of the work.
        self._views: dict[str, tuple[dict, Record]] = {}
        self._listed: tuple[int, list[Record]] | None = None  # (store version, views)

    def search(self, p: dict, region: str) -> dict:
        resource = p["Resource"]
        if resource not in RESOURCES:
            raise invalid(
                f"Search over {resource} is not supported by the mlinfra local emulator. "
                f"Supported: {', '.join(sorted(RESOURCES))}."
            )
        member, kind = RESOURCES[resource]
        views = self._records(resource, kind)
        expression = p.get("SearchExpression")
        if expression:
            test = compiled(expression)
            views = [view for view in views if test(view)]
        sort_by = p.get("SortBy", "LastModifiedTime")
        keyed = [(view.get(sort_by, MISSING), view.record) for view in views]
        have = [(key, r) for key, r in keyed if key is not MISSING]
        lack = [r for key, r in keyed if key is MISSING]
        have.sort(key=lambda pair: _sortable(pair[0]))
        if p.get("SortOrder", "Descending") == "Descending":
            have.reverse()
        ordered = [r for _, r in have] + lack  # what has no such property comes last
        page, token = self.listing.pager.page("Search", ordered, p)
        result: dict[str, Any] = {
            "Results": [{member: project(record, record_shape(member))} for record in page],
            "TotalHits": {"Value": len(ordered), "Relation": "EqualTo"},
        }
        if token is not None:
            result["NextToken"] = token
        return result

    def _records(self, resource: str, kind: str) -> list[Record]:
        """Every record of a resource, flattened; trial components' views are kept while the
        store says no trial component changed, and each one while its record is the same."""
        if resource != "ExperimentTrialComponent":
            return [Record(r) for r in self.store.all(kind)]
        version = self.store.writes(kind)
        if self._listed is not None and self._listed[0] == version:
            return self._listed[1]
        views: dict[str, tuple[dict, Record]] = {}
        for record in self.trial_components():
            name = record["TrialComponentName"]
            cached = self._views.get(name)
            if cached is None or cached[0] is not record:
                cached = (record, Record(record))
            views[name] = cached
        self._views = views  # deleted ones go
        self._listed = (version, [view for _, view in views.values()])
        return self._listed[1]


class Record(dict):
    """A record's properties by path (`Parameters.C`, `Metrics.accuracy.Max`, `Tags.team`,
    `Parents.TrialName`), with the record itself; a path the record lacks is absent."""

    def __init__(self, record: dict) -> None:
        super().__init__()
        self.record = record
        self._add(record, "")

    def _add(self, value: Any, path: str) -> None:
        if path:
            self._put(path, value)
        if isinstance(value, dict):
            for key, item in value.items():
                self._add(item, f"{path}.{key}" if path else key)
        elif isinstance(value, list):
            for item in value:
                named = _named(item)
                if named is not None:
                    self._add(named[1], f"{path}.{named[0]}")
                elif isinstance(item, dict):  # a plain structure: its fields, gathered
                    for key, field in item.items():
                        self._gather(f"{path}.{key}", field)

    def _put(self, path: str, value: Any) -> None:
        if isinstance(value, dict):
            for field in PARAMETER_VALUES:  # a parameter: {"NumberValue": 0.5}
                if field in value:
                    value = value[field]
                    break
        if value is not None:
            self[path] = value

    def _gather(self, path: str, value: Any) -> None:
        if path in self:
            earlier = self[path]
            self[path] = [*(earlier if isinstance(earlier, list) else [earlier]), value]
        else:
            self[path] = value


def _named(item: Any) -> tuple[str, Any] | None:
    """A list element named by a field (a metric, a tag, a parameter): its name and what a
    path through the name reaches (a tag's or parameter's value, a metric's summary)."""
    if not isinstance(item, dict):
        return None
    for field in NAMED_ELEMENTS:
        if isinstance(item.get(field), str):
            return item[field], item.get("Value", item) if field in ("Key", "Name") else item
    return None


Predicate = Callable[[Any], bool]


def compiled(expression: dict) -> Predicate:
    """A SearchExpression as one test of a record, its paths split and its values parsed
    once: Search runs it on every record it holds."""
    tests = [_filter(item) for item in expression.get("Filters", ())]
    tests += [_nested(nested) for nested in expression.get("NestedFilters", ())]
    tests += [compiled(sub) for sub in expression.get("SubExpressions", ())]
    if not tests:
        return lambda record: True
    if len(tests) == 1:
        return tests[0]
    if expression.get("Operator", "And") == "Or":

        def some(record: Any) -> bool:
            for test in tests:
                if test(record):
                    return True
            return False

        return some

    def every(record: Any) -> bool:
        for test in tests:
            if not test(record):
                return False
        return True

    return every


def _nested(nested: dict) -> Predicate:
    name = nested["NestedPropertyName"]
    if len(nested["Filters"]) == 1:
        # One filter holds for some element exactly when it holds for the values the
        # elements have at its path, which the flattened record gathers.
        return _filter(nested["Filters"][0])
    container = _getter(name, unwrap=False)
    prefix = name + "."
    each = [_filter(f, f["Name"].removeprefix(prefix), unwrap=False) for f in nested["Filters"]]

    def test(record: Any) -> bool:
        found = container(record.record if isinstance(record, Record) else record)
        if isinstance(found, dict):
            elements = list(found.values())
        elif isinstance(found, list):
            elements = found
        else:
            return False
        return any(all(t(element) for t in each) for element in elements)

    return test


def _getter(path: str, unwrap: bool = True) -> Callable[[Any], Any]:
    parts = path.split(".")
    if len(parts) == 1 and not unwrap:  # a field of a structure: the nested filters' case

        def field(record: Any) -> Any:
            value = record.get(path, MISSING) if record.__class__ is dict else MISSING
            return MISSING if value is None else value

        return field

    def get(record: Any) -> Any:
        value = record
        for part in parts:
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

    return get


def _element(items: list, name: str) -> Any:
    for item in items:
        if isinstance(item, dict):
            for field in NAMED_ELEMENTS:
                if item.get(field) == name:
                    return item.get("Value", item) if field in ("Key", "Name") else item
    # A list of plain structures (a trial component's Parents): each one's field `name`.
    found = [item[name] for item in items if isinstance(item, dict) and name in item]
    return found[0] if len(found) == 1 else (found or MISSING)


def _filter(item: dict, path: str | None = None, unwrap: bool = True) -> Predicate:
    """One Filter as a test of a record (of an element, with `path` relative to it)."""
    key = item["Name"] if path is None else path
    get = _getter(key, unwrap)
    operator = item.get("Operator", "Equals")

    def found(record: Any) -> Any:
        return record.get(key, MISSING) if isinstance(record, Record) else get(record)

    if operator == "Exists":
        return lambda record: found(record) is not MISSING
    if operator == "NotExists":
        return lambda record: found(record) is MISSING
    if "Value" not in item:
        raise invalid(f"Filter {item['Name']}: {operator} needs a Value.")
    wanted = item["Value"]
    number = _number(wanted)
    compare = COMPARE.get(operator)

    def test(value: Any) -> bool:
        if isinstance(value, list):  # several elements named alike: any may pass
            return any(test(v) for v in value)
        if operator == "In":
            return any(_equal(value, w.strip(), _number(w.strip())) for w in wanted.split(","))
        if operator == "Equals":
            return _equal(value, wanted, number)
        if operator == "NotEquals":
            return not _equal(value, wanted, number)
        if operator == "Contains":
            return isinstance(value, str) and wanted in value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if number is None:
                raise invalid(f"Filter {item['Name']}: {wanted!r} is not a number or a timestamp.")
            return compare(float(value), number)
        return compare(str(value), wanted)

    # A number against a number, the most common test, in one call of the float's own method.
    fast = None if number is None else FAST.get(operator, lambda n: None)(number)
    text = {"Equals": wanted.__eq__, "NotEquals": wanted.__ne__}.get(operator)

    def passes(record: Any) -> bool:
        value = record.get(key, MISSING) if record.__class__ is Record else get(record)
        if value is MISSING:
            return operator == "NotEquals"
        if fast is not None and value.__class__ is float:
            return fast(value)
        if text is not None and value.__class__ is str:
            return text(value)
        return test(value)

    return passes


FAST: dict[str, Callable[[float], Callable[[float], bool]]] = {
    "Equals": lambda n: n.__eq__,
    "NotEquals": lambda n: n.__ne__,
    "GreaterThan": lambda n: n.__lt__,  # value > n  <=>  n < value
    "GreaterThanOrEqualTo": lambda n: n.__le__,
    "LessThan": lambda n: n.__gt__,
    "LessThanOrEqualTo": lambda n: n.__ge__,
}
COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanOrEqualTo": lambda a, b: a >= b,
    "LessThan": lambda a, b: a < b,
    "LessThanOrEqualTo": lambda a, b: a <= b,
}


def _equal(value: Any, wanted: str, number: float | None) -> bool:
    """Whether a value equals a filter's text (`number`: that text as a number, if it is)."""
    if isinstance(value, bool):
        return str(value).lower() == wanted.lower()
    if isinstance(value, (int, float)):
        return number is not None and float(value) == number
    return str(value) == wanted


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
