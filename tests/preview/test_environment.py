"""The preview of a branch as an environment spec, and what its state records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from preview_project import BRANCH, preview, shop_spec

from mlinfra.preview.environment import PreviewError, preview_spec
from mlinfra.preview.naming import preview_env_name
from mlinfra.spec.validate import validate_text
from mlinfra.state import ResourceState, State, backend_for
from mlinfra.state.model import PreviewInfo, loads

CHURN = Path(__file__).parents[2] / "examples" / "churn" / "mlinfra.yaml"


def churn():
    from mlinfra.spec.validate import validate_file

    result = validate_file(CHURN)
    assert result.ok
    return result


def test_a_preview_on_local_takes_its_settings_and_the_preview_overrides() -> None:
    found = preview_spec(churn(), "feat/x", "local", str(CHURN))
    assert found.ok
    spec = found.spec
    assert (spec.env, spec.base, spec.target) == (preview_env_name("feat/x"), "local", "local")
    assert spec.endpoints["churn-api"].instance_type == "ml.t2.medium"
    # The base's own overrides still apply under the preview's.
    assert spec.models["churn-model"].approval == "auto"


def test_without_base_the_spec_previews_base_is_used() -> None:
    spec = preview_spec(churn(), "feat/x", None, str(CHURN)).spec
    assert (spec.base, spec.target, spec.account) == ("dev", "sagemaker", "111111111111")


def test_a_preview_never_inherits_protect() -> None:
    spec = preview_spec(churn(), "feat/x", "prod", str(CHURN)).spec
    assert spec.protect is False and spec.region == "eu-west-1"


def test_a_spec_without_previews_needs_a_base() -> None:
    result = validate_text(
        shop_spec().split("previews:")[0] + shop_spec().split("ml.t2.medium\n")[1]
    )
    assert result.ok, [d.summary for d in result.diagnostics]
    with pytest.raises(PreviewError, match="no `previews.base`"):
        preview_spec(result, "x", None, "mlinfra.yaml")
    spec = preview_spec(result, "x", "local", "mlinfra.yaml").spec
    assert spec.endpoints["scorer-api"].instance_type == "ml.m5.large"


def test_the_state_records_the_preview_and_reads_it_back(tmp_path: Path) -> None:
    info = PreviewInfo(BRANCH, "local", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", None)
    state = State("shop", "preview-x", preview=info).with_resource(
        "endpoint.a", ResourceState("local.Endpoint", {}, {"EndpointName": "n"})
    )
    backend = backend_for(".mlinfra/state", tmp_path)
    written = backend.write(state)
    assert written.preview == info
    assert backend.read("shop", "preview-x").preview == info
    again = backend.write(written.without("endpoint.a"))
    assert again.preview == info and again.serial == 2


def test_a_state_without_preview_is_written_as_before(tmp_path: Path) -> None:
    written = backend_for(".mlinfra/state", tmp_path).write(State("shop", "local"))
    document = json.loads(written.dumps())
    assert "preview" not in document and document["format_version"] == 1
    assert loads(written.dumps(), "x").preview is None


def test_isolation_refuses_a_name_another_state_records(spec_file: Path) -> None:
    env = preview_env_name(BRANCH)
    taken = f"shop-{env}-scorer-api"
    backend_for(".mlinfra/state", spec_file.parent).write(
        State("shop", "other").with_resource(
            "endpoint.x", ResourceState("local.Endpoint", {}, {"EndpointName": taken})
        )
    )
    code, out = preview("plan", "-f", str(spec_file))
    assert code == 1
    assert f"would reuse names it does not own: {taken} (the state of 'other')" in out
