"""Building an environment's `EnvSpec`: typed nodes from its resolved, default-filled values,
each with its ranges from the merged tree.

The values are valid under the JSON Schema and carry its defaults (`schema.validate`), so a
field the schema requires or defaults is read as `values["field"]`, and only a field it
leaves optional may be missing.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import Any, TypeVar

from mlinfra.frozen import freeze
from mlinfra.monitoring.quality_metrics import lower_is_better
from mlinfra.spec import schema
from mlinfra.spec.model import (
    STEP_TYPES,
    Autoscaling,
    BatchJob,
    Component,
    ConditionStep,
    DataCapture,
    Deployment,
    Endpoint,
    Environment,
    EnvSpec,
    FeatureStore,
    JobStep,
    MergedRanges,
    Model,
    Monitor,
    OfflineStore,
    OnlineStore,
    OnViolation,
    Pipeline,
    Policies,
    Previews,
    ProcessingStep,
    Quality,
    QualityThreshold,
    Ranges,
    RegisterModelStep,
    Security,
    Slo,
    Step,
    Thresholds,
    Throughput,
    TrainingStep,
    TransformStep,
    Vpc,
    Waiver,
    Where,
)
from mlinfra.syntax.nodes import Mapping, to_data

Values = dict[str, Any]
C = TypeVar("C", bound=Component)


def build_env_spec(
    values: Values, tree: Mapping, env: str, settings_from: str, preview: bool
) -> EnvSpec:
    """The `EnvSpec` of environment `env`, whose settings are those of `settings_from` (a
    preview's base); `values` is the resolved spec with the schema's defaults filled in."""
    root = Ranges(tree, tree.range)
    return EnvSpec(
        project=values["project"],
        description=values.get("description"),
        state=values["state"],
        env=env,
        environment=environment(values, root, settings_from),
        feature_stores=_components(values, root, FeatureStore, feature_store),
        models=_components(values, root, Model, model),
        pipelines=_components(values, root, Pipeline, pipeline),
        endpoints=_components(values, root, Endpoint, endpoint),
        monitors=_components(values, root, Monitor, monitor),
        policies=policies(values["policies"], root.child("policies")),
        previews=previews(values["previews"], root.child("previews"))
        if "previews" in values
        else None,
        tree=tree,
        base=settings_from if preview else None,
        batch_jobs=_components(values, root, BatchJob, batch_job),
    )


def _texts(values: Values, name: str) -> tuple:
    return tuple(values.get(name) or ())


def _map(values: Values, name: str) -> MappingProxyType:
    return freeze(values.get(name) or {})


def _optional(build: Callable[[Values, Where], Any], values: Values, name: str, at: Where) -> Any:
    found = values.get(name)
    return build(found, at.child(name)) if found is not None else None


# --- the environment ------------------------------------------------------------------------


def environment(values: Values, root: Ranges, settings_from: str) -> Environment:
    """`environments.<settings_from>` over `defaults`, field by field."""
    own = root.child("environments").child(settings_from)
    written = own, root.child("defaults")
    at = MergedRanges(written, own.key)
    settings = values["environments"][settings_from]
    defaults = values["defaults"]
    return Environment(
        target=settings["target"],
        description=settings.get("description"),
        account=settings.get("account"),
        # "Without it, defaults.region is used", and `defaults.region` has the default.
        region=settings.get("region") or defaults["region"],
        protect=settings["protect"],
        tags=freeze({**defaults.get("tags", {}), **settings.get("tags", {})}),
        security=security(written, at.child("security")),
        ranges=at,
    )


def security(written: tuple[Ranges, ...], at: MergedRanges) -> Security:
    # Merged as written, then filled: a default of the environment's must not hide a value
    # that `defaults.security` sets.
    merged: Values = {}
    for layer in reversed(written):
        merged.update(to_data(layer.child("security").node) or {})
    values = schema.fill("security", merged)
    return Security(
        kms_key=values["kms_key"],
        network_isolation=values["network_isolation"],
        encrypt_inter_container_traffic=values["encrypt_inter_container_traffic"],
        vpc=_optional(vpc, values, "vpc", at),
        ranges=at,
    )


def vpc(values: Values, at: Where) -> Vpc:
    return Vpc(
        subnets=_texts(values, "subnets"),
        security_groups=_texts(values, "security_groups"),
        ranges=at,
    )


# --- components -----------------------------------------------------------------------------


def _components(
    values: Values, root: Ranges, cls: type[C], build: Callable[[str, Values, Ranges], C]
) -> MappingProxyType:
    at = root.child(cls.section)
    declared = values.get(cls.section) or {}
    return MappingProxyType(
        {name: build(name, body, at.child(name)) for name, body in declared.items()}
    )


def feature_store(name: str, values: Values, at: Ranges) -> FeatureStore:
    return FeatureStore(
        name=name,
        description=values.get("description"),
        record_identifier=values["record_identifier"],
        event_time=values["event_time"],
        features=_map(values, "features"),
        online=online_store(values["online"], at.child("online")),
        offline=offline_store(values["offline"], at.child("offline")),
        source=values.get("source"),
        ranges=at,
    )


def online_store(values: Values, at: Ranges) -> OnlineStore:
    return OnlineStore(
        enabled=values["enabled"],
        ttl=values.get("ttl"),
        throughput=_optional(throughput, values, "throughput", at),
        ranges=at,
    )


def throughput(values: Values, at: Ranges) -> Throughput:
    return Throughput(
        mode=values["mode"],
        read_units=values.get("read_units"),
        write_units=values.get("write_units"),
        ranges=at,
    )


def offline_store(values: Values, at: Ranges) -> OfflineStore:
    return OfflineStore(enabled=values["enabled"], format=values["format"], ranges=at)


def model(name: str, values: Values, at: Ranges) -> Model:
    return Model(
        name=name,
        description=values.get("description"),
        registry_group=values.get("registry_group"),
        version=values["version"],
        artifact=values.get("artifact"),
        framework=values["framework"],
        framework_version=values["framework_version"],
        approval=values["approval"],
        environment=_map(values, "environment"),
        ranges=at,
    )


def pipeline(name: str, values: Values, at: Ranges) -> Pipeline:
    steps = at.child("steps")
    return Pipeline(
        name=name,
        description=values.get("description"),
        schedule=values.get("schedule"),
        parameters=_map(values, "parameters"),
        steps=MappingProxyType(
            {step: _step(step, body, steps.child(step)) for step, body in values["steps"].items()}
        ),
        ranges=at,
    )


def _step(name: str, values: Values, at: Ranges) -> Step:
    common = {
        "name": name,
        "description": values.get("description"),
        "after": _texts(values, "after"),
        "ranges": at,
    }
    cls = STEP_TYPES[values["type"]]
    if issubclass(cls, JobStep):
        common.update(
            inputs=_texts(values, "inputs"),
            instance_type=values["instance_type"],
            instance_count=values["instance_count"],
            environment=_map(values, "environment"),
        )
    if cls is ProcessingStep:
        return ProcessingStep(script=values["script"], **common)
    if cls is TrainingStep:
        return TrainingStep(
            entry_point=values["entry_point"],
            hyperparameters=_map(values, "hyperparameters"),
            max_runtime=values["max_runtime"],
            **common,
        )
    if cls is ConditionStep:
        return ConditionStep(when=values["when"], **common)
    if cls is TransformStep:
        return TransformStep(model=values["model"], **transform_settings(values), **common)
    return RegisterModelStep(model=values["model"], **common)


def transform_settings(values: Values) -> Values:
    """The fields a transform step and a batch job share (`TransformSettings`)."""
    return {
        "features": _texts(values, "features"),
        "split": values["split"],
        "batch_strategy": values["batch_strategy"],
        "assemble_with": values["assemble_with"],
        "max_payload_mb": values["max_payload_mb"],
        "content_type": values["content_type"],
        "accept": values["accept"],
    }


def batch_job(name: str, values: Values, at: Ranges) -> BatchJob:
    return BatchJob(
        name=name,
        description=values.get("description"),
        model=values["model"],
        input=values["input"],
        output=values.get("output"),
        schedule=values.get("schedule"),
        instance_type=values["instance_type"],
        instance_count=values["instance_count"],
        environment=_map(values, "environment"),
        **transform_settings(values),
        ranges=at,
    )


def endpoint(name: str, values: Values, at: Ranges) -> Endpoint:
    return Endpoint(
        name=name,
        description=values.get("description"),
        model=values["model"],
        instance_type=values["instance_type"],
        instance_count=values["instance_count"],
        autoscaling=_optional(autoscaling, values, "autoscaling", at),
        data_capture=_optional(data_capture, values, "data_capture", at),
        deployment=deployment(values["deployment"], at.child("deployment")),
        slo=slo(values["slo"], at.child("slo")),
        ranges=at,
    )


def autoscaling(values: Values, at: Ranges) -> Autoscaling:
    return Autoscaling(
        min=values["min"],
        max=values["max"],
        target_invocations_per_instance=values["target_invocations_per_instance"],
        scale_in_cooldown=values["scale_in_cooldown"],
        scale_out_cooldown=values["scale_out_cooldown"],
        ranges=at,
    )


def data_capture(values: Values, at: Ranges) -> DataCapture:
    return DataCapture(
        enabled=values["enabled"],
        sampling_percent=values["sampling_percent"],
        capture=_texts(values, "capture"),
        ranges=at,
    )


def deployment(values: Values, at: Ranges) -> Deployment:
    return Deployment(
        strategy=values["strategy"],
        canary_percent=values["canary_percent"],
        linear_step_percent=values["linear_step_percent"],
        wait_minutes=values["wait_minutes"],
        rollback_on=_texts(values, "rollback_on"),
        ranges=at,
    )


def slo(values: Values, at: Ranges) -> Slo:
    return Slo(
        latency_p99_ms=values.get("latency_p99_ms"),
        error_rate_percent=values.get("error_rate_percent"),
        alert=_texts(values, "alert"),
        ranges=at,
    )


def monitor(name: str, values: Values, at: Ranges) -> Monitor:
    return Monitor(
        name=name,
        description=values.get("description"),
        endpoint=values["endpoint"],
        type=values["type"],
        engine=values["engine"],
        baseline=values.get("baseline"),
        schedule=values["schedule"],
        instance_type=values["instance_type"],
        thresholds=thresholds(values["thresholds"], at.child("thresholds")),
        on_violation=on_violation(values["on_violation"], at.child("on_violation")),
        quality=quality(values, at) if values["type"] == "model_quality" else None,
        ranges=at,
    )


def quality(values: Values, at: Ranges) -> Quality:
    """A model_quality monitor's own fields (they sit beside the monitor's other fields)."""
    error_metric = lower_is_better(values["metric"])
    # An error metric's lines are `_above`; the checks report the other spelling written on it.
    side = "above" if error_metric else "below"
    return Quality(
        problem_type=values["problem_type"],
        ground_truth=values["ground_truth"],
        metric=values["metric"],
        label_delay=values.get("label_delay"),
        window=values["window"],
        lower_is_better=error_metric,
        alert=quality_threshold(values.get(f"alert_{side}"), at.child(f"alert_{side}")),
        rollback=quality_threshold(values.get(f"rollback_{side}"), at.child(f"rollback_{side}")),
        ranges=at,
    )


def quality_threshold(value: float | str | None, at: Ranges) -> QualityThreshold | None:
    if value is None:
        return None
    if isinstance(value, str):  # `97%`, as the schema's pattern allows
        return QualityThreshold(value=float(value[:-1]) / 100, relative=True, ranges=at)
    return QualityThreshold(value=float(value), relative=False, ranges=at)


def thresholds(values: Values, at: Ranges) -> Thresholds:
    return Thresholds(
        drift_psi=values["drift_psi"], missing_percent=values["missing_percent"], ranges=at
    )


def on_violation(values: Values, at: Ranges) -> OnViolation:
    return OnViolation(alert=_texts(values, "alert"), retrain=values.get("retrain"), ranges=at)


# --- policies and previews ------------------------------------------------------------------


def policies(values: Values, at: Ranges) -> Policies:
    waivers = at.child("waivers")
    return Policies(
        packs=_texts(values, "packs"),
        required_tags=_texts(values, "required_tags"),
        allowed_instance_types=_texts(values, "allowed_instance_types"),
        waivers=tuple(waiver(w, waivers.item(i)) for i, w in enumerate(values.get("waivers", ()))),
        ranges=at,
    )


def waiver(values: Values, at: Ranges) -> Waiver:
    return Waiver(
        rule=values["rule"],
        resource=values["resource"],
        environments=_texts(values, "environments"),
        reason=values["reason"],
        owner=values["owner"],
        expires=values.get("expires"),
        ranges=at,
    )


def previews(values: Values, at: Ranges) -> Previews:
    return Previews(base=values["base"], ttl=values["ttl"], mode=values["mode"], ranges=at)
