"""The distribution is named `mlinfra-compiler`, free on PyPI, while the command and the
import package stay `mlinfra`; nothing tells anyone to `pip install mlinfra`, which installs
an unrelated project that owns that name on PyPI (a dependency-confusion hazard)."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import yaml

import mlinfra

ROOT = Path(__file__).parents[1]
DISTRIBUTION = "mlinfra-compiler"
WORKFLOW = ROOT / "examples" / "ci" / "github-actions-preview.yml"


def test_the_distribution_has_its_own_name_and_keeps_the_command() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == DISTRIBUTION
    assert project["scripts"] == {"mlinfra": "mlinfra.cli.main:main"}
    assert metadata.version(DISTRIBUTION) == mlinfra.__version__ == project["version"]


def _texts() -> list[Path]:
    suffixes = {".md", ".yml", ".yaml", ".toml", ".py", ".txt", ".cfg"}
    folders = ["docs", "examples", "src", "tests", "benchmarks", ".ci"]
    found = [ROOT / "README.md", ROOT / "Makefile", ROOT / "pyproject.toml"]
    for folder in folders:
        found += [p for p in (ROOT / folder).rglob("*") if p.suffix in suffixes or p.name == "run"]
    return [p for p in found if p.is_file() and ".mlinfra" not in p.parts]


def test_nothing_installs_the_unrelated_mlinfra_from_the_package_index() -> None:
    # `pip install mlinfra`, with or without options, extras or a version, as a whole word.
    bare = re.compile(
        r"pip3? install(\s+-{1,2}[\w-]+)*\s+[\"']?mlinfra(\[[^\]]*\])?([=<>~!]|[\"'\s]|$)"
    )
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in _texts()
        if path != Path(__file__)
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if bare.search(line)
    ]
    assert offenders == []


def test_the_ci_example_installs_mlinfra_from_a_pinned_commit_of_its_repository() -> None:
    what = yaml.safe_load(WORKFLOW.read_text())["env"]["MLINFRA"]
    requirement, _, url = what.partition(" @ ")
    assert requirement == f"{DISTRIBUTION}[local]"
    repository, _, commit = url.removeprefix("git+").rpartition("@")
    assert repository.startswith("https://") and url.startswith("git+https://")
    # A placeholder the user must fill in, marked as such, where the commit goes.
    assert "COMMIT-SHA" in commit and "YOUR-" in commit
    steps = [
        s for job in yaml.safe_load(WORKFLOW.read_text())["jobs"].values() for s in job["steps"]
    ]
    installs = [s["run"] for s in steps if s.get("name") == "Install mlinfra"]
    assert installs and all('"$MLINFRA"' in run for run in installs)
