"""The compile cache of `mlinfra render`: a render after no change writes the same files
without compiling; after any change of what the compile reads, the files are those of a clean
compile, byte for byte; a damaged cache is a miss, never an error."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import mlinfra
from mlinfra.cli.main import cli
from mlinfra.operations import compile_cache
from mlinfra.spec import validate as validate_module

CHURN = Path(__file__).resolve().parents[2] / "examples" / "churn"
CACHED = "from the compile cache"


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output + result.stderr
    return result


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the churn example; its spec's path."""
    folder = tmp_path / "churn"
    shutil.copytree(CHURN, folder, ignore=shutil.ignore_patterns("__pycache__", ".mlinfra"))
    return folder / "mlinfra.yaml"


def render(spec: Path, env: str = "prod") -> tuple[Result, dict[str, bytes]]:
    out = spec.parent / "stacks" / env
    result = run("render", "--env", env, "-f", str(spec), "--out", str(out))
    assert result.exit_code == 0, result.output + result.stderr
    return result, {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


def render_all(spec: Path) -> tuple[Result, dict[str, bytes]]:
    out = spec.parent / "stacks"
    result = run("render", "--all", "-f", str(spec), "--out", str(out))
    assert result.exit_code == 0, result.output + result.stderr
    files = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    return result, files


def clean_render(spec: Path, env: str = "prod") -> dict[str, bytes]:
    shutil.rmtree(compile_cache.cache_dir(str(spec)), ignore_errors=True)
    result, files = render(spec, env)
    assert CACHED not in result.stdout
    return files


@pytest.fixture
def no_validation(monkeypatch) -> Callable[[], None]:
    """Call it to make any validation from then on fail the test: a hit must not validate."""

    def forbid() -> None:
        def refuse(*args, **kwargs):
            raise AssertionError("the spec was validated: the render was not a cache hit")

        monkeypatch.setattr(validate_module, "validate_file", refuse)

    return forbid


def test_a_render_after_no_change_writes_the_same_files_without_validating(
    project: Path, no_validation
) -> None:
    first, files = render(project)
    assert CACHED not in first.stdout
    (project.parent / "stacks" / "prod" / "__main__.py").write_text("edited by hand\n")
    no_validation()
    again, files_again = render(project)
    assert CACHED in again.stdout
    assert files_again == files  # the hand edit is overwritten, as a compile would


def test_render_all_is_cached_as_a_whole(project: Path, no_validation) -> None:
    _, files = render_all(project)
    assert {name.split("/")[0] for name in files} == {"local", "dev", "prod"}
    no_validation()
    again, files_again = render_all(project)
    assert again.stdout.count(CACHED) == 3
    assert files_again == files


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


EDITS: dict[str, Callable[[Path], None]] = {
    # A component's value.
    "component": lambda spec: replace_in(
        spec, "instance_type: ml.m5.large", "instance_type: ml.m5.xlarge"
    ),
    # An environment's override.
    "override": lambda spec: replace_in(
        spec, "          instance_count: 2", "          instance_count: 3"
    ),
    # The environment's own settings.
    "environment": lambda spec: replace_in(
        spec, 'account: "222222222222"', 'account: "333333333333"'
    ),
    # A script a pipeline step names.
    "script": lambda spec: (spec.parent / "pipelines" / "prepare.py").write_text("print('new')\n"),
    # The monitor's baseline (its header gives the features the alarms watch).
    "baseline": lambda spec: replace_in(
        spec.parent / "data" / "baseline.csv", "tenure_months", "tenure"
    ),
    # A line added above everything: every source line the program cites moves.
    "lines": lambda spec: spec.write_text("# a comment\n" + spec.read_text()),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_after_an_edit_the_render_is_a_clean_compile_byte_for_byte(
    project: Path, edit: str
) -> None:
    _, before = render(project)
    EDITS[edit](project)
    result, cached_flow = render(project)
    assert CACHED not in result.stdout
    assert cached_flow != before  # the edit matters to the program...
    assert cached_flow == clean_render(project)  # ...and the cache did not hide it
    again, recalled = render(project)
    assert CACHED in again.stdout
    assert recalled == cached_flow


def test_a_new_mlinfra_version_is_a_miss(project: Path, monkeypatch) -> None:
    render(project)
    monkeypatch.setattr(mlinfra, "__version__", "99.0.0")
    result, _ = render(project)
    assert CACHED not in result.stdout


def test_changed_mlinfra_code_is_a_miss(project: Path, monkeypatch) -> None:
    render(project)
    monkeypatch.setattr(compile_cache, "code_fingerprint", lambda: "another build")
    result, _ = render(project)
    assert CACHED not in result.stdout


def test_another_output_folder_is_another_entry(project: Path) -> None:
    render(project)
    out = project.parent / "elsewhere" / "deeper"
    result = run("render", "--env", "prod", "-f", str(project), "--out", str(out))
    assert CACHED not in result.stdout
    program = (out / "__main__.py").read_text()
    assert "Source: ../../mlinfra.yaml" in program  # named from its own folder


def test_a_deleted_named_file_is_not_covered_up(project: Path) -> None:
    render(project)
    (project.parent / "pipelines" / "prepare.py").unlink()
    result = run("render", "--env", "prod", "-f", str(project), "--out", str(project.parent / "s"))
    assert CACHED not in result.stdout
    clean = run("render", "--env", "prod", "-f", str(project), "--out", str(project.parent / "s"))
    assert (result.exit_code, result.stderr) == (clean.exit_code, clean.stderr)
    assert "prepare.py" in result.stderr + result.stdout


def test_warnings_are_shown_on_a_hit_as_on_a_compile(project: Path, no_validation) -> None:
    # A canary's settings without a canary are unused: a warning, not an error.
    replace_in(project, "strategy: canary", "strategy: all_at_once")
    first, _ = render(project)
    assert "warning" in first.stderr
    no_validation()
    again, _ = render(project)
    assert CACHED in again.stdout
    assert again.stderr == first.stderr


def entry_files(spec: Path) -> tuple[list[Path], list[Path]]:
    folder = compile_cache.cache_dir(str(spec))
    return sorted(folder.glob("*.json")), sorted((folder / "objects").iterdir())


@pytest.mark.parametrize(
    "damage",
    ["index-garbage", "index-truncated", "index-foreign", "object-truncated", "object-missing"],
)
def test_a_damaged_cache_is_a_miss_and_is_rewritten(project: Path, damage: str) -> None:
    _, files = render(project)
    (index,), objects = entry_files(project)
    largest = max(objects, key=lambda p: p.stat().st_size)
    if damage == "index-garbage":
        index.write_bytes(b"\x00\xffnot json")
    elif damage == "index-truncated":
        index.write_bytes(index.read_bytes()[:40])
    elif damage == "index-foreign":
        index.write_text(json.dumps({"format": 1, "key": [], "paths": {"a": 1}, "stacks": 3}))
    elif damage == "object-truncated":
        largest.write_bytes(largest.read_bytes()[:100])
    else:
        largest.unlink()
    result, again = render(project)
    assert CACHED not in result.stdout
    assert again == files
    hit, recalled = render(project)
    assert CACHED in hit.stdout
    assert recalled == files


def test_a_cache_that_cannot_be_written_is_no_error(project: Path) -> None:
    (project.parent / ".mlinfra").mkdir()
    (project.parent / ".mlinfra" / "cache").write_text("a file where the folder would go")
    first, files = render(project)
    second, again = render(project)
    assert CACHED not in second.stdout
    assert again == files


def test_old_programs_are_not_kept(project: Path) -> None:
    render(project)
    EDITS["component"](project)
    render(project)
    EDITS["override"](project)
    _, files = render(project)
    _, objects = entry_files(project)
    # One program's worth: the large files of the last render (its program, the monitor job's
    # archive), none of the earlier programs.
    large = sum(len(content) > 100_000 for content in files.values())
    assert large >= 1
    assert sum(o.stat().st_size > 100_000 for o in objects) <= large


def test_every_project_file_a_render_opens_is_in_the_key(project: Path) -> None:
    """What the compile reads in the project folder, besides the spec, is among the paths the
    cache checks: else editing it would not be seen."""
    opened: set[str] = set()
    folder = str(project.parent)
    listening = [True]

    def hook(event: str, args: tuple) -> None:
        if listening and event == "open" and isinstance(args[0], str):
            if args[0].startswith(folder):
                opened.add(args[0])

    sys.addaudithook(hook)  # a hook stays for the process: it stops listening below
    try:
        render(project)
    finally:
        listening.clear()
    (index,), _ = entry_files(project)
    named = [str((project.parent / p).resolve()) for p in json.loads(index.read_text())["paths"]]
    cache = str(compile_cache.cache_dir(str(project)))
    stacks = str(project.parent / "stacks")
    read = {
        path for path in opened if not path.startswith((cache, stacks)) and path != str(project)
    }
    unkeyed = [p for p in read if not any(p == n or p.startswith(n + "/") for n in named)]
    assert read and not unkeyed


def test_the_code_fingerprint_follows_every_file_of_the_package(
    tmp_path: Path, monkeypatch
) -> None:
    package = tmp_path / "mlinfra"
    (package / "spec").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "spec" / "schema.json").write_text("{}")
    monkeypatch.setattr(mlinfra, "__file__", str(package / "__init__.py"))
    first = compile_cache.code_fingerprint()
    assert compile_cache.code_fingerprint() == first
    (package / "spec" / "schema.json").write_text('{"type": "object"}')
    assert compile_cache.code_fingerprint() != first


@pytest.mark.parametrize("field", ["out_dir", "file name", "env"])
def test_an_entry_writes_only_where_the_render_would(project: Path, field: str) -> None:
    """An entry is data a branch could commit: one naming another folder, file or
    environment (its key left as it was) is a miss, and nothing is written elsewhere."""
    _, files = render(project)
    (index,), _ = entry_files(project)
    entry = json.loads(index.read_text())
    stack = entry["stacks"][0]
    elsewhere = project.parent / "elsewhere"
    if field == "out_dir":
        stack["out_dir"] = str(elsewhere)
    elif field == "file name":
        stack["files"]["../../elsewhere.py"] = stack["files"].pop("__main__.py")
    else:
        stack["env"] = "dev"
    index.write_text(json.dumps(entry))
    result, again = render(project)
    assert CACHED not in result.stdout
    assert again == files
    assert not elsewhere.exists() and not (project.parent / "elsewhere.py").exists()


def test_the_cache_keeps_a_bounded_number_of_entries(project: Path, monkeypatch) -> None:
    monkeypatch.setattr(compile_cache, "KEPT_ENTRIES", 2)
    for n in range(4):
        run("render", "--env", "local", "-f", str(project), "--out", str(project.parent / str(n)))
    indexes, _ = entry_files(project)
    assert len(indexes) == 2
    hit = run("render", "--env", "local", "-f", str(project), "--out", str(project.parent / "3"))
    assert CACHED in hit.stdout  # the newest are the ones kept


def test_a_spec_that_is_a_named_pipe_is_refused_as_before(project: Path) -> None:
    """The cache reads the spec before validation does: a named pipe must not block it."""
    render(project)
    project.unlink()
    os.mkfifo(project)
    result = run("render", "--env", "prod", "-f", str(project))
    assert result.exit_code == 1
    assert "is a named pipe, not a file" in result.output + result.stderr
