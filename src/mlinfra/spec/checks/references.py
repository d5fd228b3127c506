"""Every name the spec refers to must exist: models, endpoints, stores, pipelines, steps, ...

A reference to nothing is reported at the referring value, with the closest existing name.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlinfra.diagnostics import Diagnostic, SourceRange, error
from mlinfra.didyoumean import suggest
from mlinfra.policy.rule_ids import RULE_IDS
from mlinfra.spec.checks.context import CheckContext
from mlinfra.spec.resolve import COMPONENT_SECTIONS, SECTION_KIND
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
    models, endpoints = ctx.names("models"), ctx.names("endpoints")
    pipelines = ctx.names("pipelines")
    for name, endpoint in ctx.components("endpoints"):
        if endpoint["model"] not in models:
            yield unknown("model", endpoint["model"], models, ctx.at("endpoints", name, "model"))
    for name, monitor in ctx.components("monitors"):
        if monitor["endpoint"] not in endpoints:
            where = ctx.at("monitors", name, "endpoint")
            yield unknown("endpoint", monitor["endpoint"], endpoints, where)
        retrain = monitor.get("on_violation", {}).get("retrain")
        if retrain is not None and retrain not in pipelines:
            where = ctx.at("monitors", name, "on_violation", "retrain")
            yield unknown("pipeline", retrain, pipelines, where)


def check_step_references(ctx: CheckContext) -> Iterator[Diagnostic]:
    stores, models = ctx.names("feature_stores"), ctx.names("models")
    for pipeline, spec in ctx.components("pipelines"):
        steps = list(spec["steps"])
        for step, body in spec["steps"].items():
            for i, upstream in enumerate(body.get("after", [])):
                if upstream == step:
                    where = ctx.at("pipelines", pipeline, "steps", step, "after", i)
                    yield error("step-cycle", f"step {step!r} runs after itself", where)
                elif upstream not in steps:
                    where = ctx.at("pipelines", pipeline, "steps", step, "after", i)
                    yield unknown(f"step in pipeline {pipeline!r}", upstream, steps, where)
            for i, source in enumerate(body.get("inputs", [])):
                where = ctx.at("pipelines", pipeline, "steps", step, "inputs", i)
                kind, _, rest = source.partition(".")
                if kind == "feature_store" and rest not in stores:
                    yield unknown("feature store", rest, stores, where)
                elif kind in steps and kind == step:
                    yield error("step-cycle", f"step {step!r} reads its own output", where)
            if body["type"] == "register_model" and body.get("model") not in models:
                where = ctx.at("pipelines", pipeline, "steps", step, "model")
                yield unknown("model", body.get("model"), models, where)


def check_preview_base(ctx: CheckContext) -> Iterator[Diagnostic]:
    base = ctx.data.get("previews", {}).get("base")
    envs = list(ctx.data.get("environments", {}))
    if base is not None and base not in envs:
        yield unknown("environment", base, envs, ctx.at("previews", "base"))


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
    from mlinfra.ir.sagemaker.context import BUCKETS, KMS_KEY

    # What every SageMaker environment shares: no component owns them, yet audit findings
    # name them, and so may a waiver.
    shared = (KMS_KEY, *(f"bucket.{purpose}" for purpose in BUCKETS))

    envs = list(ctx.data.get("environments", {}))
    for i, waiver in enumerate(ctx.data.get("policies", {}).get("waivers", [])):
        path = ("policies", "waivers", i)
        if waiver["rule"] not in RULE_IDS:
            yield unknown("policy rule", waiver["rule"], sorted(RULE_IDS), ctx.at(*path, "rule"))
        kind, _, rest = waiver["resource"].partition(".")
        name = rest.split("/", 1)[0]
        sections = {v: k for k, v in SECTION_KIND.items()}
        if waiver["resource"].split("/", 1)[0] in shared:
            pass  # the environment's own key and buckets, which audit findings name too
        elif kind not in sections:
            yield error(
                "unknown-reference",
                f"{waiver['resource']!r} does not name a component",
                ctx.at(*path, "resource"),
                suggestion="write KIND.NAME with KIND one of: "
                + ", ".join(sections)
                + f"; or one of the environment's shared resources: {', '.join(shared)}",
            )
        elif name not in ctx.names(sections[kind]):
            known = ctx.names(sections[kind])
            yield unknown(kind.replace("_", " "), name, known, ctx.at(*path, "resource"))
        for j, env in enumerate(waiver.get("environments", [])):
            if env not in envs:
                yield unknown("environment", env, envs, ctx.at(*path, "environments", j))


CHECKS = (
    check_component_references,
    check_step_references,
    check_preview_base,
    check_overrides_name_components,
    check_waiver_references,
)
