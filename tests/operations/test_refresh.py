"""Refresh: what was deleted outside mlinfra is dropped from the state, what was changed is
reported; both as a `Drift` event."""

from __future__ import annotations

from operations_project import Recorder, validated

from mlinfra.operations import progress as events
from mlinfra.operations.apply import ApplyRequest, apply
from mlinfra.operations.emulator import client
from mlinfra.operations.progress import quiet, yes
from mlinfra.operations.refresh import RefreshRequest, refresh
from mlinfra.plan.model import DELETE


def test_refresh_drops_what_was_deleted_and_reports_what_was_changed(shop) -> None:
    validation = validated(shop)
    assert apply(ApplyRequest(validation, str(shop), "local"), quiet, yes).ok
    first = Recorder()
    found = refresh(RefreshRequest(validation, str(shop), "local"), first)
    assert found.drift == () and found.gone == ()
    (drift,) = first.of(events.Drift)
    assert drift.changes == () and drift.seen == len(found.state.resources)

    sagemaker = client(str(shop), "us-east-1")
    sagemaker.delete_feature_group(FeatureGroupName="shop-local-customers")
    arn = sagemaker.describe_endpoint(EndpointName="shop-local-scorer-api")["EndpointArn"]
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "owner", "Value": "someone"}])
    second = Recorder()
    found = refresh(RefreshRequest(validation, str(shop), "local"), second)

    assert found.gone == ("feature_store.customers",)
    assert "feature_store.customers" not in found.state.resources
    actions = {c.address: c.action for c in found.drift}
    assert actions["feature_store.customers"] == DELETE
    assert actions["endpoint.scorer-api"] != DELETE
    (drift,) = second.of(events.Drift)
    assert drift.gone == found.gone and drift.target == "local"
