"""The model registry: model package groups and the model packages (versions) in them.

A versioned package is keyed `<group>/<version>`; versions only grow, a deleted version's
number is never given again (the group remembers the next one), as on AWS. What a deployment
that follows the registry serves is what ListModelPackages answers first to
`mlinfra.sagemaker.registry.latest_approved`: the newest approved version by creation time.
"""

from __future__ import annotations

import time

from mlinfra.emulator.kit.arns import arn
from mlinfra.emulator.kit.errors import ApiError, invalid
from mlinfra.emulator.kit.paths import Roots
from mlinfra.emulator.kit.records import Kind, Listing, output
from mlinfra.emulator.services.models import check_containers
from mlinfra.emulator.store import Store
from mlinfra.sagemaker import resources

GROUP = resources.MODEL_PACKAGE_GROUP.arn_kind
PACKAGE = resources.MODEL_PACKAGE.arn_kind


def package_key(record: dict) -> str:
    """Where a model package is kept: `<group>/<version>`, or its name if unversioned."""
    if "ModelPackageVersion" in record:
        return f"{record['ModelPackageGroupName']}/{record['ModelPackageVersion']}"
    return record["ModelPackageName"]


class Registry:
    """The model package group and model package operations over the control plane's store."""

    OPERATIONS = (
        "CreateModelPackageGroup", "DescribeModelPackageGroup", "ListModelPackageGroups",
        "DeleteModelPackageGroup",
        "CreateModelPackage", "DescribeModelPackage", "ListModelPackages", "UpdateModelPackage",
        "DeleteModelPackage",
    )  # fmt: skip
    KINDS = (
        Kind.of(resources.MODEL_PACKAGE_GROUP),
        Kind.of(resources.MODEL_PACKAGE, package_key),
    )

    def __init__(self, store: Store, listing: Listing, roots: Roots) -> None:
        self.store = store
        self.listing = listing
        self.roots = roots

    # --- groups -----------------------------------------------------------------------------

    def create_model_package_group(self, p: dict, region: str) -> dict:
        name = p["ModelPackageGroupName"]
        if self.store.get(GROUP, name):
            raise invalid(f"Model Package Group already exists: {arn(region, GROUP, name)}")
        record = dict(
            p,
            ModelPackageGroupArn=arn(region, GROUP, name),
            CreationTime=time.time(),
            ModelPackageGroupStatus="Completed",
        )
        self.store.put(GROUP, name, record, record["CreationTime"])
        return {"ModelPackageGroupArn": record["ModelPackageGroupArn"]}

    def describe_model_package_group(self, p: dict, region: str) -> dict:
        group = self.group(p["ModelPackageGroupName"])
        # A required member: who created the group. A local caller has no Studio user profile
        # or domain, so the user context is empty.
        return output("DescribeModelPackageGroup", {"CreatedBy": {}, **group})

    def list_model_package_groups(self, p: dict, region: str) -> dict:
        return self.listing.list("ListModelPackageGroups", GROUP, p, "ModelPackageGroupName")

    def delete_model_package_group(self, p: dict, region: str) -> None:
        group = self.group(p["ModelPackageGroupName"])
        if self.store.all(PACKAGE, group["ModelPackageGroupName"] + "/"):
            raise ApiError(
                "ConflictException",
                f"Model Package Group {group['ModelPackageGroupName']} still contains model "
                "packages; delete them first.",
            )
        self.store.delete(GROUP, group["ModelPackageGroupName"])

    def group(self, name_or_arn: str) -> dict:
        """A group by name or ARN; ValidationException if there is none."""
        name = name_or_arn.rsplit("model-package-group/", 1)[-1]
        record = self.store.get(GROUP, name)
        if record is None:
            raise invalid(f"ModelPackageGroup {name} does not exist.")
        return record

    # --- packages ---------------------------------------------------------------------------

    def create_model_package(self, p: dict, region: str) -> dict:
        group_name = p.get("ModelPackageGroupName")
        now = time.time()
        check_containers(
            (p.get("InferenceSpecification") or {}).get("Containers") or [],
            "InferenceSpecification.Containers",
            self.roots,
        )
        if group_name:
            if p.get("ModelPackageName"):
                raise invalid(
                    "ModelPackageName and ModelPackageGroupName cannot both be specified."
                )
            group = self.group(group_name)
            name = group["ModelPackageGroupName"]
            version = len(self.store.all(PACKAGE, name + "/")) + 1
            # Versions only grow: a deleted version's number is never reused, as on AWS.
            version = max(version, int(group.get("_NextVersion", 1)))
            group["_NextVersion"] = version + 1
            self.store.put(GROUP, name, group, group["CreationTime"])
            key = f"{name}/{version}"
            record = dict(
                p,
                ModelPackageGroupName=name,
                ModelPackageName=name,
                ModelPackageVersion=version,
                ModelApprovalStatus=p.get("ModelApprovalStatus", "PendingManualApproval"),
            )
        elif p.get("ModelPackageName"):
            key = p["ModelPackageName"]
            if self.store.get(PACKAGE, key):
                raise ApiError("ConflictException", f"Model package {key} already exists.")
            record = dict(p)
        else:
            raise invalid("Either ModelPackageName or ModelPackageGroupName must be specified.")
        record.update(
            ModelPackageArn=arn(region, PACKAGE, key),
            CreationTime=now,
            LastModifiedTime=now,
            ModelPackageStatus="Completed",
        )
        record.pop("ClientToken", None)
        self.store.put(PACKAGE, key, record, now)
        return {"ModelPackageArn": record["ModelPackageArn"]}

    def describe_model_package(self, p: dict, region: str) -> dict:
        package = self.package(p["ModelPackageName"])
        # Required: the emulator runs no validation or image scan, so there are none to report.
        details = {"ValidationStatuses": [], "ImageScanStatuses": []}
        return output("DescribeModelPackage", {"ModelPackageStatusDetails": details, **package})

    def list_model_packages(self, p: dict, region: str) -> dict:
        group = p.get("ModelPackageGroupName")
        prefix = ""
        if group:
            prefix = self.group(group)["ModelPackageGroupName"] + "/"
        kind = p.get("ModelPackageType", "Versioned" if group else "Both")
        status = p.get("ModelApprovalStatus")

        def keep(r: dict) -> bool:
            versioned = "ModelPackageVersion" in r
            if kind == "Versioned" and not versioned or kind == "Unversioned" and versioned:
                return False
            return status is None or r.get("ModelApprovalStatus") == status

        listed = self.listing.list(
            "ListModelPackages", PACKAGE, p, "ModelPackageName", keep=keep, prefix=prefix
        )
        for summary in listed["ModelPackageSummaryList"]:
            # AWS names only unversioned packages in a summary; a version is its group's.
            if "ModelPackageVersion" in summary:
                summary.pop("ModelPackageName", None)
        return listed

    def update_model_package(self, p: dict, region: str) -> dict:
        record = self.package(p["ModelPackageArn"])
        changes = {k: v for k, v in p.items() if k not in ("ModelPackageArn", "ClientToken")}
        removed = changes.pop("CustomerMetadataPropertiesToRemove", [])
        if removed:
            props = dict(record.get("CustomerMetadataProperties", {}))
            for key in removed:
                props.pop(key, None)
            record["CustomerMetadataProperties"] = props
        if "CustomerMetadataProperties" in changes:
            changes["CustomerMetadataProperties"] = {
                **record.get("CustomerMetadataProperties", {}),
                **changes["CustomerMetadataProperties"],
            }
        record.update(changes, LastModifiedTime=time.time())
        self.store.put(PACKAGE, package_key(record), record, record["CreationTime"])
        return {"ModelPackageArn": record["ModelPackageArn"]}

    def delete_model_package(self, p: dict, region: str) -> None:
        """By name (an unversioned package) or ARN (a version of a group, `.../group/3`).
        A deleted version's number is not given again (the group remembers the next one)."""
        record = self.package(p["ModelPackageName"])
        self.store.delete(PACKAGE, package_key(record))

    def package(self, name_or_arn: str) -> dict:
        """A package by name or ARN; ValidationException if there is none."""
        key = name_or_arn.split(":model-package/", 1)[-1]
        record = self.store.get(PACKAGE, key)
        if record is None:
            raise invalid(f"ModelPackage {name_or_arn} does not exist.")
        return record
