"""The policy packs: named sets of rules an environment applies (`policies.packs`).

The spec's schema is their source (the `policies.packs` enum; its default reaches the audit
through the typed spec, `Policies.packs`). The names are repeated here because the CLI builds
`--pack`'s choices when it starts, where reading the schema would slow every command;
`tests/policy/test_rule_list.py` keeps the two equal.
"""

from __future__ import annotations

PACKS = ("baseline", "sagemaker-security", "prod-readiness")
