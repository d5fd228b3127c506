"""Every name the spec refers to must exist: models, endpoints, stores, pipelines, steps, ...

A reference to nothing is reported at the referring value, with the closest existing name.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlinfra.diagnostics import Diagnostic, SourceRange, error
from mlinfra.didyoumean import suggest
from mlinfra.ir.sagemaker.context import BUCKETS, KMS_KEY
from mlinfra.policy.rule_ids import RULE_IDS
from mlinfra.spec.checks.context import CheckContext
from mlinfra.spec.model import RegisterModelStep
from mlinfra.spec.resolve import COMPONENT_SECTIONS, SECTION_KIND, environment_names
from mlinfra.syntax.nodes import Mapping


def unknown(what: str, name: str, known: list[str], where: SourceRange) -> Diagnostic:
    close = suggest(name, known)
    if close:
        hint = f"did you mean {close!r}?"
    elif known:
        hint = f"declare it, or use one of: {', '.join(known)}"
    else:
        hint = f"declare it first: there is no {what} in the spec"
    return error("unknown-reference", f"there is no {what} named {name!r}", where, suggestion=hint)


def check_component_references(ctx: CheckContext) -> Iterator[Diagnostic]:
    spec = ctx.spec
    models, endpoints, pipelines = list(spec.models), list(spec.endpoints), list(spec.pipelines)
    for endpoint in spec.endpoints.values():
        if endpoint.model not in models:
            yield unknown("model", endpoint.model, models, endpoint.range_of("model"))
    for monitor in spec.monitors.values():
        if monitor.endpoint not in endpoints:
            where = monitor.range_of("endpoint")
            yield unknown("endpoint", monitor.endpoint, endpoints, where)
        retrain = monitor.on_violation.retrain
        if retrain is not None and retrain not in pipelines:
            where = monitor.range_of("on_violation", "retrain")
            yield unknown("pipeline", retrain, pipelines, where)


def check_step_references(ctx: CheckContext) -> Iterator[Diagnostic]:
    stores, models = list(ctx.spec.feature_stores), list(ctx.spec.models)
    for pipeline in ctx.spec.pipelines.values():
        steps = list(pipeline.steps)
        for step in pipeline.steps.values():
            for i, upstream in enumerate(step.after):
                if upstream == step.name:
                    where = step.range_of("after", i)
                    yield error("step-cycle", f"step {step.name!r} runs after itself", where)
                elif upstream not in steps:
                    where = step.range_of("after", i)
                    what = f"step in pipeline {pipeline.name!r}"
                    yield unknown(what, upstream, steps, where)
            for i, source in enumerate(step.reads()):
                where = step.range_of("inputs", i)
                kind, _, rest = source.partition(".")
                if kind == "feature_store" and rest not in stores:
                    yield unknown("feature store", rest, stores, where)
                elif kind in steps and kind == step.name:
                    yield error("step-cycle", f"step {step.name!r} reads its own output", where)
            if isinstance(step, RegisterModelStep) and step.model not in models:
                yield unknown("model", step.model, models, step.range_of("model"))


def check_preview_base(ctx: CheckContext) -> Iterator[Diagnostic]:
    previews, envs = ctx.spec.previews, environment_names(ctx.root)
    if previews is not None and previews.base not in envs:
        yield unknown("environment", previews.base, envs, previews.range_of("base"))


def check_overrides_name_components(ctx: CheckContext) -> Iterator[Diagnostic]:
    """An override must change a component the spec declares, not invent a partial one."""
    places: list[tuple[tuple, Mapping]] = []
    envs = ctx.root.get("environments")
    if isinstance(envs, Mapping):
        for env in envs:
            overrides = env.value.get("overrides") if isinstance(env.value, Mapping) else None
            if isinstance(overrides, Mapping):
                places.append((("environments", env.name, "overrides"), overrides))
    previews = ctx.root.get("previews")
    overrides = previews.get("overrides") if isinstance(previews, Mapping) else None
    if isinstance(overrides, Mapping):
        places.append((("previews", "overrides"), overrides))
    for _, overrides in places:
        for section in overrides:
            if section.name not in COMPONENT_SECTIONS or not isinstance(section.value, Mapping):
                continue
            declared = ctx.root.get(section.name)
            known = declared.keys() if isinstance(declared, Mapping) else []
            for component in section.value:
                if component.name not in known:
                    what = SECTION_KIND[section.name].replace("_", " ")
                    found = unknown(what, component.name, known, component.key.range)
                    yield Diagnostic(
                        found.severity,
                        found.code,
                        f"override for undeclared {what} {component.name!r}",
                        found.range,
                        detail="overrides change components declared at the top level",
                        suggestion=found.suggestion,
                    )


def check_waiver_references(ctx: CheckContext) -> Iterator[Diagnostic]:
    # What every SageMaker environment shares: no component owns them, yet audit findings
    # name them, and so may a waiver.
    shared = (KMS_KEY, *(f"bucket.{purpose}" for purpose in BUCKETS))

    envs = environment_names(ctx.root)
    sections = {v: k for k, v in SECTION_KIND.items()}
    for waiver in ctx.spec.policies.waivers:
        if waiver.rule not in RULE_IDS:
            yield unknown("policy rule", waiver.rule, sorted(RULE_IDS), waiver.range_of("rule"))
        kind, _, rest = waiver.resource.partition(".")
        name = rest.split("/", 1)[0]
        if waiver.resource.split("/", 1)[0] in shared:
            pass  # the environment's own key and buckets, which audit findings name too
        elif kind not in sections:
            yield error(
                "unknown-reference",
                f"{waiver.resource!r} does not name a component",
                waiver.range_of("resource"),
                suggestion="write KIND.NAME with KIND one of: "
                + ", ".join(sections)
                + f"; or one of the environment's shared resources: {', '.join(shared)}",
            )
        elif ctx.spec.component(f"{kind}.{name}") is None:
            known = [c.name for c in ctx.spec.of_kind(kind)]
            yield unknown(kind.replace("_", " "), name, known, waiver.range_of("resource"))
        for j, env in enumerate(waiver.environments):
            if env not in envs:
                yield unknown("environment", env, envs, waiver.range_of("environments", j))


CHECKS = (
    check_component_references,
    check_step_references,
    check_preview_base,
    check_overrides_name_components,
    check_waiver_references,
)
