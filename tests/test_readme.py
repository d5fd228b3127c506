"""The README's generated sections are current, and its minimal spec is valid.

Regenerate with `MLINFRA_ACCEPT=1 .venv/bin/python -m pytest tests/test_readme.py`.
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

README = Path(__file__).parents[1] / "README.md"
SECTIONS = {
    "commands": lambda: commands_markdown(cli),
    "reference": lambda: reference_markdown(load_schema()),
}


def _section(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- {name}:start -->\n)(.*?)(<!-- {name}:end -->)", re.S)


@pytest.mark.parametrize("name", sorted(SECTIONS))
def test_readme_section_is_generated_from_the_code(name: str) -> None:
    text = README.read_text()
    wanted = SECTIONS[name]().rstrip("\n") + "\n"
    if os.environ.get("MLINFRA_ACCEPT"):
        text = _section(name).sub(lambda m: m.group(1) + wanted + m.group(3), text)
        README.write_text(text)
    match = _section(name).search(text)
    assert match, f"README lacks the {name} markers"
    assert match.group(2) == wanted, "README is stale: rerun with MLINFRA_ACCEPT=1"


def test_readme_minimal_spec_is_valid() -> None:
    block = re.search(r"## A minimal spec.*?```yaml\n(.*?)```", README.read_text(), re.S)
    assert block
    result = validate_text(block.group(1), "README.md")
    assert result.ok, [str(d) for d in result.diagnostics]
    assert set(result.environments) == {"local"}
    assert result.environments["local"].component("endpoint.classifier-api") is not None
