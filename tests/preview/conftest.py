"""Preview tests: a small project in a git repository on a feature branch.

Tests that bring previews up start a real detached emulator beside the spec (as `preview up`
does when none runs); the `spec_file` fixture stops it afterwards.
"""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pytest
from preview_project import BRANCH, git, shop_spec
from sklearn.linear_model import LogisticRegression

from mlinfra.emulator import process


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A git repository (`main`, then `feat/Scorer_v2` checked out) with the spec and a model."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3))
    folder = tmp_path / "models" / "a"
    folder.mkdir(parents=True)
    joblib.dump(LogisticRegression().fit(x, (x[:, 0] > 0).astype(int)), folder / "model.joblib")
    (tmp_path / "mlinfra.yaml").write_text(shop_spec())
    (tmp_path / ".gitignore").write_text(".mlinfra/\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "shop")
    git(tmp_path, "checkout", "-qb", BRANCH)
    return tmp_path


@pytest.fixture()
def spec_file(project: Path):
    path = project / "mlinfra.yaml"
    yield path
    process.stop(path)
