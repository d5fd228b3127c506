"""Changed-only previews: only what the branch changed is built; the rest is the base's."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from preview_project import BRANCH, git, preview, shop_spec

from mlinfra.cli.main import cli
from mlinfra.preview.changed import select
from mlinfra.preview.environment import preview_spec
from mlinfra.preview.naming import preview_env_name
from mlinfra.spec.validate import validate_file
from mlinfra.state import backend_for

ENV = preview_env_name(BRANCH)


@pytest.fixture()
def changed_only(project: Path) -> Path:
    """The shop on `main` in changed-only mode; the branch gives the endpoint two instances."""
    spec_file = project / "mlinfra.yaml"
    git(project, "checkout", "-q", "main")
    spec_file.write_text(shop_spec().replace("  ttl: 24h\n", "  ttl: 24h\n  mode: changed-only\n"))
    git(project, "commit", "-qam", "changed-only previews")
    git(project, "checkout", "-q", BRANCH)
    git(project, "merge", "-q", "main")
    return spec_file


def selection(spec_file: Path, compare_to: str | None = None):
    result = validate_file(spec_file)
    spec = preview_spec(result, BRANCH, None, str(spec_file)).spec
    return select(result, spec, BRANCH, str(spec_file), compare_to)


def test_nothing_changed_builds_nothing(changed_only: Path) -> None:
    found = selection(changed_only)
    assert found.changed == ()
    assert found.deferred == ("feature_store.customers", "model.scorer", "endpoint.scorer-api")
    assert found.against.startswith("origin/HEAD") or found.against.startswith("main (")


def test_a_changed_component_is_selected_and_the_rest_deferred(changed_only: Path) -> None:
    changed_only.write_text(
        changed_only.read_text().replace(
            "    instance_type: ml.m5.large\n",
            "    instance_type: ml.m5.large\n    instance_count: 2\n",
        )
    )
    found = selection(changed_only)
    assert found.changed == ("endpoint.scorer-api",)
    assert found.deferred == ("feature_store.customers", "model.scorer")


def test_a_changed_file_changes_the_component_that_names_it(changed_only: Path) -> None:
    artifact = changed_only.parent / "models" / "a" / "model.joblib"
    assert selection(changed_only, "HEAD").changed == ()
    artifact.write_bytes(artifact.read_bytes() + b"\0")
    assert selection(changed_only, "HEAD").changed == ("model.scorer",)


def test_a_changed_only_preview_builds_the_endpoint_on_the_base_model(changed_only: Path) -> None:
    changed_only.write_text(
        changed_only.read_text().replace(
            "    instance_type: ml.m5.large\n",
            "    instance_type: ml.m5.large\n    instance_count: 2\n",
        )
    )
    code, out = preview("plan", "-f", str(changed_only))
    assert code == 1 and "apply 'local' first" in out

    try:
        base = CliRunner().invoke(
            cli, ["apply", "--env", "local", "-f", str(changed_only), "--auto-approve"]
        )
        assert base.exit_code == 0, base.output
        code, out = preview("up", "-f", str(changed_only), "--auto-approve")
        assert code == 0, out
        assert (
            "builds endpoint.scorer-api; uses local's feature_store.customers, model.scorer" in out
        )
        state = backend_for(".mlinfra/state", changed_only.parent).read("shop", ENV)
        assert sorted(state.resources) == ["endpoint.scorer-api", "endpoint.scorer-api/config"]
        variant = state.get("endpoint.scorer-api/config").inputs["ProductionVariants"][0]
        local = backend_for(".mlinfra/state", changed_only.parent).read("shop", "local")
        assert variant["ModelName"] == local.get("model.scorer").outputs["name"]
        assert variant["InitialInstanceCount"] == 2
        code, out = preview("plan", "-f", str(changed_only), "--format", "markdown")
        assert code == 0, out
        assert "| Changed-only, against `main (" in out
        assert "builds `endpoint.scorer-api`; uses `local`'s `feature_store.customers`" in out
        assert "**No changes.**" in out
    finally:
        from mlinfra.emulator import process

        process.stop(changed_only)
