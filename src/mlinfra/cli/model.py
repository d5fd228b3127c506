"""`mlinfra model versions|show|approve|reject`: a model's versions in its registry and a
reviewer's decisions on them, in the local emulator or on SageMaker (through boto3, with the
user's own credentials; only a decision writes). The work is `mlinfra.operations`'
`model_versions` and `approvals`; here, what it shows and asks."""

from __future__ import annotations

import sys

import click

from mlinfra.cli.common import make_console, print_json, reports_errors, say, validate_spec
from mlinfra.cli.options import ENV_OPTION, JSON_OPTION, SPEC_OPTION
from mlinfra.operations.errors import OperationError

STATUS_STYLES = {"Approved": "green", "Rejected": "red", "PendingManualApproval": "yellow"}


@click.group("model")
def model_command() -> None:
    """See the versions of a spec's models and their evidence; approve or reject them.

    Works on `target: local` environments (the emulator running beside the spec) and on
    SageMaker ones (with your AWS credentials)."""


def _decision(decision: str, summary: str):
    """`mlinfra model approve` or `reject`: the same options, the same review."""

    @model_command.command(decision, help=summary)
    @click.argument("name")
    @ENV_OPTION
    @click.option(
        "--version",
        type=click.IntRange(1),
        help=f"The version to {decision}.  [default: the newest one]",
    )
    @click.option(
        "--reason",
        metavar="TEXT",
        help="Why, recorded on the version with who decided"
        + (" (required to reject)." if decision == "reject" else "."),
    )
    @click.option("--yes", "-y", is_flag=True, help="Do not ask after showing the comparison.")
    @SPEC_OPTION
    @reports_errors
    def command(
        name: str, env: str, version: int | None, reason: str | None, yes: bool, spec_file: str
    ) -> None:
        # Deferred: the operation loads boto3; `mlinfra --version` must not.
        from mlinfra.operations.approvals import DecisionRequest, decide

        request = DecisionRequest(
            validate_spec(spec_file), spec_file, env, name, version, decision, reason
        )
        done = decide(request, _asker(decision, yes))
        number = done.review.candidate.number
        say(
            make_console(),
            f"{done.status.lower()} {name} version {number}: {done.description}",
            STATUS_STYLES.get(done.status),
        )
        if done.status == "Approved":
            say(
                make_console(),
                f"endpoints serving {name} move to it on the next `mlinfra apply --env {env}`",
            )

    return command


approve_command = _decision(
    "approve",
    """Approve version N of model NAME, recording who approved it and why.

    First shows its metrics, data and commit against the version that serves now, and asks
    (--yes does not). Endpoints that serve the model's newest approved version move to it on
    the next `mlinfra apply`. Refused: a version that does not exist or is approved already.""",
)
reject_command = _decision(
    "reject",
    """Reject version N of model NAME, recording who rejected it and why (--reason).

    First shows its metrics, data and commit against the version that serves now, and asks
    (--yes does not). A rejected version is never deployed; if it served, endpoints move back
    to the newest approved version on the next `mlinfra apply`. Refused: a version that does
    not exist or is rejected already.""",
)


def _asker(decision: str, yes: bool):
    """The review shown, then the question asked (unless `yes`)."""

    def confirm(review) -> bool:
        show_review(review)
        if yes:
            return True
        if not sys.stdin.isatty():
            raise OperationError(
                f"not {decision.removesuffix('e')}ing without confirmation",
                "pass --yes, or run it in a terminal",
            )
        number = review.candidate.number
        return click.confirm(f"{decision.capitalize()} {review.model} version {number}?")

    return confirm


def show_review(review) -> None:
    """The candidate against the serving version: metric by metric, then data and commit."""
    console = make_console()
    candidate, serving = review.candidate, review.serving
    say(console, f"{review.model} version {candidate.number} ({candidate.status})", "bold")
    if serving is None:
        say(console, "  no version serves now: nothing to compare with")
    elif serving.number == candidate.number:
        say(console, "  this is the version that serves now")
    else:
        say(console, f"  against version {serving.number}, which serves now:")
    others = serving is not None and serving.number != candidate.number
    for name, mine, theirs in review.compared():
        line = f"    {name:<16} {_number(mine):>10}"
        if others:
            change = "" if mine is None or theirs is None else f"  ({mine - theirs:+.4f})"
            line += f"   was {_number(theirs)}{change}"
        say(console, line)
    if not review.compared():
        say(console, "    no metrics: its evaluation report is missing or unreadable")
    if others:
        for what, mine, theirs in (
            ("data", _data(candidate), _data(serving)),
            ("commit", candidate.commit, serving.commit),
            ("hyperparameters", candidate.hyperparameters, serving.hyperparameters),
        ):
            same = "same as" if mine == theirs else "differs from"
            say(console, f"    {what}: {same} version {serving.number}")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _data(version) -> dict[str, str]:
    return {name: data.get("sha256", "") for name, data in version.inputs.items()}


@model_command.command("versions")
@click.argument("name")
@ENV_OPTION
@SPEC_OPTION
@JSON_OPTION
@reports_errors
def versions_command(name: str, env: str, spec_file: str, as_json: bool) -> None:
    """List the versions of model NAME in its registry, newest first: each one's status, the
    metrics of its evaluation report, its data, commit and creation time."""
    # Deferred: the operation loads boto3; `mlinfra --version` must not.
    from mlinfra.operations.model_versions import versions
    from mlinfra.operations.pipelines import PipelineRequest

    found = versions(PipelineRequest(validate_spec(spec_file, as_json), spec_file, env, name))
    if as_json:
        listed = [v.to_json() for v in found]
        print_json({"model": name, "environment": env, "versions": listed})
        return
    console = make_console()
    for version in found:
        created = version.created.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(version.metrics.items()))
        say(
            console,
            f"version {version.number}  {version.status}  {created}  {metrics or 'no report'}",
            STATUS_STYLES.get(version.status),
        )
        data = ", ".join(_input(n, d) for n, d in sorted(version.inputs.items())) or "unknown"
        say(console, f"    data: {data}  commit: {(version.commit or 'unknown')[:12]}")


@model_command.command("show")
@click.argument("name")
@ENV_OPTION
@click.option("--version", type=click.IntRange(1), required=True, help="The version to show.")
@SPEC_OPTION
@JSON_OPTION
@reports_errors
def show_command(name: str, env: str, version: int, spec_file: str, as_json: bool) -> None:
    """Show version N of model NAME and its evidence: status and why, the metrics of its
    evaluation report, the data, code and hyperparameters that made it (content hashes), the
    git commit, the pipeline execution that registered it, and every approval or rejection
    (who, when, why)."""
    # Deferred: the operation loads boto3; `mlinfra --version` must not.
    from mlinfra.operations.model_versions import show
    from mlinfra.operations.pipelines import PipelineRequest

    found = show(PipelineRequest(validate_spec(spec_file, as_json), spec_file, env, name), version)
    if as_json:
        print_json({"model": name, "environment": env, "version": found.to_json()})
        return
    console = make_console()
    say(console, f"{name} version {found.number}  ({found.arn})")
    status = found.status + (
        f": {found.approval_description}" if found.approval_description else ""
    )
    say(console, f"  status: {status}", STATUS_STYLES.get(found.status))
    say(console, f"  created: {found.created.astimezone().strftime('%Y-%m-%d %H:%M:%S')}")
    say(console, f"  registered by: {found.generated_by or 'unknown'}")
    commit = found.commit or "unknown (the spec is not in git)"
    say(console, f"  commit: {commit}" + (f" of {found.repository}" if found.repository else ""))
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(found.metrics.items()))
    say(console, f"  metrics: {metrics or 'none'}" + (f" ({found.report})" if found.report else ""))
    for input_name, data in sorted(found.inputs.items()):
        say(
            console,
            f"  data {input_name}: " + "  ".join(f"{k} {v}" for k, v in sorted(data.items())),
        )
    for step, digest in sorted(found.code.items()):
        say(console, f"  code {step}: {digest}")
    parameters = ", ".join(f"{k}={v}" for k, v in sorted(found.hyperparameters.items()))
    say(console, f"  hyperparameters: {parameters or 'none'}")
    say(console, f"  artifact: {found.artifact or 'unknown'}")
    say(console, "  approval history:" + ("" if found.history else " none recorded"))
    for decision in found.history:
        at = decision.at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        why = f": {decision.reason}" if decision.reason else ""
        say(console, f"    {at}  {decision.status} by {decision.by}{why}",
            STATUS_STYLES.get(decision.status))  # fmt: skip


def _input(name: str, data: dict[str, str]) -> str:
    digest = data.get("sha256", "").removeprefix("sha256:")[:12]
    rows = f", {data['rows']} rows" if "rows" in data else ""
    return f"{name} {digest}{rows}"
