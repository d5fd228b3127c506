"""A reviewer's decision on a model version (`mlinfra model approve|reject`): the version's
evidence against the version that serves now, asked about, then recorded with who decided
and why.

The decision is SageMaker's own fields: the version's `ModelApprovalStatus` and its
`ApprovalDescription` (`Rejected by arn:...: the reason`), which hold only the last decision.
So that every decision stays on record, each one is also a lineage action
(`mlinfra.operations.approval_history`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mlinfra.operations.approval_history import record
from mlinfra.operations.emulator import call
from mlinfra.operations.errors import Declined, OperationError
from mlinfra.operations.model_versions import Version, describe_version
from mlinfra.operations.registry import open_registry
from mlinfra.sagemaker.registry import APPROVED

REJECTED = "Rejected"
PENDING = "PendingManualApproval"
DECISIONS = {"approve": APPROVED, "reject": REJECTED}
DESCRIPTION_LIMIT = 1024  # botocore: ApprovalDescription, at most 1024 characters


@dataclass(frozen=True)
class DecisionRequest:
    validation: object  # the valid spec (`spec.validate.Validation`)
    spec_file: str
    env: str
    model: str
    version: int | None  # None: the newest
    decision: str  # "approve" or "reject"
    reason: str | None


@dataclass(frozen=True)
class Review:
    """What a reviewer judges: the version, and the one that serves now (None: none does)."""

    model: str
    decision: str
    candidate: Version
    serving: Version | None

    def compared(self) -> list[tuple[str, float | None, float | None]]:
        """Each metric of either version: (name, the candidate's, the serving version's)."""
        theirs = self.serving.metrics if self.serving else {}
        names = sorted({*self.candidate.metrics, *theirs})
        return [(n, self.candidate.metrics.get(n), theirs.get(n)) for n in names]


@dataclass(frozen=True)
class Decided:
    review: Review
    status: str
    by: str
    description: str


def decide(request: DecisionRequest, confirm: Callable[[Review], bool]) -> Decided:
    """Approve or reject the version, after `confirm` has seen the review and said yes
    (`Declined` otherwise). Refused: a version that is not there, or is in that state."""
    status = DECISIONS[request.decision]
    reason = (request.reason or "").strip()
    if status == REJECTED and not reason:
        raise OperationError(
            "a rejection needs a reason", "say why with --reason TEXT: the team reads it"
        )
    found = open_registry(request.validation, request.env, request.spec_file, request.model)
    summary = found.versions()[0] if request.version is None else found.version(request.version)
    number = summary["ModelPackageVersion"]
    if summary["ModelApprovalStatus"] == status:
        raise OperationError(
            f"{request.model} version {number} is already {status.lower()}",
            f"see why with `mlinfra model show {request.model} --version {number} "
            f"--env {request.env}`",
        )
    candidate = describe_version(found, summary["ModelPackageArn"], request.spec_file)
    serving = found.serving()
    review = Review(
        request.model,
        request.decision,
        candidate,
        describe_version(found, serving["ModelPackageArn"], request.spec_file) if serving else None,
    )
    if not confirm(review):
        raise Declined()
    by = found.caller()
    description = f"{status} by {by}" + (f": {reason}" if reason else "")
    call(
        found.sagemaker.update_model_package,
        ModelPackageArn=candidate.arn,
        ModelApprovalStatus=status,
        ApprovalDescription=description[:DESCRIPTION_LIMIT],
    )
    record(found, candidate.arn, candidate.number, status, by, reason)
    return Decided(review, status, by, description)
