"""Values that JSON Schema cannot judge: schedules, durations, dates, bounds that depend on
each other, and settings that only make sense together."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator

from mlinfra.diagnostics import Diagnostic, error, warning
from mlinfra.sagemaker.api import api_shape
from mlinfra.spec import values
from mlinfra.spec.checks.context import CheckContext
from mlinfra.spec.checks.paths import exists, local_files, outside
from mlinfra.spec.checks.references import unknown
from mlinfra.spec.model import Component, Monitor, RegisterModelStep, SpecNode, TrainingStep

# SageMaker Feature Store accepts these feature types for its two key features.
RECORD_IDENTIFIER_TYPES = {"string", "integral"}
EVENT_TIME_TYPES = {"string", "fractional"}
MAX_TAGS = 50


def _parsed(parse, value, code: str, where) -> Iterator[Diagnostic]:
    try:
        parse(value)
    except ValueError as exc:
        yield error(code, str(exc), where)


def check_schedules(ctx: CheckContext) -> Iterator[Diagnostic]:
    for pipeline in ctx.spec.pipelines.values():
        if pipeline.schedule is not None:
            where = pipeline.range_of("schedule")
            yield from _parsed(values.parse_schedule, pipeline.schedule, "invalid-schedule", where)
    for job in ctx.spec.batch_jobs.values():
        if job.schedule is not None:
            where = job.range_of("schedule")
            yield from _parsed(values.parse_schedule, job.schedule, "invalid-schedule", where)
    for monitor in ctx.spec.monitors.values():
        where = monitor.range_of("schedule")
        try:
            schedule = values.parse_schedule(monitor.schedule)
            values.monitoring_schedule_expression(schedule)
        except ValueError as exc:
            yield error("invalid-schedule", str(exc), where)


def check_durations(ctx: CheckContext) -> Iterator[Diagnostic]:
    spec = ctx.spec
    places = []
    for store in spec.feature_stores.values():
        if store.online.ttl is not None:
            places.append((store.online.range_of("ttl"), store.online.ttl))
    for endpoint in spec.endpoints.values():
        scaling = endpoint.autoscaling
        if scaling is not None:
            places.append((scaling.range_of("scale_in_cooldown"), scaling.scale_in_cooldown))
            places.append((scaling.range_of("scale_out_cooldown"), scaling.scale_out_cooldown))
    for pipeline in spec.pipelines.values():
        for step in pipeline.steps.values():
            if isinstance(step, TrainingStep):
                places.append((step.range_of("max_runtime"), step.max_runtime))
    for monitor in spec.monitors.values():
        if monitor.quality is not None:
            places.append((monitor.range_of("window"), monitor.quality.window))
            if monitor.quality.label_delay is not None:
                places.append((monitor.range_of("label_delay"), monitor.quality.label_delay))
    if spec.previews is not None:
        places.append((spec.previews.range_of("ttl"), spec.previews.ttl))
    for where, value in places:
        yield from _parsed(values.parse_duration, value, "invalid-duration", where)


def check_dates(ctx: CheckContext) -> Iterator[Diagnostic]:
    for waiver in ctx.spec.policies.waivers:
        if waiver.expires is not None:
            where = waiver.range_of("expires")
            yield from _parsed(values.parse_date, str(waiver.expires), "invalid-date", where)


def check_autoscaling(ctx: CheckContext) -> Iterator[Diagnostic]:
    for endpoint in ctx.spec.endpoints.values():
        scaling = endpoint.autoscaling
        if scaling is None:
            continue
        low, high, count = scaling.min, scaling.max, endpoint.instance_count
        if low > high:
            yield error(
                "autoscaling-bounds",
                f"autoscaling min ({low}) is greater than max ({high})",
                scaling.range_of("min"),
                detail=f"max is set at {scaling.range_of('max')}",
            )
        elif not low <= count <= high:
            yield error(
                "autoscaling-bounds",
                f"instance_count ({count}) is outside autoscaling's range {low}..{high}",
                endpoint.range_of("instance_count"),
                suggestion="start the endpoint with a count between min and max",
            )


# What SageMaker's TrafficRoutingConfig takes (botocore's model documents it): a canary of at
# most half the new fleet, linear steps of 10 to 50% of it. The emulator refuses the same.
DEPLOYMENT_SIZES = {"canary_percent": ("canary", 1, 50), "linear_step_percent": ("linear", 10, 50)}


def check_deployment(ctx: CheckContext) -> Iterator[Diagnostic]:
    only_for = {"canary_percent": "canary", "linear_step_percent": "linear"}
    slo_for = {"latency": "latency_p99_ms", "errors": "error_rate_percent"}
    for endpoint in ctx.spec.endpoints.values():
        deployment = endpoint.deployment
        strategy = deployment.strategy
        for field, (wanted, low, high) in DEPLOYMENT_SIZES.items():
            size = getattr(deployment, field)
            if strategy == wanted and not low <= size <= high:
                yield error(
                    "deployment-size",
                    f"a {strategy} step of {size}% is outside what SageMaker deploys "
                    f"({low}-{high}% of the new fleet)",
                    deployment.range_of(field),
                    suggestion=f"set {field} from {low} to {high}",
                )
        for field, wanted in only_for.items():
            if deployment.written(field) and strategy != wanted:
                yield warning(
                    "unused-setting",
                    f"{field} has no effect with the {strategy!r} strategy",
                    deployment.range_of(field),
                    suggestion=f"set strategy: {wanted}, or remove {field}",
                )
        for i, signal in enumerate(deployment.rollback_on):
            if getattr(endpoint.slo, slo_for[signal]) is None:
                yield error(
                    "rollback-needs-slo",
                    f"rolling back on {signal} needs slo.{slo_for[signal]} as its threshold",
                    deployment.range_of("rollback_on", i),
                    suggestion=f"add slo: {{{slo_for[signal]}: ...}} to endpoint {endpoint.name!r}",
                )


def check_monitor_capture(ctx: CheckContext) -> Iterator[Diagnostic]:
    for monitor in ctx.spec.monitors.values():
        endpoint = ctx.spec.endpoints.get(monitor.endpoint)
        if endpoint is None:
            continue
        capture = endpoint.data_capture
        if monitor.type == "model_quality":
            if capture is None or not capture.enabled or capture.sampling_percent <= 0:
                missing = "does not capture data"
            elif "output" not in capture.capture:
                missing = "does not capture its predictions (data_capture.capture)"
            else:
                continue
            yield error(
                "monitor-needs-capture",
                f"monitor {monitor.name!r} watches endpoint {monitor.endpoint!r}, which {missing}",
                monitor.range_of("endpoint"),
                detail="a model-quality monitor joins the predictions the endpoint captured "
                "with their ground-truth labels",
                suggestion=f"add data_capture: {{sampling_percent: 20, capture: [input, "
                f"output]}} to {monitor.endpoint!r}",
            )
        elif capture is None or not capture.enabled or capture.sampling_percent <= 0:
            yield error(
                "monitor-needs-capture",
                f"monitor {monitor.name!r} watches endpoint {monitor.endpoint!r}, "
                "which does not capture data",
                monitor.range_of("endpoint"),
                detail="a data-quality monitor analyses the requests the endpoint captured",
                suggestion=f"add data_capture: {{sampling_percent: 20}} to {monitor.endpoint!r}",
            )


def check_monitor_baseline(ctx: CheckContext) -> Iterator[Diagnostic]:
    for monitor in ctx.spec.monitors.values():
        name, acts = monitor.name, monitor.on_violation
        if monitor.baseline is None:
            continue  # a model_quality monitor: its ground truth is checked in checks/monitors
        if ctx.target == "local" and monitor.baseline.startswith("s3://"):
            yield error(
                "not-on-local",
                f"monitor {name!r} has an S3 baseline, which the local emulator of environment "
                f"{ctx.env!r} cannot read",
                monitor.range_of("baseline"),
                suggestion="give this environment a local baseline CSV in its overrides "
                f"(monitors: {{{name}: {{baseline: data/baseline.csv}}}})",
            )
            continue
        on_model_monitor = monitor.engine == MODEL_MONITOR
        s3 = monitor.baseline.startswith("s3://")
        if on_model_monitor and s3 and (acts.alert or acts.retrain):
            yield warning(
                "baseline-features-unknown",
                f"monitor {name!r} has an S3 baseline, so its features are not known when the "
                "spec compiles and no violation alarm can be built: alerts and retraining "
                "will not fire",
                monitor.range_of("baseline"),
                suggestion="use a local CSV baseline (its header names the features), or "
                "mlinfra's engine (engine: mlinfra), whose alarm needs no feature names",
            )


MODEL_MONITOR = "model-monitor"
AVAILABILITY_CHANGE = (
    "https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-availability-change.html"
)


def check_monitor_engine(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Model Monitor is an opt-in for accounts that still have it: say what it costs."""
    for monitor in ctx.spec.monitors.values():
        if monitor.engine != MODEL_MONITOR:
            continue
        if ctx.target == "local":
            detail = (
                "the local emulator runs mlinfra's own engine whatever the engine says, so "
                "drift_psi here is the population stability index"
            )
        else:
            detail = (
                "Amazon SageMaker Model Monitor is no longer open to new customers and gets no "
                f"new features (Amazon SageMaker Model Monitor availability change, "
                f"{AVAILABILITY_CHANGE}); on it drift_psi is Model Monitor's own distance, not "
                "the population stability index, and its baseline must be made by Model "
                "Monitor's suggest_baseline before executions succeed"
            )
        yield warning(
            "model-monitor-availability",
            f"monitor {monitor.name!r} runs on SageMaker Model Monitor, which is closed to new "
            "customers",
            monitor.range_of("engine"),
            detail=detail,
            suggestion="remove engine: model-monitor to run mlinfra's own engine, the same "
            "analysis as the local emulator, as a SageMaker Processing job",
        )


def check_alert_targets(ctx: CheckContext) -> Iterator[Diagnostic]:
    """What AWS limits in how alerts are delivered: on SageMaker, an alarm's actions (the
    component's SNS topic for its email and webhook targets, plus each `sns:` target); in the
    emulator, the monitoring job's environment, which carries the baseline path and targets."""
    places: list[tuple[Component, SpecNode]] = [
        (m, m.on_violation) for m in ctx.spec.monitors.values()
    ]
    places += [(e, e.slo) for e in ctx.spec.endpoints.values()]
    max_actions = api_shape("cloudwatch", "ResourceList")["max"]
    for component, owner in places:
        alert = list(owner.alert)
        where_alert = owner.range_of("alert")
        if ctx.target == "local" and isinstance(component, Monitor):
            name = component.name
            settings = [("alert", alert, where_alert)]
            if component.baseline is not None:
                settings.append(("baseline", component.baseline, component.range_of("baseline")))
            for setting, value, where in settings:
                try:
                    values.monitor_setting(setting, value)
                except ValueError as exc:
                    yield error(
                        "too-long",
                        f"monitor {name!r}: {exc}",
                        where,
                        suggestion="use fewer or shorter alert targets in this environment, "
                        "such as one sns: topic"
                        if setting == "alert"
                        else "move the baseline CSV to a shorter path",
                    )
        if ctx.target == "local" and not isinstance(component, Monitor):
            yield from _local_slo_alert(component, alert, where_alert, owner)
        topics = sum(t.startswith("sns:") for t in alert)
        actions = topics + (len(alert) > topics)  # email and webhook targets share one topic
        if ctx.target != "local" and actions > max_actions:
            yield error(
                "too-many-alert-targets",
                f"{component.kind} {component.name!r} gives its alarms {actions} actions (an SNS "
                "topic of its own for its email and webhook targets, plus each sns: target); a "
                f"CloudWatch alarm takes at most {max_actions}",
                where_alert,
                suggestion="subscribe the extra targets to one of the SNS topics instead",
            )


TAG_VALUE_MAX = 256  # CloudWatch's TagValue


def _local_slo_alert(
    component: Component, alert: list[str], where: object, owner: SpecNode
) -> Iterator[Diagnostic]:
    """In the emulator an SLO alarm carries its targets in a tag (a JSON list), and sends
    only webhooks: email and SNS targets are written to its alert log, not sent."""
    if len(json.dumps(alert)) > TAG_VALUE_MAX:
        yield error(
            "too-long",
            f"endpoint {component.name!r}: its SLO alarms carry their alert targets in a tag "
            f"locally, of at most {TAG_VALUE_MAX} characters",
            where,
            suggestion="use fewer or shorter alert targets in this environment",
        )
    for i, target in enumerate(alert):
        if target.startswith(("email:", "sns:")):
            yield warning(
                "not-emulated",
                f"the local emulator does not send {target.split(':', 1)[0]} alerts: an SLO "
                "alarm's notice to this target is written to its alert log "
                "(.mlinfra/emulator/alarms/<alarm>/alerts.jsonl)",
                owner.range_of("alert", i),
                suggestion="add a webhook: target to be notified locally",
            )


def check_feature_keys(ctx: CheckContext) -> Iterator[Diagnostic]:
    for store in ctx.spec.feature_stores.values():
        features = store.features
        for field, feature, allowed in (
            ("record_identifier", store.record_identifier, RECORD_IDENTIFIER_TYPES),
            ("event_time", store.event_time, EVENT_TIME_TYPES),
        ):
            where = store.range_of(field)
            if feature not in features:
                yield unknown(f"feature of {store.name!r}", feature, list(features), where)
            elif features[feature] not in allowed:
                yield error(
                    "feature-type",
                    f"{field} {feature!r} is {features[feature]}; SageMaker needs "
                    + " or ".join(sorted(allowed)),
                    where,
                )


def check_feature_throughput(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Provisioned throughput names both capacities; on-demand names neither."""
    for store in ctx.spec.feature_stores.values():
        throughput = store.online.throughput
        if throughput is None:
            continue
        units = [u for u in ("read_units", "write_units") if getattr(throughput, u) is not None]
        if throughput.mode == "provisioned":
            missing = [u for u in ("read_units", "write_units") if u not in units]
            if missing:
                yield error(
                    "feature-throughput",
                    f"provisioned throughput needs {' and '.join(missing)}",
                    throughput.range_of(),
                    suggestion="set read_units and write_units, or mode: on-demand",
                )
        elif units:
            yield error(
                "feature-throughput",
                f"{units[0]} is for provisioned throughput; on-demand has no capacity to set",
                throughput.range_of(units[0]),
                suggestion="add mode: provisioned, or remove the units",
            )


TAG_PUNCTUATION = set("_.:/=+-@ ")


def _tag_character(text: str) -> str | None:
    """The first character AWS refuses in a tag (its rule: letters, numbers, separators and
    `_ . : / = + - @`), or None."""
    for ch in text:
        if not (ch.isalnum() or ch in TAG_PUNCTUATION or unicodedata.category(ch) == "Zs"):
            return ch
    return None


def check_tags(ctx: CheckContext) -> Iterator[Diagnostic]:
    # Account ids are checked by the schema's pattern; tags need the merged view.
    settings = ctx.spec.environment
    tags = settings.tags
    for key, value in tags.items():
        if key.lower().startswith("aws:"):
            yield error(
                "invalid-tag",
                f"tag key {key!r} uses the prefix 'aws:', which AWS reserves",
                settings.key_range_of("tags", key),
            )
        for text, where in ((key, settings.key_range_of("tags", key)), (value, None)):
            bad = _tag_character(text)
            if bad is not None:
                yield error(
                    "invalid-tag",
                    f"tag {'key' if where else 'value'} {text!r} contains {bad!r}, which AWS "
                    "does not allow in tags",
                    where or settings.range_of("tags", key),
                    detail="tags hold letters, digits, spaces and _ . : / = + - @",
                )
    if len(tags) > MAX_TAGS:
        yield error(
            "invalid-tag",
            f"{len(tags)} tags apply in this environment; AWS allows at most {MAX_TAGS}",
            ctx.key_at("defaults", "tags"),
        )


def check_files(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Local files the spec names should exist (a warning: they may be generated later)."""
    if ctx.spec_dir is None:
        return
    for where, value in local_files(ctx):
        if outside(ctx.spec_dir, value) is not None:
            continue  # an error already, whether the file exists or not
        if not exists(ctx.spec_dir, value):
            yield warning(
                "missing-file",
                f"{value!r} does not exist (relative to {ctx.spec_dir})",
                where(),
                suggestion="create it, or fix the path: paths are relative to the spec file",
            )


def check_models(ctx: CheckContext) -> Iterator[Diagnostic]:
    for model in ctx.spec.models.values():
        name = model.name
        if model.artifact is not None and model.written("version"):
            yield warning(
                "unused-setting",
                f"model {name!r} names an artifact, so its registry version is not used",
                model.range_of("version"),
                suggestion="remove `version`, or remove `artifact` to serve from the registry",
            )
        if ctx.target == "local" and str(model.artifact or "").startswith("s3://"):
            yield error(
                "not-on-local",
                f"model {name!r} is served from S3, which the local emulator of environment "
                f"{ctx.env!r} cannot read",
                model.range_of("artifact"),
                suggestion="give this environment a local artifact in its overrides "
                f"(models: {{{name}: {{artifact: model/model.tar.gz}}}}): a model.tar.gz "
                "or model.joblib beside the spec",
            )
    for pipeline in ctx.spec.pipelines.values():
        for step in pipeline.steps.values():
            if not isinstance(step, RegisterModelStep):
                continue
            model = ctx.spec.models.get(step.model)
            if model is not None and model.registry_group is None:
                yield error(
                    "register-needs-registry",
                    f"step {step.name!r} registers model {step.model!r}, which has no "
                    "registry_group",
                    step.range_of("model"),
                    suggestion=f"add registry_group to model {step.model!r}",
                )


CHECKS = (
    check_schedules,
    check_durations,
    check_dates,
    check_autoscaling,
    check_deployment,
    check_monitor_capture,
    check_monitor_baseline,
    check_monitor_engine,
    check_alert_targets,
    check_feature_keys,
    check_feature_throughput,
    check_tags,
    check_files,
    check_models,
)
