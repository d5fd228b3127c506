"""Model-quality monitors: the settings that only make sense together, which the schema cannot
judge (the metric against the problem type, which side a threshold sits on, what a rollback
needs to go back to).

A rollback marks the serving model version `Rejected` and serves the newest approved version
before it, which only a model served from its registry group (`version: latest-approved`)
can do; a threshold relative to the metric at registration reads the serving version's
registered metric, so it needs the same. Whether an earlier approved version exists is the
account's state, not the spec's: the monitor says so in its alert when there is none.

What validate can know statically, and says: whether the endpoint serves its group's latest
approved version (else: an error, there is nothing to go back to); whether any pipeline of
the spec registers versions into that group (else: a warning, they come from outside, and
nothing here says one will be approved before the serving one); and whether the versions it
registers carry an evaluation report (a condition step reading `<step>.metrics.`), which
relative lines are shares of (else: a warning, a relative line then judges nothing). What it
cannot know: how many approved versions the group holds when the monitor runs, and whether
the report holds the monitor's metric; the run reports both.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlinfra.diagnostics import Diagnostic, error, warning
from mlinfra.monitoring.quality_metrics import METRICS, lower_is_better, problem_types_of
from mlinfra.spec.checks.context import CheckContext
from mlinfra.spec.model import ConditionStep, Monitor, Pipeline, Quality, RegisterModelStep

MODEL_QUALITY = "model_quality"
LATEST_APPROVED = "latest-approved"
# The fields only a model_quality monitor has, and the ones only a data_quality one has.
QUALITY_FIELDS = (
    "problem_type", "ground_truth", "metric", "label_delay", "window",
    "alert_below", "rollback_below", "alert_above", "rollback_above",
)  # fmt: skip
DATA_QUALITY_FIELDS = ("baseline", "thresholds")
# Metrics that are shares, between 0 and 1; r2 is at most 1; errors are at least 0.
BOUNDED = frozenset(
    {"accuracy", "precision", "recall", "f1", "auc", "weighted_precision", "weighted_recall"}
    | {"weighted_f1"}
)


def check_fields_of_type(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Each monitor type's own fields are an error on the other type: they would be ignored."""
    for monitor in ctx.spec.monitors.values():
        quality = monitor.type == MODEL_QUALITY
        foreign = DATA_QUALITY_FIELDS if quality else QUALITY_FIELDS
        for field in foreign:
            if monitor.written(field):
                other = "data_quality" if quality else MODEL_QUALITY
                yield error(
                    "monitor-field-of-other-type",
                    f"monitor {monitor.name!r} is a {monitor.type} monitor; {field} is a "
                    f"setting of {other} monitors",
                    monitor.key_range_of(field),
                    suggestion=f"remove {field}, or make it a separate {other} monitor",
                )


def _quality_monitors(ctx: CheckContext) -> Iterator[tuple[Monitor, Quality]]:
    for monitor in ctx.spec.monitors.values():
        if monitor.quality is not None:
            yield monitor, monitor.quality


def check_metric_fits_problem(ctx: CheckContext) -> Iterator[Diagnostic]:
    for monitor, quality in _quality_monitors(ctx):
        fitting = METRICS[quality.problem_type]
        if quality.metric in fitting:
            continue
        fits = " or ".join(problem_types_of(quality.metric))
        yield error(
            "metric-not-for-problem",
            f"monitor {monitor.name!r}: {quality.metric} is a metric of {fits} models, and "
            f"this one is {quality.problem_type}",
            monitor.range_of("metric"),
            suggestion=f"use one of {', '.join(fitting)}, or correct problem_type",
        )


def check_threshold_sides(ctx: CheckContext) -> Iterator[Diagnostic]:
    """An error metric is held below a line (`_above`), any other above one (`_below`)."""
    for monitor, quality in _quality_monitors(ctx):
        metric = quality.metric
        wrong, right = ("below", "above") if quality.lower_is_better else ("above", "below")
        for action in ("alert", "rollback"):
            field = f"{action}_{wrong}"
            if not monitor.written(field):
                continue
            why = (
                "an error: it is worse when it grows"
                if quality.lower_is_better
                else ("worse when it falls")
            )
            yield error(
                "threshold-wrong-side",
                f"monitor {monitor.name!r}: {metric} is {why}, so its threshold is "
                f"{action}_{right}, not {field}",
                monitor.key_range_of(field),
                suggestion=f"write {action}_{right}: instead of {field}:",
            )


def check_threshold_values(ctx: CheckContext) -> Iterator[Diagnostic]:
    for monitor, quality in _quality_monitors(ctx):
        side = "above" if quality.lower_is_better else "below"
        lines = {"alert": quality.alert, "rollback": quality.rollback}
        for action, line in lines.items():
            if line is None:
                continue
            where = monitor.range_of(f"{action}_{side}")
            if line.relative and line.value <= 0:
                yield error(
                    "invalid-threshold",
                    f"monitor {monitor.name!r}: {action}_{side} must be a percentage above 0%",
                    where,
                    suggestion="write the share of the registered metric to hold, like 97%",
                )
            elif not line.relative:
                problem = _out_of_range(quality.metric, line.value)
                if problem:
                    yield error(
                        "invalid-threshold",
                        f"monitor {monitor.name!r}: {action}_{side} {line.value:g} {problem}",
                        where,
                        suggestion=f"write a value {quality.metric} can take, or a percentage "
                        "of the metric at registration, like 97%",
                    )
        alert, rollback = quality.alert, quality.rollback
        if alert is None and rollback is None:
            yield warning(
                "quality-without-threshold",
                f"monitor {monitor.name!r} computes {quality.metric} but has no threshold, "
                "so it never alerts nor rolls back",
                monitor.range_of("metric"),
                suggestion=f"add alert_{side}: (and rollback_{side}:), a number or a "
                "percentage of the metric at registration like 97%",
            )
        elif alert is not None and rollback is not None and alert.relative == rollback.relative:
            later = (
                rollback.value > alert.value if side == "below" else (rollback.value < alert.value)
            )
            if later:
                yield warning(
                    "rollback-before-alert",
                    f"monitor {monitor.name!r} rolls back before it alerts: rollback_{side} "
                    f"is {'above' if side == 'below' else 'below'} alert_{side}",
                    monitor.range_of(f"rollback_{side}"),
                    detail="the alert is the warning that comes first; a rollback also alerts",
                    suggestion=f"swap the two values, or remove alert_{side}",
                )


def _out_of_range(metric: str, value: float) -> str | None:
    if metric in BOUNDED and not 0 <= value <= 1:
        return f"is outside 0 to 1, the range of {metric}"
    if metric == "r2" and value > 1:
        return "is above 1, the highest r2 can be"
    if lower_is_better(metric) and value < 0:
        return f"is below 0, and {metric} is never negative"
    return None


def check_rollback_has_a_version(ctx: CheckContext) -> Iterator[Diagnostic]:
    """A rollback, and a threshold relative to the registered metric, need a model served
    from its registry group: the version to go back to and the metric are the registry's."""
    for monitor, quality in _quality_monitors(ctx):
        endpoint = ctx.spec.endpoints.get(monitor.endpoint)
        model = ctx.spec.models.get(endpoint.model) if endpoint is not None else None
        if model is None:
            continue  # the unknown reference is reported where it is written
        follows = model.registry_group is not None and model.version == LATEST_APPROVED
        if follows:
            continue
        serves = (
            f"version {model.version} of its registry group"
            if model.registry_group is not None
            else "an artifact, not a registry version"
        )
        side = "above" if quality.lower_is_better else "below"
        fix = (
            f"serve model {model.name!r} from its registry group (registry_group: ... and "
            "version: latest-approved)"
        )
        if quality.rollback is not None:
            yield error(
                "rollback-without-registry",
                f"monitor {monitor.name!r} rolls back endpoint {monitor.endpoint!r}, whose "
                f"model {model.name!r} serves {serves}: there is no approved version to go "
                "back to",
                monitor.key_range_of(f"rollback_{side}"),
                detail="a rollback marks the serving version Rejected in the registry and "
                "serves the newest approved version before it",
                suggestion=f"{fix}, or remove rollback_{side}",
            )
        for action, line in (("alert", quality.alert), ("rollback", quality.rollback)):
            if line is not None and line.relative:
                yield error(
                    "relative-threshold-without-registry",
                    f"monitor {monitor.name!r}: {action}_{side} is relative to the metric the "
                    f"serving version was registered with, and model {model.name!r} serves "
                    f"{serves}",
                    monitor.range_of(f"{action}_{side}"),
                    suggestion=f"{fix}, or give an absolute value such as 0.8",
                )


def _registering(ctx: CheckContext, group: str) -> list[Pipeline]:
    """The spec's pipelines with a register_model step for a model of registry group `group`."""
    models = {name for name, model in ctx.spec.models.items() if model.registry_group == group}
    return [
        pipeline
        for pipeline in ctx.spec.pipelines.values()
        if any(
            isinstance(step, RegisterModelStep) and step.model in models
            for step in pipeline.steps.values()
        )
    ]


def _evaluates(pipeline: Pipeline) -> bool:
    """Whether a condition reads a step's metrics: the report a version is registered with."""
    return any(
        isinstance(step, ConditionStep) and ".metrics." in step.when
        for step in pipeline.steps.values()
    )


def check_rollback_versions_come_from_the_spec(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Warnings where the spec cannot say a rollback or a relative line has what it needs."""
    for monitor, quality in _quality_monitors(ctx):
        endpoint = ctx.spec.endpoints.get(monitor.endpoint)
        model = ctx.spec.models.get(endpoint.model) if endpoint is not None else None
        if model is None or model.registry_group is None or model.version != LATEST_APPROVED:
            continue  # check_rollback_has_a_version says what is wrong
        side = "above" if quality.lower_is_better else "below"
        pipelines = _registering(ctx, model.registry_group)
        if quality.rollback is not None and not pipelines:
            yield warning(
                "rollback-versions-from-outside",
                f"monitor {monitor.name!r} rolls back to the previous approved version of "
                f"registry group {model.registry_group!r}, and no pipeline of this spec "
                "registers versions into it",
                monitor.key_range_of(f"rollback_{side}"),
                detail="validate cannot tell whether the group will hold an approved version "
                "before the serving one; when it holds none, the monitor rejects the version, "
                "says so in its alert, and the endpoint keeps serving it until one is approved",
                suggestion="register versions from a pipeline of this spec (a register_model "
                f"step for model {model.name!r}), or make sure two versions are approved",
            )
        relative = [
            name
            for name, line in (("alert", quality.alert), ("rollback", quality.rollback))
            if line is not None and line.relative
        ]
        if relative and pipelines and not any(_evaluates(p) for p in pipelines):
            names = ", ".join(repr(p.name) for p in pipelines)
            yield warning(
                "relative-threshold-without-evaluation",
                f"monitor {monitor.name!r}: {relative[0]}_{side} is a share of the "
                f"{quality.metric} the serving version was registered with, and pipeline(s) "
                f"{names} register versions without an evaluation report",
                monitor.range_of(f"{relative[0]}_{side}"),
                detail="a version carries the report of the processing step whose metrics a "
                "condition step reads (`<step>.metrics.<name>`); without one, a relative line "
                "has no number to be a share of and judges nothing",
                suggestion="gate registration on the evaluation step's metrics with a "
                "condition step, or give an absolute value such as 0.8",
            )


def check_ground_truth_location(ctx: CheckContext) -> Iterator[Diagnostic]:
    for monitor, quality in _quality_monitors(ctx):
        s3 = quality.ground_truth.startswith("s3://")
        where = monitor.range_of("ground_truth")
        name = monitor.name
        if ctx.target == "local" and s3:
            yield error(
                "not-on-local",
                f"monitor {name!r} reads ground truth from S3, which the local emulator of "
                f"environment {ctx.env!r} cannot read",
                where,
                suggestion="give this environment a local folder in its overrides "
                f"(monitors: {{{name}: {{ground_truth: data/ground-truth}}}})",
            )
        elif ctx.target != "local" and not s3:
            yield error(
                "ground-truth-not-on-s3",
                f"monitor {name!r} reads ground truth from the local folder "
                f"{quality.ground_truth!r}, which a SageMaker job in environment {ctx.env!r} "
                "cannot see",
                where,
                detail="labels arrive while the endpoint serves, so they must be where the "
                "monitoring job runs: in S3",
                suggestion="give this environment an S3 location in its overrides "
                f"(monitors: {{{name}: {{ground_truth: s3://bucket/prefix}}}})",
            )
        if monitor.engine != "mlinfra":
            yield error(
                "quality-on-model-monitor",
                f"monitor {name!r} is a model_quality monitor, which mlinfra runs on its own "
                "engine only",
                monitor.range_of("engine"),
                suggestion="remove engine: model-monitor",
            )


CHECKS = (
    check_fields_of_type,
    check_metric_fits_problem,
    check_threshold_sides,
    check_threshold_values,
    check_rollback_has_a_version,
    check_rollback_versions_come_from_the_spec,
    check_ground_truth_location,
)
