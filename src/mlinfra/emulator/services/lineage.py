"""ML Lineage Tracking: artifacts, actions, contexts, the associations between them, and
QueryLineage over that graph.

An association is an edge `SourceArn -> DestinationArn` (what contributed to, produced or
is associated with what) between artifacts, actions, contexts, experiments and trial
components. The edges are kept in the store and, for QueryLineage, in an index of each
entity's incoming and outgoing edges, built on first use and kept current by every
AddAssociation and DeleteAssociation: a walk from a model package to its data reads only
the edges on its way, never the whole graph. Deleting an entity deletes its edges.

`track` is what SageMaker itself writes when something it tracks happens (a model package
registered, an endpoint deployed, a pipeline's jobs run; `services/tracking.py`): an
artifact per source URI and type, reused when it exists, as SageMaker "reuses any existing
entities rather than creating new ones".
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from typing import Any

from mlinfra.emulator.kit.arns import arn
from mlinfra.emulator.kit.errors import invalid, not_found
from mlinfra.emulator.kit.records import Kind, Listing, created_between, output
from mlinfra.emulator.kit.times import epoch
from mlinfra.emulator.store import Store

ARTIFACT = "artifact"
ACTION = "action"
CONTEXT = "context"
ASSOCIATION = "association"
TRIAL_COMPONENT = "experiment-trial-component"
EXPERIMENT = "experiment"
ASSOCIATED_KINDS = (EXPERIMENT, TRIAL_COMPONENT, ARTIFACT, ACTION, CONTEXT)
# QueryLineage's MaxDepth when the request gives none (botocore's model: at most 10).
DEFAULT_DEPTH = 10
# Which store record holds an entity of each ARN kind, and its vertex's lineage type.
LINEAGE_TYPES = {
    ARTIFACT: "Artifact",
    ACTION: "Action",
    CONTEXT: "Context",
    TRIAL_COMPONENT: "TrialComponent",
}
TYPE_FIELDS = {ARTIFACT: "ArtifactType", ACTION: "ActionType", CONTEXT: "ContextType"}
# A trial component's vertex type: the job it stands for (`LineageSourceEnum` of the SDK).
JOB_TYPES = {
    "SageMakerTrainingJob": "TrainingJob",
    "SageMakerProcessingJob": "ProcessingJob",
    "SageMakerTransformJob": "TransformJob",
}


def _edge_key(source: str, destination: str) -> str:
    return f"{source} {destination}"


class Lineage:
    """The lineage operations over the control plane's store.

    `trial_component` answers a trial component's record by name (the experiments service
    keeps them), or None."""

    OPERATIONS = (
        "CreateArtifact", "DescribeArtifact", "ListArtifacts", "DeleteArtifact",
        "CreateAction", "DescribeAction", "ListActions", "DeleteAction",
        "CreateContext", "DescribeContext", "ListContexts", "DeleteContext",
        "AddAssociation", "DeleteAssociation", "ListAssociations", "QueryLineage",
    )  # fmt: skip
    KINDS = (
        Kind(ARTIFACT, "ArtifactArn", lambda r: r["ArtifactArn"].rsplit("/", 1)[-1]),
        Kind(ACTION, "ActionArn", lambda r: r["ActionName"]),
        Kind(CONTEXT, "ContextArn", lambda r: r["ContextName"]),
    )

    def __init__(
        self,
        store: Store,
        listing: Listing,
        trial_component: Callable[[str], dict | None],
        experiment: Callable[[str], dict | None],
    ) -> None:
        self.store = store
        self.listing = listing
        self.trial_component = trial_component
        self.experiment = experiment
        self._outgoing: dict[str, dict[str, str]] | None = None  # source -> {dest: type}
        self._incoming: dict[str, dict[str, str]] = {}  # destination -> {source: type}

    # --- artifacts, actions, contexts ------------------------------------------------------

    def create_artifact(self, p: dict, region: str) -> dict:
        return {"ArtifactArn": self._create_artifact(p, region, secrets.token_hex(16))}

    def describe_artifact(self, p: dict, region: str) -> dict:
        return output("DescribeArtifact", self._artifact(p["ArtifactArn"]))

    def list_artifacts(self, p: dict, region: str) -> dict:
        return self._list("ListArtifacts", ARTIFACT, "ArtifactType", p)

    def delete_artifact(self, p: dict, region: str) -> dict:
        if "ArtifactArn" in p:
            record = self._artifact(p["ArtifactArn"])
        elif "Source" in p:
            uri = p["Source"]["SourceUri"]
            record = next(
                (r for r in self.store.all(ARTIFACT) if r["Source"]["SourceUri"] == uri), None
            )
            if record is None:
                raise not_found(f"Artifact with SourceUri {uri} does not exist.")
        else:
            raise invalid("Either ArtifactArn or Source must be specified.")
        self._forget(record["ArtifactArn"])
        self.store.delete(ARTIFACT, record["ArtifactArn"].rsplit("/", 1)[-1])
        return {"ArtifactArn": record["ArtifactArn"]}

    def create_action(self, p: dict, region: str) -> dict:
        record = self._create_named(ACTION, "ActionName", "ActionArn", p, region)
        return {"ActionArn": record["ActionArn"]}

    def describe_action(self, p: dict, region: str) -> dict:
        return output("DescribeAction", self._named(ACTION, "ActionName", p["ActionName"]))

    def list_actions(self, p: dict, region: str) -> dict:
        return self._list("ListActions", ACTION, "ActionType", p)

    def delete_action(self, p: dict, region: str) -> dict:
        record = self._named(ACTION, "ActionName", p["ActionName"])
        self._forget(record["ActionArn"])
        self.store.delete(ACTION, record["ActionName"])
        return {"ActionArn": record["ActionArn"]}

    def create_context(self, p: dict, region: str) -> dict:
        record = self._create_named(CONTEXT, "ContextName", "ContextArn", p, region)
        return {"ContextArn": record["ContextArn"]}

    def describe_context(self, p: dict, region: str) -> dict:
        return output("DescribeContext", self._named(CONTEXT, "ContextName", p["ContextName"]))

    def list_contexts(self, p: dict, region: str) -> dict:
        return self._list("ListContexts", CONTEXT, "ContextType", p)

    def delete_context(self, p: dict, region: str) -> dict:
        record = self._named(CONTEXT, "ContextName", p["ContextName"])
        self._forget(record["ContextArn"])
        self.store.delete(CONTEXT, record["ContextName"])
        return {"ContextArn": record["ContextArn"]}

    # --- associations ----------------------------------------------------------------------

    def add_association(self, p: dict, region: str) -> dict:
        source, destination = p["SourceArn"], p["DestinationArn"]
        for entity in (source, destination):
            self.vertex(entity)  # ResourceNotFound for an entity that does not exist
        kind = p.get("AssociationType", "AssociatedWith")
        now = time.time()
        record = {
            "SourceArn": source,
            "DestinationArn": destination,
            "AssociationType": kind,
            "CreationTime": now,
        }
        self._index()
        self.store.put(ASSOCIATION, _edge_key(source, destination), record, now)
        self._link(source, destination, kind)
        return {"SourceArn": source, "DestinationArn": destination}

    def delete_association(self, p: dict, region: str) -> dict:
        source, destination = p["SourceArn"], p["DestinationArn"]
        if not self.store.delete(ASSOCIATION, _edge_key(source, destination)):
            raise not_found(f"Association {source} -> {destination} does not exist.")
        self._unlink(source, destination)
        return {"SourceArn": source, "DestinationArn": destination}

    def list_associations(self, p: dict, region: str) -> dict:
        records = self.store.all(ASSOCIATION)
        for field in ("SourceArn", "DestinationArn", "AssociationType"):
            if field in p:
                records = [r for r in records if r[field] == p[field]]
        records = created_between(records, p)
        summaries = []
        for record in records:
            source, destination = (
                self.vertex(record["SourceArn"]),
                self.vertex(record["DestinationArn"]),
            )
            summary = dict(
                record,
                SourceType=source["Type"],
                DestinationType=destination["Type"],
                SourceName=source["_Name"],
                DestinationName=destination["_Name"],
            )
            summaries.append(summary)
        for field in ("SourceType", "DestinationType"):
            if field in p:
                summaries = [s for s in summaries if s[field] == p[field]]
        sort_by = p.get("SortBy", "CreationTime")
        summaries.sort(key=lambda s: s.get(sort_by) or "")
        if p.get("SortOrder", "Descending") == "Descending":
            summaries.reverse()
        return self.listing.page("ListAssociations", summaries, p)

    def query_lineage(self, p: dict, region: str) -> dict:
        """The entities connected to the start entity (not itself) that match the filters;
        with IncludeEdges (the default, as the SDK's), also the entities and associations on
        the way to each of them."""
        starts = p.get("StartArns") or []
        if not starts:
            raise invalid("StartArns must name the entity whose lineage to query.")
        direction = p.get("Direction", "Both")
        self._index()
        vertices: dict[str, dict] = {start: self.vertex(start) for start in starts}
        # How each entity was first reached: the entity before it and the edge between.
        reached: dict[str, tuple[str, dict]] = {}
        traversed: dict[tuple[str, str], dict] = {}  # every edge the walk went along
        frontier = list(starts)
        for _ in range(p.get("MaxDepth", DEFAULT_DEPTH)):
            following = []
            for entity in frontier:
                for source, destination, kind in self._neighbours(entity, direction):
                    other = source if destination == entity else destination
                    edge = {"SourceArn": source, "DestinationArn": destination}
                    traversed[(source, destination)] = dict(edge, AssociationType=kind)
                    if other in vertices:
                        continue
                    vertices[other] = self.vertex(other)
                    reached[other] = (entity, traversed[(source, destination)])
                    following.append(other)
            frontier = following
            if not frontier:
                break
        filters = p.get("Filters") or {}
        matched = [a for a in reached if _kept(vertices[a], filters)]
        if not p.get("IncludeEdges", True):
            return output("QueryLineage", {"Vertices": [_public(vertices[a]) for a in matched]})
        kept: dict[str, None] = dict.fromkeys(starts)
        for entity in matched:
            while entity in reached and entity not in kept:
                kept[entity] = None
                entity = reached[entity][0]
        # The associations between what is returned (the start included), as walked.
        edges = [e for (s, d), e in traversed.items() if s in kept and d in kept]
        result = {
            "Vertices": [_public(vertices[a]) for a in reached if a in kept],
            "Edges": edges,
        }
        return output("QueryLineage", result)

    # --- what SageMaker writes itself ------------------------------------------------------

    def track(self, kind: str, uri: str, region: str, sha256: str = "") -> str:
        """The artifact of type `kind` at `uri` with content hash `sha256` (if known),
        created unless it exists; its ARN."""
        identity = hashlib.sha256(f"{kind}\0{uri}\0{sha256}".encode()).hexdigest()[:32]
        existing = self.store.get(ARTIFACT, identity)
        if existing is not None:
            return existing["ArtifactArn"]
        source: dict[str, Any] = {"SourceUri": uri}
        if sha256:
            source["SourceTypes"] = [{"SourceIdType": "Custom", "Value": f"sha256:{sha256}"}]
        return self._create_artifact({"Source": source, "ArtifactType": kind}, region, identity)

    def context(self, name: str, kind: str, uri: str, region: str) -> str:
        """The context `name` of type `kind`, created unless it exists; its ARN."""
        existing = self.store.get(CONTEXT, name)
        if existing is not None:
            return existing["ContextArn"]
        request = {"ContextName": name, "ContextType": kind, "Source": {"SourceUri": uri}}
        return self._create_named(CONTEXT, "ContextName", "ContextArn", request, region)[
            "ContextArn"
        ]

    def action(self, name: str, kind: str, uri: str, region: str, status: str) -> str:
        """Action `name` of type `kind` (a deployment, a registration), created or its
        status updated; its ARN."""
        existing = self.store.get(ACTION, name)
        if existing is not None:
            existing.update(Status=status, LastModifiedTime=time.time())
            self.store.put(ACTION, name, existing, existing["CreationTime"])
            return existing["ActionArn"]
        request = {
            "ActionName": name,
            "ActionType": kind,
            "Source": {"SourceUri": uri},
            "Status": status,
        }
        return self._create_named(ACTION, "ActionName", "ActionArn", request, region)["ActionArn"]

    def associate(self, source: str, destination: str, kind: str) -> None:
        """An edge SageMaker records itself; nothing if it is there already."""
        self._index()
        if self._outgoing is not None and destination in self._outgoing.get(source, {}):
            return
        self.add_association(
            {"SourceArn": source, "DestinationArn": destination, "AssociationType": kind}, ""
        )

    def forget(self, entity: str) -> None:
        """Drop every edge of `entity` (a trial component or experiment being deleted)."""
        self._forget(entity)

    # --- vertices --------------------------------------------------------------------------

    def vertex(self, entity: str) -> dict:
        """What QueryLineage says of an entity (plus its `_Name` and `_Created` times);
        ResourceNotFound if there is none."""
        kind, _, name = entity.split(":", 5)[-1].partition("/")
        record: dict | None = None
        if kind == ARTIFACT:
            record = self.store.get(ARTIFACT, name)
        elif kind in (ACTION, CONTEXT):
            record = self.store.get(kind, name)
        elif kind == TRIAL_COMPONENT:
            record = self.trial_component(name)
        elif kind == EXPERIMENT:
            record = self.experiment(name)
        if record is None or kind not in ASSOCIATED_KINDS:
            raise not_found(f"Entity {entity} does not exist.")
        if kind == TRIAL_COMPONENT:
            source = (record.get("Source") or {}).get("SourceType", "")
            vertex_type = JOB_TYPES.get(source, source)
        else:
            vertex_type = record.get(TYPE_FIELDS.get(kind, ""), "")
        return {
            "Arn": entity,
            "Type": vertex_type,
            "LineageType": LINEAGE_TYPES.get(kind),
            "_Name": record.get("ArtifactName") or record.get(f"{_noun(kind)}Name") or name,
            "_Created": record.get("CreationTime", 0),
            "_Modified": record.get("LastModifiedTime", record.get("CreationTime", 0)),
            "_Properties": record.get("Properties") or {},
        }

    # --- helpers ---------------------------------------------------------------------------

    def _create_artifact(self, p: dict, region: str, identity: str) -> str:
        now = time.time()
        record = dict(p, ArtifactArn=arn(region, ARTIFACT, identity))
        record.update(CreationTime=now, LastModifiedTime=now)
        self.store.put(ARTIFACT, identity, record, now)
        return record["ArtifactArn"]

    def _create_named(self, kind: str, name_field: str, arn_field: str, p: dict, region: str):
        name = p[name_field]
        if self.store.get(kind, name):
            raise invalid(f"{_noun(kind)} {name} already exists.")
        now = time.time()
        record = dict(p, CreationTime=now, LastModifiedTime=now)
        record[arn_field] = arn(region, kind, name)
        self.store.put(kind, name, record, now)
        return record

    def _artifact(self, artifact_arn: str) -> dict:
        record = self.store.get(ARTIFACT, artifact_arn.rsplit("/", 1)[-1])
        if record is None or record["ArtifactArn"] != artifact_arn:
            raise not_found(f"Artifact {artifact_arn} does not exist.")
        return record

    def _named(self, kind: str, name_field: str, name_or_arn: str) -> dict:
        name = name_or_arn.rsplit(f":{kind}/", 1)[-1]
        record = self.store.get(kind, name)
        if record is None:
            raise not_found(f"{_noun(kind)} {name_or_arn} does not exist.")
        return record

    def _list(self, operation: str, kind: str, type_field: str, p: dict) -> dict:
        records = self.store.all(kind)
        if "SourceUri" in p:
            records = [r for r in records if r["Source"]["SourceUri"] == p["SourceUri"]]
        if type_field in p:
            records = [r for r in records if r.get(type_field) == p[type_field]]
        records = created_between(records, p)
        records.sort(key=lambda r: r["CreationTime"])
        if p.get("SortOrder", "Descending") == "Descending":
            records.reverse()
        return self.listing.page(operation, records, p)

    def _index(self) -> None:
        if self._outgoing is not None:
            return
        self._outgoing = {}
        for record in self.store.all(ASSOCIATION):
            self._link(record["SourceArn"], record["DestinationArn"], record["AssociationType"])

    def _link(self, source: str, destination: str, kind: str) -> None:
        if self._outgoing is None:
            return
        self._outgoing.setdefault(source, {})[destination] = kind
        self._incoming.setdefault(destination, {})[source] = kind

    def _unlink(self, source: str, destination: str) -> None:
        if self._outgoing is None:
            return
        self._outgoing.get(source, {}).pop(destination, None)
        self._incoming.get(destination, {}).pop(source, None)

    def _neighbours(self, entity: str, direction: str):
        """Edges (source, destination, type) through `entity`, upstream (Ascendants: what
        contributed to it), downstream (Descendants) or both."""
        assert self._outgoing is not None
        if direction in ("Ascendants", "Both"):
            for source, kind in self._incoming.get(entity, {}).items():
                yield source, entity, kind
        if direction in ("Descendants", "Both"):
            for destination, kind in self._outgoing.get(entity, {}).items():
                yield entity, destination, kind

    def _forget(self, entity: str) -> None:
        self._index()
        assert self._outgoing is not None
        edges = [(entity, d) for d in self._outgoing.get(entity, {})]
        edges += [(s, entity) for s in self._incoming.get(entity, {})]
        for source, destination in edges:
            self.store.delete(ASSOCIATION, _edge_key(source, destination))
            self._unlink(source, destination)


def _noun(kind: str) -> str:
    return {"experiment-trial-component": "TrialComponent"}.get(kind, kind.capitalize())


def _kept(vertex: dict, filters: dict) -> bool:
    """Whether a vertex passes QueryLineage's `Filters` (each given filter must hold)."""
    if "Types" in filters and vertex["Type"] not in filters["Types"]:
        return False
    if "LineageTypes" in filters and vertex["LineageType"] not in filters["LineageTypes"]:
        return False
    bounds = (
        ("CreatedBefore", "_Created", lambda v, t: v < t),
        ("CreatedAfter", "_Created", lambda v, t: v > t),
        ("ModifiedBefore", "_Modified", lambda v, t: v < t),
        ("ModifiedAfter", "_Modified", lambda v, t: v > t),
    )
    for name, field, test in bounds:
        if name in filters and not test(vertex[field], epoch(filters[name])):
            return False
    wanted = filters.get("Properties") or {}
    return all(vertex["_Properties"].get(k) == v for k, v in wanted.items())


def _public(vertex: dict) -> dict:
    return {k: v for k, v in vertex.items() if not k.startswith("_")}
