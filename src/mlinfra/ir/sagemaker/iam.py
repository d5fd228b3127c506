"""Execution roles: one per component that runs on SageMaker, with a least-privilege policy.

Every statement names its actions and resources; a statement allowing `*` on `*` is a bug in
the lowering and is refused here, before it can reach a program.
"""

from __future__ import annotations

from typing import Any

from mlinfra.ir.graph import GraphError, Json, Ref, Resource
from mlinfra.ir.sagemaker.arns import arn
from mlinfra.ir.sagemaker.context import IAM_ROLE_NAME_LIMIT, LoweringContext
from mlinfra.naming import fit
from mlinfra.spec.model import Component

ENI_MANAGE = [
    "ec2:CreateNetworkInterface",
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
]
# Describe calls support no resource-level permissions: IAM requires "*" for them.
VPC_DESCRIBE = [
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
]

# The Sids of the statements a security setting brings with it, and the audit category of
# that setting: turning it on adds them. The compliance diff reads them so that what
# encryption or a VPC needs is not reported as a weakening of its own.
USE_KMS_KEY = "UseKmsKey"
GRANT_FOR_VOLUMES = "GrantForVolumes"
VPC_DESCRIBE_SID = "VpcDescribe"
VPC_NETWORK_INTERFACES = "VpcNetworkInterfaces"
SUPPORTING_SIDS = {
    USE_KMS_KEY: "encryption",
    GRANT_FOR_VOLUMES: "encryption",
    VPC_DESCRIBE_SID: "vpc",
    VPC_NETWORK_INTERFACES: "vpc",
}

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


def vpc_statements(ctx: LoweringContext) -> list[dict]:
    """What a role needs to run SageMaker containers in the environment's VPC, if it has one:
    describing the network, and network interfaces in its subnets and security groups."""
    vpc = ctx.spec.security.vpc
    if vpc is None:
        return []
    resources = [arn(ctx, "ec2", "network-interface/*")]
    resources += [arn(ctx, "ec2", f"subnet/{subnet}") for subnet in vpc.subnets]
    resources += [arn(ctx, "ec2", f"security-group/{sg}") for sg in vpc.security_groups]
    return [
        statement(VPC_DESCRIBE, ["*"], VPC_DESCRIBE_SID),
        statement(ENI_MANAGE, resources, VPC_NETWORK_INTERFACES),
    ]


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
    purpose: str = "",
) -> tuple[list[Resource], Ref]:
    """A role for `component` and its inline policy; returns them and a Ref to the role ARN.

    A component with two roles gives the second a `purpose` (`job`): its address is then
    `<component>/job-role` and its name ends in `-job`."""
    address = f"{component.address}/{purpose}-role" if purpose else f"{component.address}/role"
    name = ctx.role_name(component)
    if purpose:
        name = fit(f"{name}-{purpose}", IAM_ROLE_NAME_LIMIT)
    _check(statements, address)
    role = ctx.resource(
        address,
        "aws.iam.Role",
        {
            "name": name,
            "assume_role_policy": Json(trust),
            "tags": ctx.tags(component),
        },
        component.key_range,
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
        component.key_range,
    )
    return [role, policy], Ref(address, "arn")
