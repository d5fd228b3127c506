"""Values that JSON Schema cannot judge: schedules, durations, dates, bounds that depend on
each other, and settings that only make sense together."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from pathlib import Path

from mlinfra.diagnostics import Diagnostic, error, warning
from mlinfra.spec import catalog, values
from mlinfra.spec.checks.context import CheckContext
from mlinfra.spec.checks.paths import local_files, outside
from mlinfra.spec.checks.references import unknown
from mlinfra.syntax.nodes import locate

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
    for name, pipeline in ctx.components("pipelines"):
        if "schedule" in pipeline:
            where = ctx.at("pipelines", name, "schedule")
            yield from _parsed(
                values.parse_schedule, pipeline["schedule"], "invalid-schedule", where
            )
    for name, monitor in ctx.components("monitors"):
        where = ctx.at("monitors", name, "schedule")
        try:
            schedule = values.parse_schedule(monitor["schedule"])
            values.monitoring_schedule_expression(schedule)
        except ValueError as exc:
            yield error("invalid-schedule", str(exc), where)


def check_durations(ctx: CheckContext) -> Iterator[Diagnostic]:
    places = []
    for name, store in ctx.components("feature_stores"):
        if "ttl" in store.get("online", {}):
            places.append((("feature_stores", name, "online", "ttl"), store["online"]["ttl"]))
    for name, endpoint in ctx.components("endpoints"):
        for field in ("scale_in_cooldown", "scale_out_cooldown"):
            if field in endpoint.get("autoscaling", {}):
                places.append(
                    (("endpoints", name, "autoscaling", field), endpoint["autoscaling"][field])
                )
    for name, pipeline in ctx.components("pipelines"):
        for step, body in pipeline["steps"].items():
            if "max_runtime" in body:
                places.append(
                    (("pipelines", name, "steps", step, "max_runtime"), body["max_runtime"])
                )
    if "ttl" in ctx.data.get("previews", {}):
        places.append((("previews", "ttl"), ctx.data["previews"]["ttl"]))
    for path, value in places:
        yield from _parsed(values.parse_duration, value, "invalid-duration", ctx.at(*path))


def check_dates(ctx: CheckContext) -> Iterator[Diagnostic]:
    for i, waiver in enumerate(ctx.data.get("policies", {}).get("waivers", [])):
        if "expires" in waiver:
            where = ctx.at("policies", "waivers", i, "expires")
            yield from _parsed(values.parse_date, str(waiver["expires"]), "invalid-date", where)


def check_autoscaling(ctx: CheckContext) -> Iterator[Diagnostic]:
    for name, endpoint in ctx.components("endpoints"):
        scaling = endpoint.get("autoscaling")
        if not scaling:
            continue
        low, high, count = scaling["min"], scaling["max"], endpoint["instance_count"]
        if low > high:
            yield error(
                "autoscaling-bounds",
                f"autoscaling min ({low}) is greater than max ({high})",
                ctx.at("endpoints", name, "autoscaling", "min"),
                detail=f"max is set at {ctx.at('endpoints', name, 'autoscaling', 'max')}",
            )
        elif not low <= count <= high:
            yield error(
                "autoscaling-bounds",
                f"instance_count ({count}) is outside autoscaling's range {low}..{high}",
                ctx.at("endpoints", name, "instance_count"),
                suggestion="start the endpoint with a count between min and max",
            )


def check_deployment(ctx: CheckContext) -> Iterator[Diagnostic]:
    only_for = {"canary_percent": "canary", "linear_step_percent": "linear"}
    slo_for = {"latency": "latency_p99_ms", "errors": "error_rate_percent"}
    for name, endpoint in ctx.components("endpoints"):
        deployment = endpoint.get("deployment")
        if not deployment:
            continue
        strategy = deployment["strategy"]
        written = ctx.resolved.tree
        for field, wanted in only_for.items():
            explicit = _written(written, ("endpoints", name, "deployment", field))
            if explicit and strategy != wanted:
                yield warning(
                    "unused-setting",
                    f"{field} has no effect with the {strategy!r} strategy",
                    ctx.at("endpoints", name, "deployment", field),
                    suggestion=f"set strategy: {wanted}, or remove {field}",
                )
        for i, signal in enumerate(deployment.get("rollback_on", [])):
            if slo_for[signal] not in endpoint.get("slo", {}):
                yield error(
                    "rollback-needs-slo",
                    f"rolling back on {signal} needs slo.{slo_for[signal]} as its threshold",
                    ctx.at("endpoints", name, "deployment", "rollback_on", i),
                    suggestion=f"add slo: {{{slo_for[signal]}: ...}} to endpoint {name!r}",
                )


def _written(tree, path) -> bool:
    return locate(tree, path).complete


def check_monitor_capture(ctx: CheckContext) -> Iterator[Diagnostic]:
    endpoints = dict(ctx.components("endpoints"))
    for name, monitor in ctx.components("monitors"):
        endpoint = endpoints.get(monitor["endpoint"])
        if endpoint is None or monitor["type"] != "data_quality":
            continue
        capture = endpoint.get("data_capture")
        if not capture or not capture["enabled"] or capture["sampling_percent"] <= 0:
            yield error(
                "monitor-needs-capture",
                f"monitor {name!r} watches endpoint {monitor['endpoint']!r}, "
                "which does not capture data",
                ctx.at("monitors", name, "endpoint"),
                detail="a data-quality monitor analyses the requests the endpoint captured",
                suggestion=f"add data_capture: {{sampling_percent: 20}} to {monitor['endpoint']!r}",
            )


def check_monitor_baseline(ctx: CheckContext) -> Iterator[Diagnostic]:
    for name, monitor in ctx.components("monitors"):
        acts = monitor.get("on_violation", {})
        if ctx.target == "local" and monitor["baseline"].startswith("s3://"):
            yield error(
                "not-on-local",
                f"monitor {name!r} has an S3 baseline, which the local emulator of environment "
                f"{ctx.env!r} cannot read",
                ctx.at("monitors", name, "baseline"),
                suggestion="give this environment a local baseline CSV in its overrides "
                f"(monitors: {{{name}: {{baseline: data/baseline.csv}}}})",
            )
            continue
        on_model_monitor = monitor.get("engine") == MODEL_MONITOR
        s3 = monitor["baseline"].startswith("s3://")
        if on_model_monitor and s3 and (acts.get("alert") or acts.get("retrain")):
            yield warning(
                "baseline-features-unknown",
                f"monitor {name!r} has an S3 baseline, so its features are not known when the "
                "spec compiles and no violation alarm can be built: alerts and retraining "
                "will not fire",
                ctx.at("monitors", name, "baseline"),
                suggestion="use a local CSV baseline (its header names the features), or "
                "mlinfra's engine (engine: mlinfra), whose alarm needs no feature names",
            )


MODEL_MONITOR = "model-monitor"
AVAILABILITY_CHANGE = (
    "https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-availability-change.html"
)


def check_monitor_engine(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Model Monitor is an opt-in for accounts that still have it: say what it costs."""
    for name, monitor in ctx.components("monitors"):
        if monitor.get("engine") != MODEL_MONITOR:
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
            f"monitor {name!r} runs on SageMaker Model Monitor, which is closed to new "
            "customers",
            ctx.at("monitors", name, "engine"),
            detail=detail,
            suggestion="remove engine: model-monitor to run mlinfra's own engine, the same "
            "analysis as the local emulator, as a SageMaker Processing job",
        )


def check_alert_targets(ctx: CheckContext) -> Iterator[Diagnostic]:
    """What AWS limits in how alerts are delivered: on SageMaker, an alarm's actions (the
    component's SNS topic for its email and webhook targets, plus each `sns:` target); in the
    emulator, the monitoring job's environment, which carries the baseline path and targets."""
    places = [(("monitors", name), m.get("on_violation")) for name, m in ctx.components("monitors")]
    places += [(("endpoints", name), e.get("slo")) for name, e in ctx.components("endpoints")]
    max_actions = catalog.api_shape("cloudwatch", "ResourceList")["max"]
    for (section, name), owner in places:
        alert = list((owner or {}).get("alert") or ())
        path = (section, name, "on_violation" if section == "monitors" else "slo", "alert")
        if ctx.target == "local" and section == "monitors":
            monitor = ctx.data["monitors"][name]
            for setting, value, where in (
                ("baseline", monitor["baseline"], ("monitors", name, "baseline")),
                ("alert", alert, path),
            ):
                try:
                    values.monitor_setting(setting, value)
                except ValueError as exc:
                    yield error(
                        "too-long",
                        f"monitor {name!r}: {exc}",
                        ctx.at(*where),
                        suggestion="use fewer or shorter alert targets in this environment, "
                        "such as one sns: topic"
                        if setting == "alert"
                        else "move the baseline CSV to a shorter path",
                    )
        topics = sum(t.startswith("sns:") for t in alert)
        actions = topics + (len(alert) > topics)  # email and webhook targets share one topic
        if ctx.target != "local" and actions > max_actions:
            yield error(
                "too-many-alert-targets",
                f"{section[:-1]} {name!r} gives its alarms {actions} actions (an SNS topic of "
                "its own for its email and webhook targets, plus each sns: target); a "
                f"CloudWatch alarm takes at most {max_actions}",
                ctx.at(*path),
                suggestion="subscribe the extra targets to one of the SNS topics instead",
            )


def check_feature_keys(ctx: CheckContext) -> Iterator[Diagnostic]:
    for name, store in ctx.components("feature_stores"):
        features = store["features"]
        for field, allowed in (
            ("record_identifier", RECORD_IDENTIFIER_TYPES),
            ("event_time", EVENT_TIME_TYPES),
        ):
            feature = store[field]
            where = ctx.at("feature_stores", name, field)
            if feature not in features:
                yield unknown(f"feature of {name!r}", feature, list(features), where)
            elif features[feature] not in allowed:
                yield error(
                    "feature-type",
                    f"{field} {feature!r} is {features[feature]}; SageMaker needs "
                    + " or ".join(sorted(allowed)),
                    where,
                )


def check_feature_throughput(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Provisioned throughput names both capacities; on-demand names neither."""
    for name, store in ctx.components("feature_stores"):
        throughput = (store.get("online") or {}).get("throughput")
        if throughput is None:
            continue
        path = ("feature_stores", name, "online", "throughput")
        units = [u for u in ("read_units", "write_units") if u in throughput]
        if throughput.get("mode", "on-demand") == "provisioned":
            missing = [u for u in ("read_units", "write_units") if u not in units]
            if missing:
                yield error(
                    "feature-throughput",
                    f"provisioned throughput needs {' and '.join(missing)}",
                    ctx.at(*path),
                    suggestion="set read_units and write_units, or mode: on-demand",
                )
        elif units:
            yield error(
                "feature-throughput",
                f"{units[0]} is for provisioned throughput; on-demand has no capacity to set",
                ctx.at(*path, units[0]),
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
    env_tags = ctx.env_data.get("tags", {})
    tags = {**ctx.data.get("defaults", {}).get("tags", {}), **env_tags}
    for key, value in tags.items():
        owner = ("environments", ctx.resolved.settings_from) if key in env_tags else ("defaults",)
        if key.lower().startswith("aws:"):
            yield error(
                "invalid-tag",
                f"tag key {key!r} uses the prefix 'aws:', which AWS reserves",
                ctx.key_at(*owner, "tags", key),
            )
        for text, where in ((key, ctx.key_at(*owner, "tags", key)), (value, None)):
            bad = _tag_character(text)
            if bad is not None:
                yield error(
                    "invalid-tag",
                    f"tag {'key' if where else 'value'} {text!r} contains {bad!r}, which AWS "
                    "does not allow in tags",
                    where or ctx.at(*owner, "tags", key),
                    detail="tags hold letters, digits, spaces and _ . : / = + - @",
                )
    if len(tags) > MAX_TAGS:
        yield error(
            "invalid-tag",
            f"{len(tags)} tags apply in this environment; AWS allows at most {MAX_TAGS}",
            ctx.key_at("defaults", "tags"),
        )


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # e.g. a name too long for the file system (ENAMETOOLONG): no such file
        return False


def check_files(ctx: CheckContext) -> Iterator[Diagnostic]:
    """Local files the spec names should exist (a warning: they may be generated later)."""
    if ctx.spec_dir is None:
        return
    for path, value in local_files(ctx):
        if outside(ctx.spec_dir, value) is not None:
            continue  # an error already, whether the file exists or not
        if not _exists(ctx.spec_dir / Path(value)):
            yield warning(
                "missing-file",
                f"{value!r} does not exist (relative to {ctx.spec_dir})",
                ctx.at(*path),
                suggestion="create it, or fix the path: paths are relative to the spec file",
            )


def check_models(ctx: CheckContext) -> Iterator[Diagnostic]:
    for name, model in ctx.components("models"):
        pinned = _written(ctx.resolved.tree, ("models", name, "version"))
        if "artifact" in model and pinned:
            yield warning(
                "unused-setting",
                f"model {name!r} names an artifact, so its registry version is not used",
                ctx.at("models", name, "version"),
                suggestion="remove `version`, or remove `artifact` to serve from the registry",
            )
        if ctx.target == "local" and str(model.get("artifact", "")).startswith("s3://"):
            yield error(
                "not-on-local",
                f"model {name!r} is served from S3, which the local emulator of environment "
                f"{ctx.env!r} cannot read",
                ctx.at("models", name, "artifact"),
                suggestion="give this environment a local artifact in its overrides "
                f"(models: {{{name}: {{artifact: model/model.tar.gz}}}}): a model.tar.gz "
                "or model.joblib beside the spec",
            )
    for pipeline, spec in ctx.components("pipelines"):
        for step, body in spec["steps"].items():
            model = ctx.data.get("models", {}).get(body.get("model", ""))
            if (
                body["type"] == "register_model"
                and model is not None
                and "registry_group" not in model
            ):
                yield error(
                    "register-needs-registry",
                    f"step {step!r} registers model {body['model']!r}, which has no registry_group",
                    ctx.at("pipelines", pipeline, "steps", step, "model"),
                    suggestion=f"add registry_group to model {body['model']!r}",
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
