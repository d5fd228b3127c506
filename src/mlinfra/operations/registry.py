"""The model registry of an environment, of either target: a SageMaker client (the local
emulator's, or AWS's with the user's own credentials in the environment's region), who is
calling (the emulator's user, or STS's caller identity), and the versions of a model's
registry group.

Reviewers' commands (`mlinfra model versions|show|approve|reject`) read the registry through
it; on SageMaker only approval writes.
"""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import dataclass
from typing import Any

from mlinfra.engines import aws
from mlinfra.operations.emulator import call, client, component, named, reason
from mlinfra.operations.environment import environment
from mlinfra.operations.errors import OperationError
from mlinfra.sagemaker import registry
from mlinfra.sagemaker.arns import EXAMPLE_ACCOUNT, partition

REPORT_LIMIT = 10 * 1024 * 1024  # an evaluation report is small; a bigger object is not one


@dataclass(frozen=True)
class Registry:
    """A model's registry group in one environment, and a client that reaches it."""

    model: str  # as the spec names it
    group: str  # the group's physical name
    sagemaker: Any  # a boto3 SageMaker client
    local: bool  # the local emulator's (else AWS's)
    region: str
    sts: Any = None  # AWS's STS client (None for the emulator)

    def caller(self) -> str:
        """Who is calling, as an ARN: STS's caller identity on AWS; on the emulator, which
        serves only the user who started it, that user in the emulator's account."""
        if self.local:
            return f"arn:{partition(self.region)}:iam::{EXAMPLE_ACCOUNT}:user/{_user()}"
        return call(self.sts.get_caller_identity)["Arn"]

    def versions(self) -> list[dict[str, Any]]:
        """The summaries of every version in the group, newest first; an error when there
        are none yet."""
        pages = self.sagemaker.get_paginator("list_model_packages").paginate(
            **registry.versions(self.group)
        )
        try:
            found = [p for page in pages for p in page["ModelPackageSummaryList"]]
        except self.sagemaker.exceptions.ClientError as exc:
            raise OperationError(f"registry group {self.group}: {reason(exc)}") from None
        if not found:
            raise OperationError(
                f"registry group {self.group} has no versions yet",
                "a pipeline's register_model step adds them: `mlinfra pipeline run NAME "
                "--env ENV --wait`",
            )
        return sorted(found, key=lambda v: v["ModelPackageVersion"], reverse=True)

    def version(self, number: int) -> dict[str, Any]:
        """The summary of version `number`; an error naming the versions there are."""
        found = self.versions()
        chosen = next((v for v in found if v["ModelPackageVersion"] == number), None)
        if chosen is None:
            known = ", ".join(str(v["ModelPackageVersion"]) for v in reversed(found))
            raise OperationError(
                f"model {self.model!r} has no version {number} (it has: {known})",
                f"list them with `mlinfra model versions {self.model} --env ENV`",
            )
        return chosen

    def version_arn(self, number: int) -> str:
        """The ARN version `number` has if it exists (the group's, `.../<group>/<number>`),
        without listing the group's versions."""
        describe = self.sagemaker.describe_model_package_group
        group_arn = call(describe, ModelPackageGroupName=self.group)["ModelPackageGroupArn"]
        return group_arn.replace(":model-package-group/", ":model-package/", 1) + f"/{number}"

    def read_report(self, location: str) -> Any:
        """An evaluation report in S3, read with the user's credentials (None if it cannot
        be: not S3, missing, unreadable, too big or not JSON). The emulator's are files of
        the project, which `model_versions` reads itself."""
        if self.local or not location.startswith("s3://"):
            return None
        # botocore is deferred: it loads only when AWS is asked.
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, _, key = location.removeprefix("s3://").partition("/")
        try:
            (s3,) = aws.clients(self.region, "s3")
            body = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{REPORT_LIMIT - 1}")
            return json.loads(body["Body"].read())
        except (aws.NoCredentials, BotoCoreError, ClientError, ValueError):
            return None

    def serving(self) -> dict[str, Any] | None:
        """The summary of the version that serves: the newest approved one, which every
        endpoint of the model deploys (`sagemaker.registry.latest_approved`); None if none."""
        found = call(self.sagemaker.list_model_packages, **registry.latest_approved(self.group))
        listed = found.get("ModelPackageSummaryList") or []
        return listed[0] if listed else None


def open_registry(validation: Any, env: str, spec_file: str, model_name: str) -> Registry:
    """The registry group of `model_name` in environment `env`; an error when the model has
    none, or (SageMaker) when there are no AWS credentials."""
    spec = environment(validation, env, spec_file)
    model = component(spec, "model", model_name, spec_file)
    if not model.registry_group:
        raise OperationError(
            f"model {model_name!r} has no `registry_group:`, so it has no versions"
        )
    group = named(spec, model.registry_group, "model_package_group")
    sagemaker, sts = clients(spec, spec_file)
    return Registry(model_name, group, sagemaker, sts is None, spec.region, sts)


def clients(spec: Any, spec_file: str) -> tuple[Any, Any]:
    """A SageMaker client of environment `spec` (the emulator beside the spec, or AWS with
    the user's credentials), and for AWS an STS client (None for the emulator)."""
    if spec.target == "local":
        return client(spec_file, spec.region), None
    try:
        sagemaker, sts = aws.clients(spec.region, "sagemaker", "sts")
    except aws.NoCredentials as exc:
        raise OperationError(
            f"environment {spec.env!r} is on SageMaker: {exc}",
            "configure AWS credentials (aws configure, AWS_PROFILE or the AWS_* variables)",
        ) from None
    return sagemaker, sts


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container): its number
        return f"uid-{os.getuid()}"
