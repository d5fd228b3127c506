"""Property tests of the command line: whatever spec or state it is given, `mlinfra` answers
with exit 0 or 1 and words, never exit 3 ("internal error") or a traceback.

Specs start from `examples/churn/mlinfra.yaml` or a valid or warning fixture and are damaged
as in `spec_mutations` (structure, text, and values swapped for others of the same type,
huge, special or unicode, so that many stay valid and reach lowering, rendering and
planning). States start from what an apply of the churn example records and are damaged the
same way, plus what only a state can get wrong (types, statuses, nesting, versions, text
edits). The commands run in this
process, on a local environment without an emulator and on a sagemaker one: `validate`,
`render`, `plan`, `output`, `audit`, and `refresh` (which reads the state under its lock).

The default number of examples keeps the suite fast; `MLINFRA_PROPERTY_EXAMPLES=3000` runs
more (the README's reliability section records such a run).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mlinfra.cli.main import cli
from mlinfra.ir.graph import canonical
from mlinfra.ir.lower import lower
from mlinfra.plan.diff import resource_state
from mlinfra.render.outputs import name_property
from mlinfra.spec.validate import validate_file
from mlinfra.state.model import State
from spec_mutations import (
    CHURN,
    REFERENCE,
    REFERENCE_TEXT,
    TEXT,
    VALUES,
    dumped_with,
    edited_texts,
    mutate,
    mutated_specs,
    retyped_leaf,
    spec_data,
    tweaked_specs,
)

EXAMPLES = int(os.environ.get("MLINFRA_PROPERTY_EXAMPLES", "100"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
ENVIRONMENTS = ("local", "prod")


def invoke(args: list[str]) -> None:
    """Run one command; it must end with 0 or 1 and no traceback."""
    result = CliRunner().invoke(cli, args)
    # Anything but SystemExit escaped the command: the console script reports it as exit 3.
    escaped = result.exception if not isinstance(result.exception, SystemExit) else None
    assert escaped is None, f"{args}: {type(escaped).__name__}: {escaped}\n{result.output}"
    assert result.exit_code in (0, 1), (args, result.exit_code, result.output)
    assert "Traceback" not in result.output, (args, result.output)
    assert "internal error" not in result.output, (args, result.output)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the churn example, its spec and state rewritten by each example; in it the
    fixtures' project, whose files the fixture specs name as `project/...`."""
    root = tmp_path_factory.mktemp("property-cli")
    folder = root / "churn"
    shutil.copytree(CHURN, folder, ignore=shutil.ignore_patterns(".mlinfra", "stacks"))
    shutil.copytree(FIXTURES / "valid" / "project", folder / "project")
    return folder


# --- specs -----------------------------------------------------------------------------------

SPEC_COMMANDS = st.sampled_from(
    [
        ["validate"],
        ["render", "--all", "--check"],
        ["render", "--env", "local", "--check"],
        ["plan", "--env", "local"],
        ["plan", "--env", "prod", "--format", "json"],
        ["output", "--env", "local"],
        ["output", "--env", "dev", "--json"],
        ["audit"],
        ["audit", "--format", "sarif"],
    ]
)


FIXTURES = Path(__file__).parent / "fixtures"
# The specs mutated: the churn example and the valid and warning fixtures.
BASES = (
    REFERENCE,
    *(
        spec_data(p.read_text())
        for kind in ("valid", "warning")
        for p in sorted(FIXTURES.glob(f"{kind}/*.yaml"))
    ),
)


@SETTINGS
@given(
    text=st.one_of(tweaked_specs(BASES), mutated_specs(BASES), edited_texts()),
    commands=st.lists(SPEC_COMMANDS, min_size=1, max_size=2, unique_by=str),
)
@example(text=REFERENCE_TEXT, commands=[["render", "--all", "--check"], ["audit"]])
# Found by this test: a file name too long for the file system made lowering raise OSError.
@example(
    text=dumped_with(("monitors", "churn-drift", "baseline"), "😀" * 100),
    commands=[["render", "--all", "--check"], ["audit"]],
)
def test_no_spec_makes_the_cli_fail_internally(project: Path, text: str, commands) -> None:
    spec = project / "mlinfra.yaml"
    spec.write_text(text, encoding="utf-8")
    shutil.rmtree(project / ".mlinfra", ignore_errors=True)
    for args in commands:
        if args[0] == "render":
            args = [*args, "--out", str(project / "stacks")]
        invoke([*args, "-f", str(spec)])


# --- states ----------------------------------------------------------------------------------


def _applied(value: Any) -> Any:
    """Canonical properties as applying resolves them: text made, version 1 looked up."""
    if isinstance(value, dict):
        if "concat" in value and len(value) == 1:
            return "".join(str(_applied(part)) for part in value["concat"])
        if "call" in value and "args" in value:
            return "1"
        return {k: _applied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_applied(v) for v in value]
    return value


def recorded_state(env: str) -> dict[str, Any]:
    """The state document an apply of the churn example's `env` records."""
    result = validate_file(CHURN / "mlinfra.yaml")
    graph = lower(result.environments[env], CHURN)
    resources = {}
    for resource in graph.resources:
        properties = _applied(canonical(resource.properties))
        name = properties.get(name_property(resource.type))
        outputs = {"name": name, "arn": f"arn:aws:sagemaker:us-east-1:111111111111:x/{name}"}
        inputs = properties if env == "local" else {}
        resources[resource.address] = resource_state(resource, None, inputs, outputs)
    lineage = "0f5c1c8e-0000-4000-8000-000000000000"
    return State("churn", env, 3, lineage, resources).to_json()


STATES = {env: recorded_state(env) for env in ENVIRONMENTS}
STATE_NAMES = sorted(
    {a for doc in STATES.values() for a in doc["resources"]}
    | {r["type"] for doc in STATES.values() for r in doc["resources"].values()}
    | {"local.Bogus", "aws.sagemaker.Nope", "created", "pending", "deleted", ""}
)


def _nest(value: Any, depth: int) -> Any:
    for _ in range(depth):
        value = [value]
    return value


@st.composite
def state_texts(draw, env: str) -> str:
    """The recorded state of `env`, damaged: its data, then (sometimes) its text."""
    data = copy.deepcopy(STATES[env])
    for _ in range(draw(st.integers(1, 3))):
        resources = data.get("resources") if isinstance(data, dict) else None
        kind = draw(st.sampled_from(["mutate", "retype-leaf", "resource-field", "top-field"]))
        if kind == "mutate":
            data = mutate(data, draw, STATE_NAMES)
        elif kind == "retype-leaf":
            data = retyped_leaf(data, draw)
        elif kind == "resource-field" and isinstance(resources, dict) and resources:
            entry = resources[draw(st.sampled_from(sorted(resources)))]
            if isinstance(entry, dict):
                field = draw(
                    st.sampled_from(
                        ["type", "status", "properties", "inputs", "outputs", "dependencies",
                         "source", "protect"]
                    )
                )  # fmt: skip
                entry[field] = draw(
                    st.one_of(
                        st.sampled_from(STATE_NAMES),
                        VALUES,
                        st.builds(_nest, VALUES, st.integers(1, 200)),
                        st.lists(st.sampled_from(STATE_NAMES), max_size=4),
                    )
                )
        elif isinstance(data, dict):
            field = draw(
                st.sampled_from(
                    ["format_version", "project", "environment", "serial", "lineage", "preview"]
                )
            )
            data[field] = draw(
                st.one_of(
                    st.sampled_from([0, 1, 2, -1, 2**63, 10**400, "1", None, "churn", env]),
                    VALUES,
                    st.fixed_dictionaries(
                        {"branch": TEXT, "base": st.sampled_from(ENVIRONMENTS), "created_at": TEXT}
                    ),
                )
            )
    text = json.dumps(data, indent=draw(st.sampled_from([None, 2])), ensure_ascii=False)
    if text.startswith("{") and draw(st.integers(0, 9)) == 0:
        # Nesting too deep to build as data: JSON's own encoder would refuse it.
        depth = draw(st.sampled_from([99, 101, 999, 1001, 100_000]))
        text = '{"deep": ' + "[" * depth + "]" * depth + ", " + text[1:]
    if draw(st.booleans()):
        return text
    where = draw(st.integers(0, len(text)))
    return draw(
        st.sampled_from(
            [text[:where], text[:where] + "\x00" + text[where:], text[:where] + "}" + text[where:]]
        )
    )


STATE_COMMANDS = [["plan"], ["output"], ["refresh"], ["plan", "--format", "json"]]


@SETTINGS
@given(data=st.data())
def test_no_state_file_makes_the_cli_fail_internally(project: Path, data) -> None:
    spec = project / "mlinfra.yaml"
    spec.write_text(REFERENCE_TEXT, encoding="utf-8")
    env = data.draw(st.sampled_from(ENVIRONMENTS), label="env")
    text = data.draw(state_texts(env), label="state")
    folder = project / ".mlinfra" / "state"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / f"{env}.json").write_text(text, encoding="utf-8")
    for args in data.draw(st.lists(st.sampled_from(STATE_COMMANDS), min_size=1, max_size=2)):
        if env != "local" and args[0] == "refresh":
            continue  # a sagemaker environment's refresh runs Pulumi
        invoke([*args, "--env", env, "-f", str(spec)])
