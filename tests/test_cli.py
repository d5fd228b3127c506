"""The `mlinfra` command line: `--version`, `validate` (text, JSON, --strict, default file,
hostile inputs) and `schema`."""

from __future__ import annotations

import json
import random
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mlinfra import __version__
from mlinfra.cli.docs import commands_markdown
from mlinfra.cli.main import cli
from mlinfra.spec.schema import load_schema
from mlinfra.spec.validate import validate_file

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "examples" / "churn" / "mlinfra.yaml"
FIXTURES = ROOT / "tests" / "fixtures"
WARNINGS = FIXTURES / "warning" / "warnings.yaml"
UNKNOWN_REFERENCES = FIXTURES / "invalid" / "unknown-references.yaml"
SCHEMA_FILE = ROOT / "src" / "mlinfra" / "schemas" / "mlinfra.schema.json"
CONSOLE_SCRIPT = ROOT / ".venv" / "bin" / "mlinfra"
DIAGNOSTIC_LINE = re.compile(
    r"^(?P<path>.+):(?P<line>\d+):(?P<col>\d+): error\[(?P<code>[a-z0-9-]+)\]: "
)


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    # Exits are SystemExit; anything else escaped the command (CliRunner keeps the exception).
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def assert_refused_cleanly(result: Result) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "invalid (" in result.output


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- version -------------------------------------------------------------------------------


def test_version_prints_the_package_version():
    result = run("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"mlinfra, version {__version__}"


@pytest.mark.parametrize("args", [["-h"], ["validate", "-h"], ["schema", "-h"]])
def test_short_help_works_on_every_command_even_after_the_readme_reference(args):
    # Regression: commands_markdown built contexts without the group's context_settings;
    # click cached a help option without `-h` on each command, so `-h` then failed.
    commands_markdown(cli)
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "-h, --help" in result.output


# --- validate: outcomes ---------------------------------------------------------------------


def test_validate_reference_spec_exits_0_and_says_valid():
    result = run("validate", "-f", str(REFERENCE))
    assert result.exit_code == 0, result.output
    assert f"{REFERENCE}: valid (3 environment(s): dev, local, prod)" in result.output
    assert "error[" not in result.output


def test_validate_invalid_fixture_exits_1_with_located_diagnostics_and_excerpts():
    result = run("validate", "-f", str(UNKNOWN_REFERENCES))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    located = [(i, m) for i, line in enumerate(lines) if (m := DIAGNOSTIC_LINE.match(line))]
    assert located, result.output
    source = UNKNOWN_REFERENCES.read_text().splitlines()
    for i, match in located:
        assert match["path"] == str(UNKNOWN_REFERENCES)
        assert match["code"] == "unknown-reference"
        number = int(match["line"])
        # The excerpt: ` N | <the source line>`, then a caret line under the column.
        assert lines[i + 1] == f" {number} | {source[number - 1]}"
        caret = lines[i + 2]
        assert caret.index("^") == caret.index("|") + 2 + int(match["col"]) - 1
    assert "there is no model named 'churn-modle'" in result.output
    assert "did you mean 'churn-model'?" in result.output
    assert result.output.rstrip().endswith("warning(s))")


def test_validate_json_is_valid_json_with_counts_and_ranges():
    result = run("validate", "-f", str(UNKNOWN_REFERENCES), "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["valid"] is False
    assert report["errors"] == len(report["diagnostics"]) > 0
    assert report["file"] == str(UNKNOWN_REFERENCES)
    first = report["diagnostics"][0]
    assert first["severity"] == "error" and first["code"] == "unknown-reference"
    assert first["range"]["start"]["line"] == 9
    assert first["range"]["start"]["column"] == 12


def test_validate_json_of_the_reference_spec_is_valid_with_no_diagnostics():
    result = run("validate", "-f", str(REFERENCE), "--format", "json")
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert (report["valid"], report["errors"], report["diagnostics"]) == (True, 0, [])
    assert report["environments"] == ["dev", "local", "prod"]


def test_validate_warnings_alone_exit_0():
    result = run("validate", "-f", str(WARNINGS))
    assert result.exit_code == 0, result.output
    assert "warning[missing-file]" in result.output
    warned = len(validate_file(WARNINGS).diagnostics)
    headers = [line for line in result.output.splitlines() if line.startswith(f"{WARNINGS}:")]
    assert len(headers) - 1 == warned > 0  # one line per warning, then the summary
    assert f"valid (1 environment(s): production-environment, {warned} warning(s))" in result.output


def test_validate_strict_turns_warnings_into_exit_1():
    result = run("validate", "-f", str(WARNINGS), "--strict")
    assert result.exit_code == 1
    warned = len(validate_file(WARNINGS).diagnostics)
    assert f"invalid (0 error(s), {warned} warning(s))" in result.output


def test_validate_strict_json_reports_invalid():
    result = run("validate", "-f", str(WARNINGS), "--strict", "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert (report["valid"], report["errors"]) == (False, 0)
    assert report["warnings"] == len(report["diagnostics"]) > 0


# --- validate: the default file -------------------------------------------------------------


def test_validate_reads_mlinfra_yaml_in_the_current_directory_by_default(in_tmp):
    (in_tmp / "mlinfra.yaml").write_text(
        "version: 1\nproject: hello\nenvironments:\n  local: {target: local}\n"
    )
    result = run("validate")
    assert result.exit_code == 0, result.output
    assert "mlinfra.yaml: valid (1 environment(s): local)" in result.output


def test_validate_without_a_spec_in_the_current_directory_says_so(in_tmp):
    result = run("validate")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "error: mlinfra.yaml does not exist\n   = help: pass the spec with -f FILE" in (
        result.stderr
    )
    # Not an invalid spec: there is none to be invalid.
    assert "invalid (" not in result.output and "error(s)" not in result.output


@pytest.mark.parametrize(
    "command", [["plan", "--env", "local"], ["audit"], ["output", "--env", "local"]]
)
def test_a_command_without_its_spec_says_the_file_does_not_exist(in_tmp, command):
    result = run(*command, "-f", "nowhere/mlinfra.yaml")
    assert result.exit_code == 1
    assert "error: nowhere/mlinfra.yaml does not exist" in result.stderr
    assert "pass the spec with -f FILE" in result.stderr
    assert "invalid (" not in result.output


# --- validate: inputs that must never produce a traceback ----------------------------------


@pytest.mark.parametrize(
    "content, code",
    [
        (b"", "empty-spec"),
        (b"# nothing but a comment\n", "empty-spec"),
        (b"- version: 1\n- project: x\n", "wrong-type"),
        (b"just a scalar\n", "wrong-type"),
        (b"42\n", "wrong-type"),
        (b"version: 1\nproject: a\x00b\n", "not-text"),
        (b"\xff\xfe\x00v\x00e\x00r\x00", "not-utf8"),
    ],
    ids=["empty", "comment-only", "list", "scalar", "number", "nul-bytes", "utf16"],
)
def test_validate_hostile_file_exits_1_without_traceback(in_tmp, content, code):
    (in_tmp / "spec.yaml").write_bytes(content)
    result = run("validate", "-f", "spec.yaml")
    assert_refused_cleanly(result)
    assert f"error[{code}]" in result.output


def test_validate_binary_junk_exits_1_without_traceback(in_tmp):
    (in_tmp / "junk.yaml").write_bytes(random.Random(0).randbytes(64 * 1024))
    result = run("validate", "-f", "junk.yaml")
    assert_refused_cleanly(result)
    assert "error[not-utf8]" in result.output


def test_validate_a_50_mb_file_is_refused_as_too_large(in_tmp):
    big = in_tmp / "big.yaml"
    with big.open("wb") as out:
        chunk = b"a: 1\n" * 200_000  # 1 MB
        for _ in range(50):
            out.write(chunk)
    assert big.stat().st_size == 50_000_000
    result = run("validate", "-f", "big.yaml")
    assert_refused_cleanly(result)
    assert "error[file-too-large]" in result.output


def test_validate_a_directory_exits_1_with_a_diagnostic(in_tmp):
    # Regression: click's dir_okay=False made this a usage error, exit 2, and no JSON.
    (in_tmp / "specs").mkdir()
    result = run("validate", "-f", "specs")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "error: specs is a directory, not a file" in result.stderr


def test_validate_a_directory_in_json_is_still_json(in_tmp):
    (in_tmp / "specs").mkdir()
    result = run("validate", "-f", "specs", "--format", "json")
    assert result.exit_code == 1
    assert json.loads(result.output)["diagnostics"][0]["code"] == "file"


def test_validate_a_deeply_nested_file_exits_1(in_tmp):
    (in_tmp / "deep.yaml").write_text("- " * 100_000 + "x\n")
    result = run("validate", "-f", "deep.yaml")
    assert_refused_cleanly(result)
    assert "error[too-deep]" in result.output


# --- validate: user text is printed as written ----------------------------------------------


def test_rich_markup_in_the_spec_is_printed_literally(in_tmp):
    (in_tmp / "spec.yaml").write_text(
        "version: 1\nproject: '[bold red]x[/]'\nenvironments: {local: {target: local}}\n"
    )
    result = run("validate", "-f", "spec.yaml")
    assert result.exit_code == 1
    assert "the text '[bold red]x[/]' does not have the expected form" in result.output
    assert " 2 | project: '[bold red]x[/]'" in result.output


def test_rich_markup_in_the_file_name_is_printed_literally(in_tmp):
    name = "spec[bold red]x[i].yaml"
    (in_tmp / name).write_text("version: 1\nproject: ok\nenvironments: {local: {target: local}}\n")
    result = run("validate", "-f", name)
    assert result.exit_code == 0, result.output
    assert f"{name}: valid (1 environment(s): local)" in result.output


# --- schema --------------------------------------------------------------------------------


def test_schema_prints_the_packaged_schema_as_json():
    result = run("schema")
    assert result.exit_code == 0
    printed = json.loads(result.output)
    assert printed == json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert printed == load_schema()


def test_schema_markdown_prints_the_field_reference():
    result = run("schema", "--markdown")
    assert result.exit_code == 0
    assert result.output.lstrip().startswith("#")
    assert "endpoints" in result.output
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.output)


# --- the console script --------------------------------------------------------------------


def test_console_script_validates_the_reference_spec():
    proc = subprocess.run(
        [str(CONSOLE_SCRIPT), "validate", "-f", str(REFERENCE)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"{REFERENCE}: valid (3 environment(s): dev, local, prod)" in proc.stdout
    assert "Traceback" not in proc.stderr
