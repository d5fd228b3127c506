"""Compliance diffs: what a change to the spec, or a step from one environment to another, does
to compliance.

Two audits are compared finding by finding (new, resolved, unchanged: `compare`), and the two
IRs are compared for security-relevant changes the rules may not fail on (`security`, the
judge, with `iam`, the statement algebra it reads policies with): a KMS key dropped, network
isolation turned off, a VPC left, an IAM statement broadened, a public access block removed,
model approval made automatic, data capture turned down. `model` holds what a diff is;
`views` writes it as text, JSON or Markdown for a pull request.
"""
