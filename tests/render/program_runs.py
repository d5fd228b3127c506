"""Running rendered programs as Pulumi would, without its engine (a helper module, not tests).

Mocks stand in for the Pulumi engine, which cannot be installed on the build machines (its
installers download binaries): `pulumi.runtime.set_mocks` receives every resource the program
registers, with its type, name and inputs, exactly as the engine would. pulumi_aws itself is
real, so a wrong resource class, `...Args` class or argument name fails. moto stands in for
AWS behind boto3, for the runtime helpers that read the model registry and the endpoints.
Inputs arrive as the engine sees them: property names in camelCase (`kmsKeyArn`).
"""

from __future__ import annotations

import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from mlinfra.ir.graph import ResourceGraph
from mlinfra.render.files import write_project
from mlinfra.render.pulumi import render_project


@dataclass(frozen=True)
class Registered:
    type: str  # the engine's token: `aws:sagemaker/endpoint:Endpoint`
    name: str  # the logical name: the IR address
    inputs: dict


@dataclass
class Run:
    """What one run of a program did: the resources it registered, its stack outputs, and
    the warnings it gave (`pulumi.log.warn`)."""

    registered: list[Registered] = field(default_factory=list)
    exports: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def names(self) -> set[str]:
        return {r.name for r in self.registered}

    def named(self, name: str) -> Registered:
        (found,) = [r for r in self.registered if r.name == name]
        return found


class RecordingMocks(pulumi.runtime.Mocks):
    """Records every resource; answers with its inputs plus the outputs Refs read (state is
    keyed by the engine's camelCase names, as inputs are)."""

    def __init__(self, registered: list[Registered]) -> None:
        self.registered = registered

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.registered.append(Registered(args.typ, args.name, dict(args.inputs)))
        physical = args.inputs.get("name") or args.inputs.get("bucket") or args.name
        state = {
            "arn": f"arn:aws:mock:::{args.typ}/{args.name}",
            "name": physical,
            "bucket": physical,
            "keyId": f"key-{args.name}",
            **args.inputs,
        }
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


def run_program(program: Path, graph: ResourceGraph, monkeypatch) -> Run:
    """Run `program` (a rendered `__main__.py`) as Pulumi would, under the recording mocks;
    its stack outputs and warnings are kept, not sent to an engine."""
    found = Run()
    pulumi.runtime.set_mocks(
        RecordingMocks(found.registered), project=graph.project, stack=graph.env, preview=False
    )
    pulumi.runtime.set_all_config({"aws:region": graph.region})
    # Pulumi runs a program from its project folder, so FileAssets resolve from there.
    monkeypatch.chdir(program.parent)
    monkeypatch.setattr(
        pulumi, "export", lambda name, value: found.exports.__setitem__(name, value)
    )
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: found.warnings.append(message))

    @pulumi.runtime.test
    def run() -> None:
        runpy.run_path(str(program), run_name="__main__")

    run()
    return found


def render_into(tmp_path: Path, graph: ResourceGraph, spec, spec_from_out: str) -> Path:
    out = tmp_path / "stack"
    write_project(render_project(graph, spec, spec_from_out), out)
    return out / "__main__.py"
