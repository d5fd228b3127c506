"""What made what serves (`mlinfra lineage`): from an endpoint or a model version, back
through the version, the training job that produced its model, the jobs before it, to the
data, code and parameters they read, as SageMaker's lineage tracking records them.

The start is the entity SageMaker tracks for it (an endpoint's `Endpoint` context, a
version's `ModelPackage` artifact, each found by its source URI, the resource's ARN);
QueryLineage walks upstream from it (`Ascendants`) and each entity is described for what a
reader needs: an artifact's location, a job's parameters and metrics. The emulator records
lineage as SageMaker does (`emulator/services/tracking.py`); on SageMaker this reads, with
the user's credentials, what SageMaker recorded, and writes nothing.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from mlinfra.operations.emulator import call, component, named
from mlinfra.operations.environment import environment
from mlinfra.operations.errors import OperationError
from mlinfra.operations.registry import clients, open_registry

MAX_DEPTH = 10  # botocore: QueryLineageMaxDepth
DESCRIBERS = 8  # calls in flight at once
KINDS = ("artifact", "action", "context", "experiment-trial-component")


@dataclass(frozen=True)
class LineageRequest:
    validation: object  # the valid spec (`spec.validate.Validation`)
    spec_file: str
    env: str
    address: str | None = None  # `endpoint.NAME`
    model: str | None = None  # with `version`
    version: int | None = None


@dataclass(frozen=True)
class Entity:
    """One tracked entity: an artifact (data, code, a model, a version), an action (a
    deployment), a context (an endpoint) or a job's trial component."""

    arn: str
    kind: str  # artifact | action | context | experiment-trial-component
    type: str  # Model, DataSet, Code, ModelPackage, ModelDeployment, Endpoint, TrainingJob...
    name: str
    uri: str | None = None  # what it stands for: a location, a job's or endpoint's ARN
    parameters: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Lineage:
    """The entities upstream of `root` and the associations between them (source made, or
    contributed to, destination)."""

    root: str
    entities: dict[str, Entity]
    edges: tuple[tuple[str, str, str], ...]  # (source, destination, association type)

    def inputs_of(self, arn: str) -> list[str]:
        """What contributed to `arn`, in a stable order."""
        return sorted(s for s, d, _ in self.edges if d == arn)

    def to_json(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "entities": [e.to_json() for e in self.entities.values()],
            "edges": [{"source": s, "destination": d, "type": t} for s, d, t in self.edges],
        }


def lineage(request: LineageRequest) -> Lineage:
    """The lineage of the endpoint or model version the request names."""
    spec = environment(request.validation, request.env, request.spec_file)
    if request.model is not None:
        if request.version is None:
            raise OperationError("--model needs --version N: which version's lineage to show")
        found = open_registry(request.validation, request.env, request.spec_file, request.model)
        sagemaker = found.sagemaker
        uri = found.version_arn(request.version)
        start = _tracked(sagemaker, "list_artifacts", "ArtifactSummaries", "ArtifactArn", uri)
        if start is None:
            uri = found.version(request.version)["ModelPackageArn"]  # or: it has no such version
        what = f"{request.model} version {request.version}"
    else:
        sagemaker, _ = clients(spec, request.spec_file)
        uri, what = _endpoint(spec, request, sagemaker)
        start = _tracked(sagemaker, "list_contexts", "ContextSummaries", "ContextArn", uri)
    if start is None:
        raise OperationError(
            f"no lineage is recorded for {what} ({uri})",
            "SageMaker records it when a pipeline registers a version and when an endpoint is "
            "deployed; one made otherwise has none",
        )
    vertices, edges = _query(sagemaker, start)
    # The descriptions are independent: asked at once, the calls' round trips overlap
    # (boto3 clients may be shared between threads).
    with ThreadPoolExecutor(max_workers=DESCRIBERS) as pool:
        described = pool.map(lambda item: _describe(sagemaker, *item), vertices.items())
        entities = {entity.arn: entity for entity in described}
    return Lineage(start, entities, tuple(sorted(edges)))


def _endpoint(spec: Any, request: LineageRequest, sagemaker: Any) -> tuple[str, str]:
    """The ARN of the endpoint the address names, and how to name it to the user."""
    kind, _, name = (request.address or "").partition(".")
    if kind != "endpoint" or not name:
        raise OperationError(
            f"{request.address!r} is not an endpoint's address",
            "name one as endpoint.NAME, or a version with --model NAME --version N",
        )
    endpoint = component(spec, "endpoint", name, request.spec_file)
    physical = named(spec, endpoint.name, "endpoint")
    described = call(sagemaker.describe_endpoint, EndpointName=physical)
    return described["EndpointArn"], f"endpoint {physical}"


def _tracked(sagemaker: Any, operation: str, key: str, arn_field: str, uri: str) -> str | None:
    """The newest tracked entity whose source is `uri`, or None."""
    found = call(getattr(sagemaker, operation), SourceUri=uri, SortBy="CreationTime")
    summaries = found.get(key) or []
    return summaries[0][arn_field] if summaries else None


def _query(sagemaker: Any, start: str) -> tuple[dict[str, str], set[tuple[str, str, str]]]:
    """Every entity upstream of `start` (ARN -> kind) and the edges between them."""
    vertices: dict[str, str] = {start: _kind(start)}
    edges: set[tuple[str, str, str]] = set()
    request: dict[str, Any] = {
        "StartArns": [start],
        "Direction": "Ascendants",
        "IncludeEdges": True,
        "MaxDepth": MAX_DEPTH,
    }
    while True:
        page = call(sagemaker.query_lineage, **request)
        for vertex in page.get("Vertices") or []:
            vertices[vertex["Arn"]] = _kind(vertex["Arn"])
        for edge in page.get("Edges") or []:
            edges.add((edge["SourceArn"], edge["DestinationArn"], edge.get("AssociationType", "")))
        if not page.get("NextToken"):
            return vertices, edges
        request["NextToken"] = page["NextToken"]


def _kind(arn: str) -> str:
    return arn.split(":", 5)[-1].partition("/")[0]


def _describe(sagemaker: Any, arn: str, kind: str) -> Entity:
    name = arn.rsplit("/", 1)[-1]
    if kind == "artifact":
        found = call(sagemaker.describe_artifact, ArtifactArn=arn)
        uri = (found.get("Source") or {}).get("SourceUri")
        called = found.get("ArtifactName") or name
        return Entity(arn, kind, found.get("ArtifactType", ""), called, uri)
    if kind == "action":
        found = call(sagemaker.describe_action, ActionName=arn)
        uri = (found.get("Source") or {}).get("SourceUri")
        return Entity(arn, kind, found.get("ActionType", ""), found.get("ActionName", name), uri)
    if kind == "context":
        found = call(sagemaker.describe_context, ContextName=arn)
        uri = (found.get("Source") or {}).get("SourceUri")
        return Entity(arn, kind, found.get("ContextType", ""), found.get("ContextName", name), uri)
    if kind == "experiment-trial-component":
        found = call(sagemaker.describe_trial_component, TrialComponentName=arn)
        source = found.get("Source") or {}
        kind_of = source.get("SourceType", "").removeprefix("SageMaker") or "TrialComponent"
        return Entity(
            arn,
            kind,
            kind_of,
            found.get("TrialComponentName", name),
            source.get("SourceArn"),
            parameters={k: parameter_text(v) for k, v in (found.get("Parameters") or {}).items()},
            metrics={
                m["MetricName"]: m["Last"]
                for m in found.get("Metrics") or []
                if isinstance(m.get("Last"), (int, float))
            },
        )
    return Entity(arn, kind, kind, name)


def parameter_text(value: dict[str, Any]) -> str:
    """A trial component's parameter (`{"NumberValue": 0.5}`) as text (`0.5`; `4`, not `4.0`)."""
    if "NumberValue" in value:
        number = value["NumberValue"]
        return str(int(number)) if float(number).is_integer() else str(number)
    return str(value.get("StringValue", ""))
