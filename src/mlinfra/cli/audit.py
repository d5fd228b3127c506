"""`mlinfra audit`: compliance rules over what each environment deploys, with waivers."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mlinfra.cli.common import fail, make_console, reports_errors, say, validate_spec
from mlinfra.cli.options import SPEC_OPTION
from mlinfra.policy.packs import PACKS
from mlinfra.policy.reports import FORMATS
from mlinfra.policy.severity import Severity

FAIL_ON = ("critical", "high", "medium", "low", "info", "none")
DIFF_FORMATS = ("text", "json", "markdown")
FAILED_EXIT = 1


def threshold(fail_on: str) -> Severity | None:
    return None if fail_on.lower() == "none" else Severity.parse(fail_on)


@click.group("audit", invoke_without_command=True)
@click.option(
    "--env",
    "envs",
    metavar="ENV",
    multiple=True,
    help="An environment to audit (repeatable).  [default: every environment of the spec]",
)
@SPEC_OPTION
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text for people, json for scripts, sarif for code scanning, junit for CI test "
    "views, markdown for pull requests (--diff and --against-env: text, json, markdown).",
)
@click.option(
    "--out",
    metavar="FILE",
    type=click.Path(path_type=str),
    help="Write the report to FILE and print a one-line summary instead.",
)
@click.option(
    "--fail-on",
    "fail_on",
    type=click.Choice(FAIL_ON, case_sensitive=False),
    default="high",
    show_default=True,
    help="Exit 1 when an unwaived finding is at least this severe (none: never).",
)
@click.option(
    "--diff",
    "revisions",
    metavar="BASE[..HEAD]",
    help="Compare the findings of two git revisions of the spec (HEAD: the working tree "
    "when left out): what is new, fixed, waived; exits 1 only for new findings.",
)
@click.option(
    "--against-env",
    "other",
    metavar="OTHER",
    help="Compare the findings of --env ENV with those of OTHER (e.g. dev against prod).",
)
@click.pass_context
@reports_errors
def audit_command(
    ctx: click.Context,
    envs: tuple[str, ...],
    spec_file: str,
    fmt: str,
    out: str | None,
    fail_on: str,
    revisions: str | None,
    other: str | None,
) -> None:
    """Check what each environment deploys against the rules of its policy packs.

    Audits every environment of the spec unless --env names some; environments with
    `target: local` are skipped (the audit judges what is deployed to SageMaker). Rules come
    from the packs of `policies.packs` (default: baseline); a finding accepted under
    `policies.waivers` is reported as waived. Exits 0 when no unwaived finding reaches
    --fail-on, 1 when one does or the spec is invalid, 2 on a usage error.

    `mlinfra audit rules` lists the rules.
    """
    if ctx.invoked_subcommand is not None:
        return
    limit = threshold(fail_on)
    if revisions is not None or other is not None:
        compare(ctx, envs, spec_file, fmt, out, limit, revisions, other)
        return

    # Deferred: the operation loads the stages and the rules; `mlinfra --version` must not.
    from mlinfra.cli.views.progress import ProgressView
    from mlinfra.operations.compliance import AuditRequest, audit
    from mlinfra.policy.reports.formats import render

    result = validate_spec(spec_file, fmt == "json", environments=envs or None)
    notes = make_console(stderr=True)
    with ProgressView() as progress:
        results = audit(AuditRequest(result, spec_file, envs), progress)

    if fmt == "text" and out is None:
        # Start-up: only the terminal report needs the text view.
        from mlinfra.policy.reports.text import report

        make_console().print(report(results, fail_on=limit), end="")
    else:
        emit(render(fmt, results, fail_on=limit), out)
        for result in results:
            for warning in result.warnings:
                say(notes, f"warning: {warning}", "yellow")
    if out is not None:
        say(make_console(), f"Wrote the {fmt} audit report to {out}: {tally(results)}")

    failing = [(r.environment, f) for r in results for f in r.failing(limit)]
    if failing:
        where = ", ".join(dict.fromkeys(env for env, _ in failing))
        say(
            notes,
            f"audit failed: {len(failing)} unwaived finding(s) at or above {limit.label} "
            f"in {where}",
            "bold red",
        )
        raise SystemExit(FAILED_EXIT)


def emit(report: str, out: str | None) -> None:
    """Print the report, or write it to `out` (exits 1 when that cannot be written)."""
    if out is None:
        click.echo(report, nl=False)
        return
    try:
        Path(out).write_text(report, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")


def tally(results) -> str:
    envs = ", ".join(r.environment for r in results) or "no environment"
    counts: dict[str, int] = {}
    for result in results:
        for key, n in result.summary().items():
            counts[key] = counts.get(key, 0) + n
    by = ", ".join(
        f"{counts[s.label]} {s.label}"
        for s in sorted(Severity, reverse=True)
        if counts.get(s.label)
    )
    active = counts.get("active", 0)
    found = f"{active} finding(s) ({by})" if active else "no findings"
    return f"{envs}: {found}, {counts.get('waived', 0)} waived"


def compare(
    ctx: click.Context,
    envs: tuple[str, ...],
    spec_file: str,
    fmt: str,
    out: str | None,
    limit: Severity | None,
    revisions: str | None,
    other: str | None,
) -> None:
    """`--diff` and `--against-env`: the compliance diff, exiting 1 on a new finding."""
    if revisions is not None and other is not None:
        raise click.UsageError("--diff and --against-env cannot be used together", ctx)
    if fmt not in DIFF_FORMATS:
        raise click.UsageError(
            f"a compliance diff is reported as {', '.join(DIFF_FORMATS)}, not {fmt}", ctx
        )
    names = list(dict.fromkeys(envs))
    if other is not None and len(names) != 1:
        raise click.UsageError("--against-env OTHER compares one --env ENV with OTHER", ctx)
    if revisions is not None and len(names) > 1:
        raise click.UsageError("--diff compares one --env, or every environment without it", ctx)

    # Deferred: the operation loads the stages and the rules; `mlinfra --version` must not.
    from mlinfra.operations.compliance import DiffRequest, compliance_diff
    from mlinfra.policy.diff.views import render_diff

    if other is not None:
        result = validate_spec(spec_file, fmt == "json")
        request = DiffRequest(spec_file, names[0], other=other, validation=result)
    else:
        base, head = split_revisions(ctx, revisions)
        if head is None:
            validate_spec(spec_file, fmt == "json")
        request = DiffRequest(spec_file, names[0] if names else None, base, head)
    diff = compliance_diff(request)
    report = render_diff(diff, fmt)

    emit(report, out)
    new = [f for f in diff.new if not f.waived]
    if out is not None:
        say(make_console(), f"Wrote the {fmt} compliance diff to {out}: {len(new)} new finding(s)")
    failing = [f for f in new if limit is not None and f.severity >= limit]
    if failing:
        say(
            make_console(stderr=True),
            f"audit failed: {len(failing)} new unwaived finding(s) at or above {limit.label}",
            "bold red",
        )
        raise SystemExit(FAILED_EXIT)


def split_revisions(ctx: click.Context, revisions: str) -> tuple[str, str | None]:
    """`BASE`, `BASE..HEAD` or `BASE...HEAD` -> (BASE, HEAD or None)."""
    separator = "..." if "..." in revisions else ".."
    base, _, head = revisions.partition(separator)
    base, head = base.strip(), head.strip()
    if not base:
        raise click.UsageError(f"--diff {revisions!r}: write BASE or BASE..HEAD", ctx)
    return base, head or None


@audit_command.command("rules")
@click.option("--json", "as_json", is_flag=True, help="Print the rules as JSON.")
@click.option(
    "--pack",
    "packs",
    type=click.Choice(PACKS),
    multiple=True,
    help="Only the rules of this pack (repeatable).",
)
def rules_command(as_json: bool, packs: tuple[str, ...]) -> None:
    """List the audit's rules: id, severity, packs and title."""
    # Loaded when listed: the rules bring lowering with them.
    from mlinfra.policy.engine import rules_for
    from mlinfra.policy.rules import RULES

    rules = rules_for(packs, RULES) if packs else RULES
    if as_json:
        listed = [
            {
                "id": r.id,
                "title": r.title,
                "severity": r.severity.label,
                "packs": list(r.packs),
                "resource_types": list(r.resource_types),
                "rationale": r.rationale,
                "remediation": r.remediation,
                "references": {
                    "checkov": list(r.references.checkov),
                    "aws_config": list(r.references.aws_config),
                    "security_hub": list(r.references.security_hub),
                },
            }
            for r in rules
        ]
        click.echo(json.dumps({"format_version": "1", "rules": listed}, indent=2))
        return
    rows = [("RULE", "SEVERITY", "PACKS", "TITLE")] + [
        (r.id, r.severity.label, ",".join(r.packs), r.title) for r in rules
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    console = make_console()
    for row in rows:
        line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False))
        say(console, f"{line}  {row[3]}", "bold" if row is rows[0] else None)
    say(console, f"{len(rules)} rule(s)", "dim")
