"""The Pulumi dynamic providers of local programs, run as the Pulumi engine would run them.

The Pulumi engine cannot be installed here, so `pulumi.runtime.set_mocks` stands in for it;
but where the engine would hand a dynamic resource to its provider, these mocks do the same:
they unpickle the provider the program serialised into the resource (as Pulumi's dynamic
provider host does) and call its `create` against a real emulator.
"""

from __future__ import annotations

import base64
from pathlib import Path

import dill
import pulumi
from shop import client, shop_spec

from mlinfra.providers import dynamic as local


class EngineLikeMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.created: dict[str, dict] = {}
        self.providers: dict[str, object] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        inputs = dict(args.inputs)
        serialised = inputs.pop("__provider")
        if isinstance(serialised, dict):  # Pulumi marks it secret: {<signature>, "value"}
            serialised = serialised["value"]
        provider = dill.loads(base64.b64decode(serialised))
        self.providers[args.name] = provider
        result = provider.create(inputs)
        self.created[args.name] = dict(result.outs)
        return result.id, dict(result.outs)

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


def test_dynamic_resources_create_through_the_local_providers(
    project: Path, emulator, monkeypatch
) -> None:
    spec_file = project / "mlinfra.yaml"
    spec_file.write_text("version: 1\n")
    monkeypatch.setattr(
        "mlinfra.emulator.process.status",
        lambda spec: type("S", (), {"url": emulator.url})(),
    )
    mocks = EngineLikeMocks()
    pulumi.runtime.set_mocks(mocks, project="shop", stack="local", preview=False)

    @pulumi.runtime.test
    def program():
        local.use_emulator(str(spec_file), region="us-east-1")
        model = local.Model(
            "model.scorer",
            ModelName="shop-local-scorer-1",
            PrimaryContainer={"Image": "sklearn", "ModelDataUrl": "models/a/model.joblib"},
        )
        config = local.EndpointConfig(
            "endpoint.api/config",
            EndpointConfigName="shop-local-api-1",
            ProductionVariants=[
                {
                    "VariantName": "primary",
                    "ModelName": model.name,
                    "InitialInstanceCount": 1,
                    "InitialVariantWeight": 1.0,
                }
            ],
        )
        endpoint = local.Endpoint(
            "endpoint.api",
            EndpointName="shop-local-api",
            EndpointConfigName=config.name,
            Tags=[{"Key": "team", "Value": "growth"}],
        )
        return endpoint.arn.apply(lambda arn: arn)

    program()
    assert set(mocks.created) == {"model.scorer", "endpoint.api/config", "endpoint.api"}
    assert mocks.created["endpoint.api"]["EndpointStatus"] == "InService"
    body = (
        client(emulator, "sagemaker-runtime")
        .invoke_endpoint(EndpointName="shop-local-api", ContentType="text/csv", Body=b"3,0,0\n")[
            "Body"
        ]
        .read()
    )
    assert round(float(body)) == 1

    # What the engine does on the next `pulumi up` after a change, through the same objects.
    provider = mocks.providers["endpoint.api"]
    olds = mocks.created["endpoint.api"]
    news = {k: v for k, v in olds.items() if k not in ("name", "arn", "EndpointStatus")}
    assert provider.diff("shop-local-api", olds, news).changes is False
    retagged = dict(news, Tags=[{"Key": "team", "Value": "search"}])
    change = provider.diff("shop-local-api", olds, retagged)
    assert change.changes and not change.replaces
    provider.update("shop-local-api", olds, retagged)
    provider.delete("shop-local-api", retagged)
    assert provider.read("shop-local-api", retagged).id is None


def test_rendered_local_program_deploys_like_pulumi_up(
    project: Path, emulator, monkeypatch
) -> None:
    """`mlinfra render --env local`, then the program run as `pulumi up` would run it."""
    import runpy

    from click.testing import CliRunner

    from mlinfra.cli.main import cli

    spec_file = project / "mlinfra.yaml"
    spec_file.write_text(shop_spec())
    result = CliRunner().invoke(cli, ["render", "--env", "local", "-f", str(spec_file)])
    assert result.exit_code == 0, result.output
    program = project / "stacks" / "local" / "__main__.py"
    monkeypatch.setattr(
        "mlinfra.emulator.process.status",
        lambda spec: type("S", (), {"url": emulator.url})(),
    )
    monkeypatch.chdir(program.parent)  # Pulumi runs a program from its project folder
    mocks = EngineLikeMocks()
    pulumi.runtime.set_mocks(mocks, project="shop", stack="local", preview=False)

    @pulumi.runtime.test
    def run() -> None:
        runpy.run_path(str(program), run_name="__main__")

    run()
    assert set(mocks.created) == {
        "feature_store.customers",
        "model.scorer/registry",
        "model.scorer",
        "endpoint.scorer-api/config",
        "endpoint.scorer-api",
    }
    described = client(emulator).describe_endpoint(EndpointName="shop-local-scorer-api")
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == mocks.created["endpoint.scorer-api/config"]["name"]
    # The provider found the emulator of the spec the program names, from its own folder.
    assert mocks.providers["model.scorer"].spec_file == str(spec_file)
