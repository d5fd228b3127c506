"""`lineage` of an endpoint the local emulator serves: the shop's endpoint, applied for real
(a detached emulator started beside the spec), traced back through its deployment to the
model artifact it serves."""

from __future__ import annotations

from operations_project import validated

from mlinfra.operations.apply import ApplyRequest, apply
from mlinfra.operations.lineage import LineageRequest, lineage


def test_an_endpoints_lineage_reaches_the_artifact_it_serves(shop, recorder) -> None:
    assert apply(ApplyRequest(validated(shop), str(shop), "local"), recorder, recorder.confirm).ok
    found = lineage(LineageRequest(validated(shop), str(shop), "local", "endpoint.scorer-api"))
    root = found.entities[found.root]
    assert root.type == "Endpoint" and root.uri.endswith(":endpoint/shop-local-scorer-api")
    (deployment,) = found.inputs_of(found.root)
    assert found.entities[deployment].type == "ModelDeployment"
    (model,) = found.inputs_of(deployment)
    assert found.entities[model].type == "Model"
    assert "models/a" in found.entities[model].uri
