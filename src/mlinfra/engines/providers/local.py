"""Create, read, update and delete the resources of a local environment in its emulator.

The one implementation behind both ways a local environment is applied: the embedded engine
calls `LocalProvider` directly, and the rendered Pulumi program wraps it as dynamic
providers (`mlinfra.engines.providers.dynamic`). A resource's inputs are the request of the
SageMaker call that creates it (see `mlinfra.ir.local`), with every Ref and Call already
resolved; the emulator's botocore model checks them, so all each type needs is its entry in
SageMaker's resource-type catalogue (`mlinfra.sagemaker.resources`): its API noun, its name
and ARN fields, and what it can change in place (for a feature group, what
UpdateFeatureGroup changes: added features, the online store's TTL, the throughput).

The alarms and scaling an endpoint's SLO and autoscaling make are resources of the emulator's
CloudWatch and Application Auto Scaling APIs (their catalogue entry names the `api`); how each
is put, found and deleted is in `services`.

An endpoint update with a DeploymentConfig is a blue/green deployment that runs on after
UpdateEndpoint answers: the provider waits for it to end, as Pulumi's AWS provider waits for
InService, and a deployment that rolled back (the endpoint InService on its old
configuration) is a ProviderError with the endpoint's FailureReason.

Values the IR leaves to apply time (`Call`: the latest approved model version) are looked up
here too, in the emulator's registry, by `LocalProvider.call`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlinfra.emulator.access import Access, NotRunning
from mlinfra.engines.providers import services
from mlinfra.ir.local import api
from mlinfra.render.runtime import is_missing
from mlinfra.sagemaker import registry
from mlinfra.sagemaker.resources import TAGS, ResourceType
from mlinfra.sagemaker.resources import kind_of as kind_of_type

# The values a local graph's `Call`s may ask for, computed by `LocalProvider.call` (and in
# rendered local programs by the functions of the same names in `engines.providers.dynamic`).
CALLS = ("latest_approved_model_package", "latest_approved_version", "model_package_arn")
# What a resource's outputs add to its inputs: inputs and outputs together are what the
# engine stores, and `diff` leaves these out (they are never inputs).
OUTPUT_FIELDS = ("name", "arn", "EndpointStatus")
# An endpoint deployment's statuses before it ends, and how long one may take at most
# (SageMaker's largest MaximumExecutionTimeoutInSeconds; the emulator's clock may run faster).
DEPLOYING = ("Creating", "Updating", "RollingBack")
DEPLOYMENT_TIMEOUT = 28800.0


class ProviderError(Exception):
    """A resource could not be created, changed or deleted; the message says why and what to do."""


class EmulatorStopped(ProviderError):
    """The emulator stopped answering (stopped, killed or crashed): nothing more can be done
    until it runs again."""


# The catalogue's entry of each local type: its API noun, name and ARN fields, and what
# Update<noun> changes in place.
KINDS: dict[str, ResourceType] = {type_: kind_of_type(type_) for type_ in api.TYPES}


@dataclass(frozen=True)
class Diff:
    changed: tuple[str, ...]  # the inputs that differ, sorted
    replace: bool  # False: an update in place does it

    @property
    def any(self) -> bool:
        return bool(self.changed)


def kind_of(type_: str) -> ResourceType:
    kind = KINDS.get(type_)
    if kind is None:
        raise ProviderError(f"{type_!r} is not a local resource type ({', '.join(KINDS)})")
    return kind


def diff(type_: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> Diff:
    """What changed between two sets of inputs, and whether it needs a replacement."""
    keys = {*old, *new} - set(OUTPUT_FIELDS)
    changed = tuple(sorted(k for k in keys if old.get(k) != new.get(k)))
    return Diff(changed, replace=bool(fixed_fields(type_, changed, old, new)))


def fixed_fields(
    type_: str, changed: Any, old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[str]:
    """Those of the `changed` fields that cannot go from `old` to `new` in place."""
    return kind_of(type_).fixed_fields(changed, old, new)


class LocalProvider:
    """The emulator's SageMaker API, as a provider of local resources."""

    def __init__(self, client: Any, clients: Callable[[str], Any] | None = None) -> None:
        self.client = client  # a boto3 SageMaker client whose endpoint_url is the emulator
        # The emulator's other APIs' clients by boto3 name (cloudwatch...), made on first use.
        self._make_client = clients
        self._clients: dict[str, Any] = {}

    @classmethod
    def for_access(cls, access: Access) -> LocalProvider:
        """The provider of an emulator reached with its URL and credentials."""
        from botocore.config import Config

        config = Config(retries={"max_attempts": 2, "mode": "standard"})
        return cls(
            access.client("sagemaker", config=config),
            lambda api: access.client(api, config=config),
        )

    @classmethod
    def for_spec(cls, spec_file: str | Path, region: str, start: bool = True) -> LocalProvider:
        """The provider of the emulator serving a spec's folder, started if none runs."""
        # The emulator's process control (start, status, locks) is loaded only when an emulator
        # is asked for: readers of the provider's kinds and calls never need it.
        from mlinfra.emulator import process

        found = process.status(spec_file)
        if found is None and start:
            try:
                found = process.start(spec_file)
            except process.AlreadyRunning as exc:  # started by someone else meanwhile
                found = exc.status
            except process.EmulatorError as exc:
                raise ProviderError(f"cannot start the local emulator: {exc}") from None
        if found is None:
            raise ProviderError(
                f"no emulator is running for {process.folder_of(spec_file)}; "
                "start it with `mlinfra emulator start`"
            )
        try:
            access = Access.for_state(found.url, process.state_dir_of(spec_file), region)
        except NotRunning as exc:
            raise ProviderError(str(exc)) from None
        return cls.for_access(access)

    # --- resources -----------------------------------------------------------------------

    def create(self, type_: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Create the resource; its outputs are its inputs plus `OUTPUT_FIELDS`."""
        kind = kind_of(type_)
        if kind.api != "sagemaker":
            return self._put(type_, inputs)
        self._call(f"create_{kind.method_noun}", dict(inputs), inputs[kind.name_field])
        found = self.read(type_, inputs[kind.name_field])
        if found is None:
            raise ProviderError(f"{inputs[kind.name_field]} vanished right after creation")
        self._check_status(type_, found, created=True)
        return _outputs(inputs, found)

    def read(self, type_: str, name: str) -> dict[str, Any] | None:
        """The resource as the emulator describes it (plus `name` and `arn`), or None."""
        kind = kind_of(type_)
        from botocore.exceptions import ClientError

        try:
            with self._answering():
                described = getattr(self.client, f"describe_{kind.method_noun}")(
                    **{kind.name_field: name}
                )
        except ClientError as exc:
            if is_missing(exc):
                return None
            raise ProviderError(_message(exc, name)) from None
        described.pop("ResponseMetadata", None)
        found = _plain(described)
        return {**found, "name": name, "arn": found.get(kind.arn_field, "")}

    def refresh(self, type_: str, inputs: Mapping[str, Any]) -> dict[str, Any] | None:
        """The resource's inputs as they are now in the emulator (None when it is gone).

        Only what was sent is compared, in the shape it was sent: describe calls return
        fields nobody set, and leave out some that were (tags come from ListTags).
        """
        if kind_of(type_).api != "sagemaker":
            found = self._find(type_, inputs)
        else:
            found = self.read(type_, _name(type_, inputs))
        if found is None:
            return None
        if TAGS in inputs and found.get("arn") and kind_of(type_).api == "sagemaker":
            tags = self._call("list_tags", {"ResourceArn": found["arn"]}, found["arn"])
            found[TAGS] = tags.get("Tags", [])
        return {k: _shaped(found[k], v) if k in found else v for k, v in inputs.items()}

    def update(self, type_: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
        """Change in place what `diff` says can be; the caller replaces otherwise."""
        kind = kind_of(type_)
        change = diff(type_, old, new)
        if change.replace:
            raise ProviderError(
                f"{new[kind.name_field]}: {', '.join(change.changed)} cannot change in place"
            )
        if kind.api != "sagemaker":
            return self._put(type_, new)
        name = new[kind.name_field]
        current = self.read(type_, name)
        if current is None:
            raise ProviderError(f"{name} no longer exists in the emulator; refresh and re-apply")
        fields = [k for k in change.changed if k in kind.updatable or k in kind.partly]
        if fields:
            for request in kind.update_requests(name, old, new, fields):
                self._call(f"update_{kind.method_noun}", request, name)
        if TAGS in change.changed:
            self._retag(current["arn"], old.get(TAGS, ()), new.get(TAGS, ()))
        found = self.read(type_, name) or current
        if type_ == api.ENDPOINT and "EndpointConfigName" in fields:
            found = self._deployed(name, new["EndpointConfigName"]) or found
        self._check_status(type_, found, created=False)
        return _outputs(new, found)

    def delete(self, type_: str, inputs: Mapping[str, Any]) -> None:
        """Delete the resource; one already gone is not an error.

        A registry group goes with its versions (SageMaker refuses to delete a group that has
        any): a plan deletes one only where removing it is allowed (in a protected
        environment, only with --allow-removal naming it), and says that its versions go.
        """
        kind = kind_of(type_)
        from botocore.exceptions import ClientError

        name = _name(type_, inputs)
        if kind.api != "sagemaker":
            method, request = services.CALLS[type_].delete(inputs)
            try:
                with self._answering():
                    getattr(self._client(kind.api), method)(**request)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code not in services.MISSING and not is_missing(exc):
                    raise ProviderError(_message(exc, name)) from None
            return
        try:
            with self._answering():
                if type_ == api.MODEL_PACKAGE_GROUP:
                    self._delete_versions(name)
                getattr(self.client, f"delete_{kind.method_noun}")(**{kind.name_field: name})
        except ClientError as exc:
            if not is_missing(exc):
                raise ProviderError(_message(exc, name)) from None

    def _delete_versions(self, group: str) -> None:
        from botocore.exceptions import ClientError

        pages = self.client.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=group, ModelPackageType="Versioned"
        )
        # Listed first, deleted after: deleting while paging would move the pages.
        arns = [p["ModelPackageArn"] for page in pages for p in page["ModelPackageSummaryList"]]
        for arn in arns:
            try:
                self.client.delete_model_package(ModelPackageName=arn)
            except ClientError as exc:
                if not is_missing(exc):  # deleted meanwhile, or by a destroy that stopped
                    raise

    # --- the emulator's other APIs ------------------------------------------------------

    def _client(self, api_name: str) -> Any:
        if api_name not in self._clients:
            if self._make_client is None:
                raise ProviderError(f"this provider has no {api_name} client")
            self._clients[api_name] = self._make_client(api_name)
        return self._clients[api_name]

    def _put(self, type_: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Create or overwrite a resource of another API; its outputs."""
        calls = services.CALLS[type_]
        name = _name(type_, inputs)
        self._call(calls.put, dict(inputs), name, self._client(calls.api))
        found = self._find(type_, inputs)
        if found is None:
            raise ProviderError(f"{name} vanished right after it was put")
        return _outputs(inputs, found)

    def _find(self, type_: str, inputs: Mapping[str, Any]) -> dict[str, Any] | None:
        """A resource of another API as it describes it (plus `name` and `arn`), or None."""
        from botocore.exceptions import ClientError

        calls = services.CALLS[type_]
        name = _name(type_, inputs)
        try:
            with self._answering():
                found = calls.find(self._client(calls.api), inputs)
        except ClientError as exc:
            raise ProviderError(_message(exc, name)) from None
        if found is None:
            return None
        found = _plain(found)
        return {**found, "name": name, "arn": found.get(calls.arn_field, "")}

    # --- endpoint deployments ------------------------------------------------------------

    def _deployed(self, name: str, config: str) -> dict[str, Any] | None:
        """Wait for an endpoint's deployment to end; its description then. A deployment that
        rolled back (the endpoint serves another configuration) is a ProviderError."""
        deadline = time.monotonic() + DEPLOYMENT_TIMEOUT
        while True:
            found = self.read(api.ENDPOINT, name)
            if found is None or found.get("EndpointStatus") not in DEPLOYING:
                break
            if time.monotonic() > deadline:
                raise ProviderError(f"endpoint {name} still deploys {config}: plan again later")
            time.sleep(0.2)
        if (
            found is not None
            and found.get("EndpointStatus") == "InService"
            and (found.get("EndpointConfigName") != config)
        ):
            raise ProviderError(
                f"endpoint {name}: the deployment of {config} was rolled back, and "
                f"{found.get('EndpointConfigName')} serves: "
                f"{found.get('FailureReason') or 'no reason given'}"
            )
        return found

    # --- values known when applying ------------------------------------------------------

    def call(self, function: str, args: tuple[Any, ...]) -> Any:
        """The value of an IR `Call`, looked up in the emulator (the registry's versions)."""
        lookups = {
            "latest_approved_model_package": lambda group: self._latest(group)["ModelPackageArn"],
            "latest_approved_version": lambda group: str(
                self._latest(group)["ModelPackageVersion"]
            ),
            "model_package_arn": self._package_arn,
        }
        lookup = lookups.get(function)
        if lookup is None:
            raise ProviderError(f"the local target cannot compute {function}()")
        return lookup(*args)

    def _latest(self, group: str) -> dict[str, Any]:
        found = self._packages(registry.latest_approved(group), every_page=False)
        if not found:
            raise ProviderError(
                f"model package group {group!r} has no approved version in the emulator: "
                "register one (`mlinfra pipeline run`: its register_model step) and approve it "
                "(`mlinfra model approve`), or pin `version:` in mlinfra.yaml"
            )
        return found[0]

    def _package_arn(self, group: str, version: int | str) -> str:
        for package in self._packages(registry.versions(group)):
            if str(package.get("ModelPackageVersion")) == str(version):
                return package["ModelPackageArn"]
        raise ProviderError(f"model package group {group!r} has no version {version}")

    def _packages(self, request: dict[str, Any], every_page: bool = True) -> list[dict[str, Any]]:
        """The summaries a ListModelPackages `request` answers (on its first page only, when
        not `every_page`)."""
        from botocore.exceptions import ClientError

        try:
            with self._answering():
                pages = self.client.get_paginator("list_model_packages").paginate(**request)
                if not every_page:
                    return next(iter(pages))["ModelPackageSummaryList"]
                return [p for page in pages for p in page["ModelPackageSummaryList"]]
        except ClientError as exc:
            if is_missing(exc):  # not created yet: it has no versions
                return []
            raise ProviderError(_message(exc, request["ModelPackageGroupName"])) from None

    # --- helpers -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _answering(self) -> Iterator[None]:
        """Turn a connection that failed into `EmulatorStopped` (botocore has already retried)."""
        from botocore.exceptions import ConnectionError, HTTPClientError

        try:
            yield
        except (ConnectionError, HTTPClientError) as exc:
            raise EmulatorStopped(
                f"the local emulator at {self.client.meta.endpoint_url} stopped answering ({exc})"
            ) from None

    def _call(self, method: str, request: dict[str, Any], name: str, client: Any = None) -> Any:
        from botocore.exceptions import ClientError, ParamValidationError

        client = client or self.client
        operation = client.meta.method_to_api_mapping[method]
        shape = client.meta.service_model.operation_model(operation).input_shape
        try:
            with self._answering():
                return getattr(client, method)(**_typed(request, shape))
        except ClientError as exc:
            raise ProviderError(_message(exc, name)) from None
        except ParamValidationError as exc:
            # The lowering wrote a request the API model refuses: a bug in mlinfra.
            raise ProviderError(f"{name}: invalid {method} request: {exc}") from None

    def _check_status(self, type_: str, outputs: Mapping[str, Any], created: bool) -> None:
        if type_ != api.ENDPOINT or outputs.get("EndpointStatus") not in (
            "Failed",
            "UpdateRollbackFailed",
        ):
            return
        name = outputs["EndpointName"]
        reason = outputs.get("FailureReason", "no reason given")
        if created:
            # A failed creation leaves nothing behind: the next apply creates it afresh.
            self.delete(type_, {"EndpointName": name})
        raise ProviderError(f"endpoint {name} failed to deploy: {reason}")

    def _retag(self, arn: str, old: Any, new: Any) -> None:
        old_tags = {t["Key"]: t["Value"] for t in old}
        new_tags = {t["Key"]: t["Value"] for t in new}
        removed = [k for k in old_tags if k not in new_tags]
        if removed:
            self._call("delete_tags", {"ResourceArn": arn, "TagKeys": removed}, arn)
        added = [{"Key": k, "Value": v} for k, v in new_tags.items() if old_tags.get(k) != v]
        if added:
            self._call("add_tags", {"ResourceArn": arn, "Tags": added}, arn)


def _typed(value: Any, shape: Any) -> Any:
    """`value` with whole floats made ints where the API model wants an integer.

    Inputs that went through Pulumi (a protobuf Struct, JSON numbers) come back as floats:
    `InitialInstanceCount: 1.0`, which botocore rightly refuses.
    """
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {k: _typed(v, shape.members.get(k)) for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [_typed(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _typed(v, shape.value) for k, v in value.items()}
    if kind in ("integer", "long") and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _shaped(found: Any, sent: Any) -> Any:
    """`found` cut to the keys `sent` has, recursively: what the emulator says of what was set."""
    if isinstance(found, dict) and isinstance(sent, dict):
        return {k: _shaped(found[k], v) if k in found else v for k, v in sent.items()}
    if isinstance(found, list) and isinstance(sent, list) and len(found) == len(sent):
        return [_shaped(f, s) for f, s in zip(found, sent, strict=True)]
    return found


def _name(type_: str, inputs: Mapping[str, Any]) -> str:
    """The resource's name in its recorded inputs; a state edited by hand may lack it."""
    field = kind_of(type_).name_field
    name = inputs.get(field)
    if not isinstance(name, str) or not name:
        raise ProviderError(
            f"the state records a {type_} without its name ({field}), so it cannot be found"
        )
    return name


def _outputs(inputs: Mapping[str, Any], found: Mapping[str, Any]) -> dict[str, Any]:
    return {**inputs, **{k: found[k] for k in OUTPUT_FIELDS if k in found}}


def _message(exc: Any, name: str) -> str:
    error = exc.response.get("Error", {})
    return f"{name}: {error.get('Code', 'Error')}: {error.get('Message', exc)}"


def _plain(value: Any) -> Any:
    """Describe output as JSON data: datetimes as ISO text, so outputs can be stored."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
