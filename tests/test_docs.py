"""The generated references in `docs/` are current, the README links them, and its minimal
spec is valid.

Regenerate the references with `MLINFRA_ACCEPT=1 .venv/bin/python -m pytest tests/test_docs.py`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from mlinfra.cli.docs import commands_markdown
from mlinfra.cli.main import cli
from mlinfra.spec.docs import reference_markdown
from mlinfra.spec.schema import load_schema
from mlinfra.spec.validate import validate_text

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
# Each generated section: the page that holds it, and how it is made.
SECTIONS = {
    "commands": ("docs/commands.md", lambda: commands_markdown(cli)),
    "reference": ("docs/spec.md", lambda: reference_markdown(load_schema())),
}


def _section(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- {name}:start -->\n)(.*?)(<!-- {name}:end -->)", re.S)


@pytest.mark.parametrize("name", sorted(SECTIONS))
def test_generated_reference_is_current(name: str) -> None:
    page, generate = SECTIONS[name]
    path = ROOT / page
    text = path.read_text()
    wanted = generate().rstrip("\n") + "\n"
    if os.environ.get("MLINFRA_ACCEPT"):
        text = _section(name).sub(lambda m: m.group(1) + wanted + m.group(3), text)
        path.write_text(text)
    match = _section(name).search(text)
    assert match, f"{page} lacks the {name} markers"
    assert match.group(2) == wanted, f"{page} is stale: rerun with MLINFRA_ACCEPT=1"


@pytest.mark.parametrize("page", sorted(page for page, _ in SECTIONS.values()))
def test_readme_links_each_reference(page: str) -> None:
    assert f"]({page})" in README.read_text()
    assert (ROOT / page).is_file()


def test_readme_sets_up_with_make_run_and_make_test() -> None:
    quickstart = re.search(r"## Quickstart\n.*?```sh\n(.*?)```", README.read_text(), re.S)
    assert quickstart
    commands = [line.split("#")[0].strip() for line in quickstart.group(1).splitlines()]
    assert commands == ["make run", "make test"]


def test_readme_minimal_spec_is_valid() -> None:
    block = re.search(r"## A minimal spec.*?```yaml\n(.*?)```", README.read_text(), re.S)
    assert block
    result = validate_text(block.group(1), "README.md")
    assert result.ok, [str(d) for d in result.diagnostics]
    assert set(result.environments) == {"local"}
    assert result.environments["local"].component("endpoint.classifier-api") is not None
