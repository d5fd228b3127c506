"""Run the monitor job's archive as the scikit-learn image would: nothing of mlinfra but the
archive, and an import guard.

    python -I guarded_job.py ARCHIVE [job arguments...]

`-I` (isolated) leaves out PYTHONPATH and the user's site-packages. The archive comes first on
sys.path, so `mlinfra` is the archive's; the guard refuses any import of what the image does
not have (PyYAML, Pulumi, Jinja, rich, click, jsonschema, moto), and after the run every
`mlinfra` module must have come from the archive. A guard failure exits 97.
"""

from __future__ import annotations

import importlib.abc
import runpy
import sys

FORBIDDEN = {"yaml", "pulumi", "pulumi_aws", "jinja2", "rich", "click", "jsonschema", "moto"}
GUARD_FAILED = 97


class Guard(importlib.abc.MetaPathFinder):
    def __init__(self) -> None:
        self.refused: list[str] = []

    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in FORBIDDEN:
            self.refused.append(name)
            raise ImportError(f"the monitor job imported {name}, which its image does not have")
        return None


def main() -> int:
    archive = sys.argv[1]
    sys.argv = [archive, *sys.argv[2:]]
    sys.path[0] = archive  # instead of this script's folder
    guard = Guard()
    sys.meta_path.insert(0, guard)
    code = 0
    try:
        runpy.run_path(archive, run_name="__main__")
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    strays = sorted(
        name
        for name, module in sys.modules.items()
        if name.split(".")[0] == "mlinfra"
        and not (getattr(module, "__file__", None) or "").startswith(archive)
    )
    if guard.refused or strays:
        print(f"guard: refused {guard.refused}, mlinfra from outside {strays}", file=sys.stderr)
        return GUARD_FAILED
    return code


if __name__ == "__main__":
    sys.exit(main())
