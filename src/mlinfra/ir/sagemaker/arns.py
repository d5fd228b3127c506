"""ARNs of things the lowering names but does not create: log groups, ENIs, ECR
repositories, S3 objects given by URI, Glue tables. One place builds them, per partition."""

from __future__ import annotations

from mlinfra.ir.sagemaker.context import LoweringContext
from mlinfra.sagemaker.arns import partition


def arn(ctx: LoweringContext, service: str, resource: str) -> str:
    """`arn:<partition>:<service>:<region>:<account>:<resource>`; any account when unknown."""
    account = ctx.spec.account or "*"
    return f"arn:{partition(ctx.spec.region)}:{service}:{ctx.spec.region}:{account}:{resource}"


def s3_arn(ctx: LoweringContext, uri: str) -> str:
    return f"arn:{partition(ctx.spec.region)}:s3:::{uri.removeprefix('s3://')}"


def repository_arn(ctx: LoweringContext, image_uri: str) -> str:
    """The ECR repository of `<registry>.dkr.ecr.<region>.<domain>/<repository>:<tag>`."""
    host, _, path = image_uri.partition("/")
    registry, repository = host.split(".", 1)[0], path.split(":", 1)[0]
    return (
        f"arn:{partition(ctx.spec.region)}:ecr:{ctx.spec.region}:{registry}:repository/{repository}"
    )
