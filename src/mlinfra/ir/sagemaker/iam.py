"""Execution roles: one per component that runs on SageMaker, with a least-privilege policy.

Every statement names its actions and resources; a statement allowing `*` on `*` is a bug in
the lowering and is refused here, before it can reach a program.
"""

from __future__ import annotations

from typing import Any

from mlinfra.ir.graph import GraphError, Json, Ref, Resource
from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.spec.model import Component

SAGEMAKER_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def statement(actions: list[str], resources: list[Any], sid: str | None = None) -> dict:
    found = {"Effect": "Allow", "Action": sorted(actions), "Resource": resources}
    if sid:
        found["Sid"] = sid
    return found


def _check(statements: list[dict], where: str) -> None:
    for s in statements:
        actions, resources = s["Action"], s["Resource"]
        if ("*" in actions or actions == "*") and ("*" in resources or resources == "*"):
            raise GraphError(f"{where}: a policy statement allows every action on every resource")


def execution_role(
    ctx: LoweringContext,
    component: Component,
    statements: list[dict],
    trust: dict = SAGEMAKER_TRUST,
) -> tuple[list[Resource], Ref]:
    """A role for `component` and its inline policy; returns them and a Ref to the role ARN."""
    address = f"{component.address}/role"
    _check(statements, address)
    role = ctx.resource(
        address,
        "aws.iam.Role",
        {
            "name": ctx.role_name(component),
            "assume_role_policy": Json(trust),
            "tags": ctx.tags(component),
        },
        component.source,
    )
    policy = ctx.resource(
        f"{address}-policy",
        "aws.iam.RolePolicy",
        {
            # Inline policy names are per role; an explicit one keeps Pulumi from deriving it
            # from the address, whose `/` IAM refuses.
            "name": "mlinfra-least-privilege",
            "role": Ref(address, "id"),
            "policy": Json({"Version": "2012-10-17", "Statement": statements}),
        },
        component.source,
    )
    return [role, policy], Ref(address, "arn")
