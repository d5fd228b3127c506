"""`mlinfra destroy --env local` finishes once a pipeline has registered versions: a registry
group goes with its versions where removing it is allowed, and a protected environment keeps
both unless --allow-removal names the group. Each test's apply starts a real detached emulator
beside its spec; the fixture stops it."""

from __future__ import annotations

from pathlib import Path

from shop import client, mlinfra, register_version, shop_spec

from mlinfra.emulator.access import Access
from mlinfra.engines.providers.local import LocalProvider, ProviderError
from mlinfra.state import backend_for

ARTIFACT = "models/a/model.joblib"
REGISTRY = "model.scorer/registry"


def env(spec_file: Path) -> tuple[str, ...]:
    return ("--env", "local", "-f", str(spec_file))


def groups(url: str) -> list[str]:
    listed = client(url).list_model_package_groups()["ModelPackageGroupSummaryList"]
    return [g["ModelPackageGroupName"] for g in listed]


def applied_with_versions(spec_file: Path, count: int = 2) -> str:
    code, out = mlinfra("apply", *env(spec_file), "--auto-approve")
    assert code == 0, out
    url = Access.for_spec(spec_file)
    for _ in range(count):
        register_version(url, ARTIFACT)
    return url


def test_destroy_deletes_the_registry_group_with_its_versions(spec_file):
    url = applied_with_versions(spec_file)
    code, out = mlinfra("destroy", *env(spec_file), "--auto-approve")
    assert code == 0, out
    assert "loses data: every registered model version" in out
    assert groups(url) == []
    listed = client(url).list_model_packages()["ModelPackageSummaryList"]
    assert listed == []
    assert backend_for(".mlinfra/state", spec_file.parent).read("shop", "local").is_empty


def test_a_destroy_that_failed_is_run_again_and_finishes(spec_file, monkeypatch):
    url = applied_with_versions(spec_file)

    def fails(self, group):
        raise ProviderError(f"{group}: the emulator went away")

    with monkeypatch.context() as patched:
        patched.setattr(LocalProvider, "_delete_versions", fails)
        code, out = mlinfra("destroy", *env(spec_file), "--auto-approve")
    assert code == 1 and "the emulator went away" in out
    assert groups(url) == ["shop-local-scorers"]
    # As if the failed destroy had deleted one version before it stopped.
    first = client(url).list_model_packages(ModelPackageGroupName="shop-local-scorers")
    client(url).delete_model_package(
        ModelPackageName=first["ModelPackageSummaryList"][0]["ModelPackageArn"]
    )
    code, out = mlinfra("destroy", *env(spec_file), "--auto-approve")
    assert code == 0, out
    assert groups(url) == []
    assert backend_for(".mlinfra/state", spec_file.parent).read("shop", "local").is_empty


def test_a_protected_environment_keeps_the_group_and_its_versions_unless_named(spec_file):
    protected = shop_spec().replace("    target: local\n", "    target: local\n    protect: true\n")
    spec_file.write_text(protected)
    url = applied_with_versions(spec_file)
    code, out = mlinfra("destroy", *env(spec_file), "--auto-approve")
    assert code == 1
    assert f"--allow-removal {REGISTRY}" in out
    assert groups(url) == ["shop-local-scorers"]
    versions = client(url).list_model_packages(ModelPackageGroupName="shop-local-scorers")
    assert len(versions["ModelPackageSummaryList"]) == 2

    code, out = mlinfra(
        "destroy",
        *env(spec_file),
        "--auto-approve",
        "--allow-removal",
        REGISTRY,
        "--allow-removal",
        "feature_store.customers",
    )
    assert code == 0, out
    assert groups(url) == []
