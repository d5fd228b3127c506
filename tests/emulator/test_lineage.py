"""ML Lineage Tracking in the emulator, through boto3: artifacts, actions, contexts, their
associations, and QueryLineage over them."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from test_server import client


@pytest.fixture()
def sm(server):
    return client(server, "sagemaker")


def code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def artifact(sm, uri: str, kind: str = "DataSet") -> str:
    return sm.create_artifact(Source={"SourceUri": uri}, ArtifactType=kind)["ArtifactArn"]


def test_an_artifact_is_created_described_listed_and_deleted(sm):
    arn = sm.create_artifact(
        ArtifactName="points",
        Source={"SourceUri": "file:data/points.csv"},
        ArtifactType="DataSet",
        Properties={"rows": "100"},
    )["ArtifactArn"]
    assert ":artifact/" in arn
    found = sm.describe_artifact(ArtifactArn=arn)
    assert found["ArtifactName"] == "points" and found["Properties"] == {"rows": "100"}
    artifact(sm, "file:model.tar.gz", "Model")
    listed = sm.list_artifacts(ArtifactType="DataSet")["ArtifactSummaries"]
    assert [a["ArtifactArn"] for a in listed] == [arn]
    by_uri = sm.list_artifacts(SourceUri="file:model.tar.gz")["ArtifactSummaries"]
    assert [a["ArtifactType"] for a in by_uri] == ["Model"]
    assert sm.delete_artifact(ArtifactArn=arn)["ArtifactArn"] == arn
    with pytest.raises(ClientError) as excinfo:
        sm.describe_artifact(ArtifactArn=arn)
    assert code(excinfo) == "ResourceNotFound"


def test_actions_and_contexts_are_named_and_a_name_is_taken_once(sm):
    action = sm.create_action(
        ActionName="deploy", Source={"SourceUri": "file:x"}, ActionType="ModelDeployment",
        Status="Completed",
    )["ActionArn"]  # fmt: skip
    assert action.endswith(":action/deploy")
    assert sm.describe_action(ActionName="deploy")["Status"] == "Completed"
    with pytest.raises(ClientError) as excinfo:
        sm.create_action(ActionName="deploy", Source={"SourceUri": "x"}, ActionType="T")
    assert code(excinfo) == "ValidationException"
    context = sm.create_context(
        ContextName="churn-api", Source={"SourceUri": "arn:endpoint"}, ContextType="Endpoint"
    )["ContextArn"]
    assert sm.describe_context(ContextName="churn-api")["ContextArn"] == context
    listed = sm.list_contexts(ContextType="Endpoint")["ContextSummaries"]
    assert [c["ContextName"] for c in listed] == ["churn-api"]
    assert sm.list_actions()["ActionSummaries"][0]["ActionName"] == "deploy"
    sm.delete_action(ActionName="deploy")
    sm.delete_context(ContextName="churn-api")
    assert sm.list_actions()["ActionSummaries"] == []
    with pytest.raises(ClientError) as excinfo:
        sm.describe_context(ContextName="churn-api")
    assert code(excinfo) == "ResourceNotFound"


def test_associations_are_added_listed_and_deleted(sm):
    data, model = artifact(sm, "file:data.csv"), artifact(sm, "file:model.tar.gz", "Model")
    sm.add_association(SourceArn=data, DestinationArn=model, AssociationType="ContributedTo")
    (found,) = sm.list_associations(SourceArn=data)["AssociationSummaries"]
    assert found["DestinationArn"] == model and found["AssociationType"] == "ContributedTo"
    assert found["SourceType"] == "DataSet" and found["DestinationType"] == "Model"
    assert sm.list_associations(DestinationType="DataSet")["AssociationSummaries"] == []
    sm.delete_association(SourceArn=data, DestinationArn=model)
    assert sm.list_associations()["AssociationSummaries"] == []
    with pytest.raises(ClientError) as excinfo:
        sm.delete_association(SourceArn=data, DestinationArn=model)
    assert code(excinfo) == "ResourceNotFound"


def test_an_association_needs_both_ends_to_exist(sm):
    data = artifact(sm, "file:data.csv")
    missing = data.rsplit("/", 1)[0] + "/" + "0" * 32
    with pytest.raises(ClientError) as excinfo:
        sm.add_association(SourceArn=data, DestinationArn=missing)
    assert code(excinfo) == "ResourceNotFound"


def test_deleting_an_entity_deletes_its_associations(sm):
    data, model = artifact(sm, "file:data.csv"), artifact(sm, "file:model.tar.gz", "Model")
    sm.add_association(SourceArn=data, DestinationArn=model)
    sm.delete_artifact(Source={"SourceUri": "file:data.csv"})
    assert sm.list_associations()["AssociationSummaries"] == []


@pytest.fixture()
def chain(sm):
    """raw data -> prepared data -> model -> package, each contributing to the next."""
    arns = [
        artifact(sm, "file:raw.csv"),
        artifact(sm, "file:prepared/"),
        artifact(sm, "file:model.tar.gz", "Model"),
        artifact(sm, "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1", "ModelPackage"),
    ]
    for source, destination in zip(arns, arns[1:], strict=False):
        sm.add_association(
            SourceArn=source, DestinationArn=destination, AssociationType="ContributedTo"
        )
    return arns


def test_lineage_of_a_version_reaches_its_data_upstream(sm, chain):
    raw, prepared, model, package = chain
    found = sm.query_lineage(StartArns=[package], Direction="Ascendants", IncludeEdges=True)
    assert [v["Arn"] for v in found["Vertices"]] == [model, prepared, raw]
    assert {(e["SourceArn"], e["DestinationArn"]) for e in found["Edges"]} == {
        (raw, prepared), (prepared, model), (model, package),
    }  # fmt: skip
    assert found["Vertices"][0] == {"Arn": model, "Type": "Model", "LineageType": "Artifact"}
    downstream = sm.query_lineage(StartArns=[package], Direction="Descendants")
    assert downstream["Vertices"] == []


def test_lineage_stops_at_max_depth_and_keeps_what_the_filters_ask(sm, chain):
    raw, prepared, model, package = chain
    near = sm.query_lineage(StartArns=[package], Direction="Ascendants", MaxDepth=1)
    assert [v["Arn"] for v in near["Vertices"]] == [model]
    data = sm.query_lineage(
        StartArns=[package],
        Direction="Ascendants",
        IncludeEdges=False,
        Filters={"Types": ["DataSet"]},
    )
    assert [v["Arn"] for v in data["Vertices"]] == [prepared, raw]
    assert "Edges" not in data or data["Edges"] == []
    with_path = sm.query_lineage(
        StartArns=[package], Direction="Ascendants", Filters={"Types": ["DataSet"]}
    )
    # The entities on the way to what matched come too, with the edges between them.
    assert {v["Arn"] for v in with_path["Vertices"]} == {model, prepared, raw}


def test_lineage_of_an_unknown_entity_is_not_found(sm):
    with pytest.raises(ClientError) as excinfo:
        sm.query_lineage(StartArns=["arn:aws:sagemaker:us-east-1:123456789012:action/nope"])
    assert code(excinfo) == "ResourceNotFound"
