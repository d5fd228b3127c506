"""Policy: compliance rules over each environment's IR, their packs and waivers, the audit's
reports, and compliance diffs between revisions and environments.

The rules are listed once, in `policy.rules.RULES`; their ids in `policy.rule_ids`, which
`validate` reads to check waivers without importing a rule.
"""
