"""Rendered Pulumi projects match their golden files byte for byte, render identically every
time, are valid and lint-clean Python, and refuse graphs that would put anything but data in
code positions.

Regenerate the golden files with `MLINFRA_ACCEPT=1 .venv/bin/python -m pytest tests/render`.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import MappingProxyType

import pytest
from render_cases import STACKS, Account, churn, churn_spec_from, handmade_graph

from mlinfra.diagnostics import Position, SourceRange
from mlinfra.ir.graph import Args, Call, Concat, FileAsset, Json, Ref, Resource, build_graph
from mlinfra.render.files import write_project
from mlinfra.render.pulumi import (
    RenderError,
    render_program,
    render_project,
    variable_names,
)

GOLDEN = Path(__file__).parent / "golden"
RUFF = Path(sys.executable).parent / "ruff"


def handmade_files() -> dict[str, str]:
    return render_project(handmade_graph(), Account("123456789012"), "../specs/mlinfra.yaml")


def churn_files(env: str) -> dict[str, str]:
    graph, spec = churn(env)
    return render_project(graph, spec, churn_spec_from(STACKS / env))


CASES = {
    "handmade": handmade_files,
    "churn-dev": lambda: churn_files("dev"),
    "churn-prod": lambda: churn_files("prod"),
    "churn-local": lambda: churn_files("local"),
}


def _bytes(content: str | bytes) -> bytes:
    # The monitor job's archive is bytes; every other file is text.
    return content if isinstance(content, bytes) else content.encode("utf-8")


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_project_matches_golden_files(case: str) -> None:
    # Stored as `<name>.golden`, so the linter skips the programs and a golden `.gitignore`
    # does not act on the repository.
    files = {f"{name}.golden": text for name, text in CASES[case]().items()}
    folder = GOLDEN / case
    if os.environ.get("MLINFRA_ACCEPT"):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name, content in files.items():
            (folder / name).write_bytes(_bytes(content))
    on_disk = {p.name for p in folder.iterdir()} if folder.is_dir() else set()
    assert on_disk == set(files), "golden files are stale: rerun with MLINFRA_ACCEPT=1"
    for name, content in files.items():
        assert (folder / name).read_bytes() == _bytes(content), (
            f"{case}/{name} is stale: rerun with MLINFRA_ACCEPT=1"
        )


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendering_twice_gives_identical_bytes(case: str) -> None:
    assert CASES[case]() == CASES[case]()


@pytest.mark.parametrize("case", sorted(CASES))
def test_program_is_valid_python_without_long_lines_where_breakable(case: str) -> None:
    program = CASES[case]()["__main__.py"]
    compile(ast.parse(program), "__main__.py", "exec")
    assert program.endswith("\n") and not program.endswith("\n\n")
    for line in program.splitlines():
        if len(line) > 99:
            assert unbreakable(line.strip().rstrip(",")), line


def unbreakable(code: str) -> bool:
    """Whether a line holds one thing that cannot be broken: a string (as a value, keyword
    argument or dict entry), or the head of a call (`x=aws...LongClassNameArgs(`) deep in a
    nested value."""
    if code.endswith("("):
        return re.fullmatch(r'([a-z0-9_]+=|"[^"]*": )?[A-Za-z0-9_.]+\(', code) is not None
    for wrapped in (f"f({code})", f"{{{code}}}"):
        try:
            body = ast.parse(wrapped, mode="eval").body
        except SyntaxError:
            continue
        values = (
            [k.value for k in body.keywords] + body.args
            if isinstance(body, ast.Call)
            else body.values
        )
        return len(values) == 1 and isinstance(values[0], ast.Constant)
    return False


@pytest.mark.skipif(not RUFF.exists(), reason="ruff is not installed beside this Python")
@pytest.mark.parametrize("case", sorted(CASES))
def test_program_is_lint_clean(case: str, tmp_path: Path) -> None:
    program = tmp_path / "__main__.py"
    program.write_text(CASES[case]()["__main__.py"])
    found = subprocess.run(
        [RUFF, "check", "--isolated", "--no-cache", "--select", "E,F,W,I", "--ignore", "E501"]
        + [str(program)],
        capture_output=True,
        text=True,
    )
    assert found.returncode == 0, found.stdout


def test_program_names_its_source_and_environment() -> None:
    program = handmade_files()["__main__.py"]
    docstring = ast.get_docstring(ast.parse(program))
    assert "../specs/mlinfra.yaml" in docstring and "demo (dev)" in docstring
    assert "do not edit" in docstring
    assert "# endpoint.api — mlinfra.yaml:40\n" in program


def test_stack_config_pins_region_and_account() -> None:
    files = handmade_files()
    assert files["Pulumi.dev.yaml"].splitlines()[1:] == [
        "config:",
        '  aws:region: "us-east-1"',
        "  aws:allowedAccountIds:",
        '    - "123456789012"',
    ]
    without = render_project(handmade_graph(), Account(None), "../specs/mlinfra.yaml")
    assert "allowedAccountIds" not in without["Pulumi.dev.yaml"]


def test_pulumi_yaml_uses_pip_in_a_virtualenv() -> None:
    text = handmade_files()["Pulumi.yaml"]
    assert 'name: "demo"' in text
    assert "runtime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: venv" in text


def test_requirements_pin_the_versions_mlinfra_uses() -> None:
    from importlib.metadata import version

    lines = handmade_files()["requirements.txt"].splitlines()
    for name in ("pulumi", "pulumi-aws", "boto3"):
        assert f"{name}=={version(name)}" in lines


def test_only_used_helpers_and_imports_are_written() -> None:
    program = handmade_files()["__main__.py"]
    assert "def latest_approved_model_package(" in program
    assert "def model_package_arn(" in program
    assert "import boto3" in program and "import json" in program

    bare = build_graph("demo", "dev", "sagemaker", "us-east-1", [_resource({"name": "x"})])
    program = render_program(bare)
    assert "boto3" not in program and "import json" not in program and "def " not in program


def test_resource_options_carry_dependencies_and_protection() -> None:
    program = handmade_files()["__main__.py"]
    assert "opts=pulumi.ResourceOptions(protect=True)," in program
    assert "opts=pulumi.ResourceOptions(depends_on=[model_scorer_role_policy])," in program
    assert program.count("opts=") == 2


def test_file_assets_are_relative_to_the_program_folder() -> None:
    program = handmade_files()["__main__.py"]
    assert 'pulumi.FileAsset("../specs/model/model.tar.gz")' in program


def test_constant_concat_is_a_plain_string_and_json_without_refs_is_json_dumps() -> None:
    program = handmade_files()["__main__.py"]
    assert 'name="demo-dev-api-latency"' in program
    assert "assume_role_policy=json.dumps(" in program
    assert "policy=pulumi.Output.json_dumps(" in program
    # Laid out on one line or, inside a guard's block, one part a line.
    concat = (
        r'pulumi\.Output\.concat\(\s*"s3://",\s*bucket_artifacts\.bucket,\s*"/capture/api",?\s*\)'
    )
    assert re.search(concat, program)


def test_environment_tags_are_written_once_and_spread_into_each_resource() -> None:
    program = churn_files("prod")["__main__.py"]
    assert program.count("\nTAGS = {") == 1 and program.count('"cost-center": "ml-1234"') == 1
    tags_lines = [line.strip() for line in program.splitlines() if line.startswith("    tags=")]
    assert tags_lines
    for line in tags_lines:
        assert re.fullmatch(r'tags=\{\*\*TAGS, "mlinfra:component": "[a-z_.-]+"\},', line), line


def test_only_tags_every_tagged_resource_shares_are_hoisted() -> None:
    def tagged(address: str, tags: dict) -> Resource:
        return _resource({"name": address, "tags": MappingProxyType(tags)}, address=address)

    program = _render(
        tagged("model.a", {"team": "x", "own": "1"}),
        tagged("model.b", {"team": "x", "env": "dev"}),
        tagged("model.c", {"env": "dev", "team": "x"}),
        _resource({"name": "untagged"}, address="model.d"),
    )
    assert 'TAGS = {"team": "x"}' in program
    assert 'tags={**TAGS, "own": "1"},' in program
    assert program.count('tags={**TAGS, "env": "dev"},') == 2

    same = _render(tagged("model.a", {"team": "x"}), tagged("model.b", {"team": "x"}))
    assert 'TAGS = {"team": "x"}' in same and same.count("tags=TAGS,") == 2

    for program in (
        _render(tagged("model.a", {"team": "x"}), tagged("model.b", {"team": "y"})),
        _render(tagged("model.a", {"team": "x"})),
    ):
        assert "TAGS" not in program and 'tags={"team": "x"},' in program


def test_variable_names_are_distinct_identifiers() -> None:
    names = variable_names(["endpoint.churn-api/config", "endpoint.churn_api.config", "a.json"])
    assert names["endpoint.churn-api/config"] == "endpoint_churn_api_config"
    assert names["endpoint.churn_api.config"] == "endpoint_churn_api_config_2"
    assert len(set(names.values())) == 3
    assert variable_names(["1.x"]) == {"1.x": "r_1_x"}
    assert variable_names(["json"]) == {"json": "json_2"}


def test_write_project_writes_every_file_and_replaces_old_ones(tmp_path: Path) -> None:
    out = tmp_path / "stacks" / "dev"
    write_project({"a.txt": "old\n"}, out)
    write_project({"a.txt": "new\n", "b.txt": "b\n"}, out)
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.txt"]
    assert (out / "a.txt").read_text() == "new\n"
    with pytest.raises(RenderError):
        write_project({"../escape.txt": "x"}, out)


# -- refused graphs ------------------------------------------------------------------------


def _resource(properties, type_="aws.sagemaker.Model", address="model.m", **kw) -> Resource:
    where = SourceRange("mlinfra.yaml", Position(1, 1), Position(1, 2))
    return Resource(address, type_, MappingProxyType(properties), where, **kw)


def _render(*resources: Resource) -> str:
    return render_program(build_graph("demo", "dev", "sagemaker", "us-east-1", list(resources)))


@pytest.mark.parametrize(
    "type_",
    [
        "aws.sagemaker.Model(); import os; x = aws.s3.Bucket",
        "os.system",
        "aws.Model",
        "aws.sagemaker.Model\n",
        "",
    ],
)
def test_resource_types_must_be_pulumi_aws_classes(type_: str) -> None:
    with pytest.raises(RenderError, match="not a pulumi_aws type"):
        _render(_resource({}, type_))


@pytest.mark.parametrize("key", ["a-b", "x=1, y", "class", "opts", "resource_name", "ñame"])
def test_property_names_must_be_identifiers(key: str) -> None:
    with pytest.raises(RenderError):
        _render(_resource({key: 1}))


def test_args_types_and_fields_are_checked() -> None:
    with pytest.raises(RenderError, match="not a pulumi_aws type"):
        _render(_resource({"c": Args("__import__('os').X", MappingProxyType({}))}))
    with pytest.raises(RenderError, match="identifier"):
        _render(_resource({"c": Args("aws.x.YArgs", MappingProxyType({"a b": 1}))}))


def test_a_name_passing_one_check_is_not_taken_as_passing_another() -> None:
    # Checked names are remembered per check: a valid type is no identifier, and a valid
    # identifier is no type.
    type_then_key = {"a": Args("aws.x.YArgs", MappingProxyType({})), "aws.x.YArgs": 1}
    with pytest.raises(RenderError, match="identifier"):
        _render(_resource(type_then_key))
    key_then_type = {"field": 1, "b": Args("field", MappingProxyType({}))}
    with pytest.raises(RenderError, match="not a pulumi_aws type"):
        _render(_resource(key_then_type))


def test_ref_attributes_must_be_identifiers() -> None:
    other = _resource({}, address="model.other")
    bad = _resource({"x": Ref("model.other", "arn + os.system('id')")})
    with pytest.raises(RenderError, match="identifier"):
        _render(other, bad)


def test_calls_name_only_runtime_helpers_with_plain_arguments() -> None:
    with pytest.raises(RenderError, match="unknown runtime helper"):
        _render(_resource({"x": Call("eval", ("1",))}))
    other = _resource({}, address="model.other")
    with pytest.raises(RenderError, match="plain values"):
        _render(other, _resource({"x": Call("model_package_arn", (Ref("model.other", "id"),))}))


def test_json_cannot_hold_files_and_concat_only_text_and_refs() -> None:
    with pytest.raises(RenderError):
        _render(_resource({"x": Json({"f": FileAsset("a", "0")})}))
    with pytest.raises(RenderError, match="Concat"):
        _render(_resource({"x": Concat(("a", 1))}))


def test_values_that_are_not_json_like_are_refused() -> None:
    with pytest.raises(RenderError, match="JSON number"):
        _render(_resource({"x": float("nan")}))
    with pytest.raises(RenderError, match="surrogate"):
        _render(_resource({"x": {"k": "\ud800"}}))


def test_only_sagemaker_and_local_graphs_render() -> None:
    graph = build_graph("demo", "edge", "edge", "us-east-1", [])
    with pytest.raises(RenderError, match="'edge' graphs do not render"):
        render_project(graph, Account(None))


def test_a_local_graph_may_hold_only_local_types_and_functions() -> None:
    def local_graph(resource: Resource):
        return build_graph("demo", "local", "local", "us-east-1", [resource])

    aws_type = Resource("model.m", "aws.sagemaker.Model", MappingProxyType({}), None)
    with pytest.raises(RenderError, match="not a local resource type"):
        render_program(local_graph(aws_type))
    helper = Resource(
        "model.m",
        "local.Model",
        MappingProxyType({"ModelName": Call("source_archive", ("x",))}),
        None,
    )
    with pytest.raises(RenderError, match="not a local function"):
        render_program(local_graph(helper))
