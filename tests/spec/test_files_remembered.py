"""Validation asks the file system about each file once, and afresh on the next validation."""

from __future__ import annotations

import shutil
from pathlib import Path
from unittest import mock

from mlinfra.spec.checks import paths
from mlinfra.spec.validate import validate_file

CHURN = Path(__file__).resolve().parents[2] / "examples" / "churn"


def copy_of_churn(tmp_path: Path) -> Path:
    folder = tmp_path / "churn"
    shutil.copytree(CHURN, folder, ignore=shutil.ignore_patterns(".mlinfra", "stacks"))
    return folder / "mlinfra.yaml"


def test_a_file_made_between_two_validations_is_seen(tmp_path) -> None:
    spec = copy_of_churn(tmp_path)
    baseline = spec.parent / "data" / "baseline.csv"
    kept = baseline.read_bytes()
    baseline.unlink()
    assert "missing-file" in {d.code for d in validate_file(spec).diagnostics}
    baseline.write_bytes(kept)
    assert "missing-file" not in {d.code for d in validate_file(spec).diagnostics}


def test_each_file_is_asked_about_once_per_validation(tmp_path) -> None:
    spec = copy_of_churn(tmp_path)
    with mock.patch.object(paths, "_exists", wraps=paths._exists) as asked:
        validate_file(spec)
    where = [call.args[0] for call in asked.call_args_list]
    assert where and len(where) == len(set(where))
