"""The rules are listed once (`RULES`), each with an id written once (`RuleId`), and
`validate` checks the ids waivers name without loading a rule."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mlinfra.policy.engine import packs_of
from mlinfra.policy.model import Rule
from mlinfra.policy.packs import PACKS
from mlinfra.policy.rule_ids import RULE_IDS, RuleId
from mlinfra.policy.rules import (
    RULES,
    endpoints,
    feature_stores,
    identity,
    jobs,
    models,
    operations,
    storage,
)
from mlinfra.spec.schema import load_schema
from mlinfra.spec.validate import validate_text

CHURN = Path(__file__).resolve().parents[2] / "examples" / "churn" / "mlinfra.yaml"
AREAS = (endpoints, feature_stores, identity, jobs, models, operations, storage)


def test_every_rule_has_an_id_of_its_own_and_every_id_a_rule() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    assert set(ids) == RULE_IDS
    assert all(type(r.id) is str for r in RULES)  # plain text, as reports write it


def test_every_rule_an_area_declares_is_listed() -> None:
    declared = {
        value.id: value
        for area in AREAS
        for value in vars(area).values()
        if isinstance(value, Rule)
    }
    assert sorted(declared) == sorted(r.id for r in RULES)
    assert all(declared[r.id] is r for r in RULES)


def test_ids_are_the_names_users_write() -> None:
    assert RuleId.ENDPOINT_KMS_KEY == "endpoint-kms-key"
    assert f"{RuleId.S3_TLS_ONLY}" == "s3-tls-only"
    assert all(i.value == i.name.lower().replace("_", "-") for i in RuleId)


def test_validate_checks_waivers_without_loading_the_rules() -> None:
    # The rules import lowering and the monitor job's code (pandas): a cold `validate`,
    # which checks the ids waivers name, must not pay for them.
    script = (
        "import json, sys\n"
        "from mlinfra.spec.validate import validate_file\n"
        f"result = validate_file({str(CHURN)!r})\n"
        "print(json.dumps([result.ok, sorted(m for m in sys.modules if m.startswith("
        "('mlinfra.policy', 'pandas')))]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    ok, loaded = json.loads(done.stdout)
    assert ok
    assert "mlinfra.policy.rule_ids" in loaded
    assert not [m for m in loaded if m.startswith(("mlinfra.policy.rules", "pandas"))]


def test_the_packs_are_the_schemas(tmp_path: Path) -> None:
    # The schema is the packs' source (the spec's `policies.packs` enum and default); the
    # CLI's `--pack` choices and the audit read `policy.packs` without loading the schema.
    packs = load_schema()["properties"]["policies"]["properties"]["packs"]
    assert PACKS == tuple(packs["items"]["enum"])
    text = "version: 1\nproject: mini\nenvironments:\n  dev:\n    target: sagemaker\n"
    spec = validate_text(text, "mlinfra.yaml", tmp_path).environments["dev"]
    assert packs_of(spec) == tuple(packs["default"])
    assert all(set(r.packs) <= set(PACKS) for r in RULES)
