"""The SageMaker control plane: models, endpoints, registry, feature groups, pipelines, monitors.

Requests arrive already validated against botocore's input shapes (`protocol.py`); each handler
here applies AWS's rules (unique names, references that must exist, version numbering, approval)
to records in the SQLite `Store`, and Describe*/List* project those records onto the output
shapes, so responses carry exactly the fields boto3 expects. Endpoints are deployed on the
`serving` runtime and feature groups created in the `featurestore` runtime; both are imported
lazily so the control plane works (and says clearly what is missing) without them. Pipelines
and monitoring schedules are runtimes of their own (`pipelines`, `monitoring`), and the
`scheduler` starts them on their schedules while the emulator serves.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlinfra.emulator.paging import Pager, descending
from mlinfra.emulator.paths import NotLocal, PathRefused, Roots
from mlinfra.emulator.protocol import CONTROL_SERVICE, ApiError, project, service_model
from mlinfra.emulator.store import Store

ACCOUNT = "123456789012"

log = logging.getLogger("mlinfra.emulator")

Handler = Callable[[dict[str, Any], str], dict[str, Any] | None]


def _invalid(message: str) -> ApiError:
    return ApiError("ValidationException", message)


def unavailable(component: str) -> ApiError:
    return ApiError(
        "ServiceUnavailable",
        f"The emulator's {component} runtime (mlinfra.emulator.{component}) is not available "
        "in this installation.",
        503,
    )


class ControlPlane:
    """Every supported SageMaker control-plane operation, over one state directory."""

    def __init__(self, root: Path, state_dir: Path) -> None:
        self.root = root
        self.state_dir = state_dir
        self.roots = Roots(root, state_dir)  # all a request may name on disk
        self.store = Store(state_dir / "control.sqlite3")
        self.pager = Pager()
        self._pool: Any = None
        self._features: Any = None
        self._pipelines: Any = None
        self._monitoring: Any = None
        self._scheduler: Any = None
        self._runtime_lock = threading.Lock()
        # Cleared while endpoints are redeployed after a restart: invocations wait for it,
        # so a restarted emulator never answers "endpoint not found" for a live endpoint.
        self.restored = threading.Event()
        self.restored.set()
        self.operations: dict[str, Handler] = {
            name: getattr(self, _snake(name)) for name in SUPPORTED
        }
        if (state_dir / "featurestore").is_dir():
            # Opening the feature store finishes a write a crash interrupted, so the offline
            # files agree with the online store before anyone reads them.
            self.feature_store()

    # --- dispatch ---------------------------------------------------------------------------

    def call(self, operation: str, params: dict[str, Any], region: str) -> dict[str, Any]:
        handler = self.operations.get(operation)
        if handler is None:
            raise ApiError(
                "UnknownOperationException",
                f"The operation {operation} is not supported by the mlinfra local emulator. "
                f"Supported: {', '.join(sorted(SUPPORTED))}.",
            )
        # One writer at a time: read-check-write sequences (unique names, version numbers)
        # must not interleave. Control-plane traffic is light; invocations never take this lock.
        with self.store.lock:
            result = handler(params, region)
        if operation in _RESCHEDULES and self._scheduler is not None:
            self._scheduler.notify()
        return result or {}

    # --- runtimes (integrated lazily) ------------------------------------------------------

    def serving_pool(self) -> Any:
        with self._runtime_lock:
            if self._pool is None:
                try:
                    from mlinfra.emulator.serving import EndpointPool
                except ImportError:
                    return None
                self._pool = EndpointPool(self.state_dir / "serving", confine=self.local)
            return self._pool

    def feature_store(self) -> Any:
        with self._runtime_lock:
            if self._features is None:
                try:
                    from mlinfra.emulator.featurestore import FeatureStore
                except ImportError:
                    return None
                self._features = FeatureStore(self.state_dir / "featurestore")
            return self._features

    def pipelines(self) -> Any:
        # The store's lock first, as in every call: creating the runtime reads the store.
        with self.store.lock, self._runtime_lock:
            if self._pipelines is None:
                from mlinfra.emulator.pipelines import Pipelines

                self._pipelines = Pipelines(self)
            return self._pipelines

    def monitoring(self) -> Any:
        # As pipelines(): the store's lock first, since creating the runtime writes the store.
        with self.store.lock, self._runtime_lock:
            if self._monitoring is None:
                from mlinfra.emulator.monitoring import Monitoring

                self._monitoring = Monitoring(self)
            return self._monitoring

    def start_scheduler(self, now: Callable[[], Any] | None = None) -> None:
        """Start monitors and scheduled pipelines on their schedules until `close()`."""
        from mlinfra.emulator.scheduler import Scheduler

        with self._runtime_lock:
            if self._scheduler is None:
                scheduler = Scheduler(self, now)
                scheduler.start()
                self._scheduler = scheduler

    def close(self) -> None:
        if self._scheduler is not None:  # first: it must start nothing while runtimes close
            self._scheduler.stop()
        for runtime in (self._monitoring, self._pipelines, self._pool, self._features):
            closer = getattr(runtime, "close", None)
            if callable(closer):
                try:
                    closer()
                except Exception:  # shutting down: log, never block the exit
                    log.exception("closing a runtime failed")
        self.store.close()

    def redeploy_endpoints(self) -> None:
        """Bring InService endpoints back after a restart: the records survive, models don't."""
        try:
            for record in self.store.all("endpoint"):
                if record.get("EndpointStatus") != "InService":
                    continue
                with self.store.lock:
                    config = self.store.get("endpoint-config", record["EndpointConfigName"])
                    self._deploy(record, config, region=_region_of_arn(record["EndpointArn"]))
                    self.store.put(
                        "endpoint", record["EndpointName"], record, record["CreationTime"]
                    )
        finally:
            self.restored.set()

    # --- local locations -------------------------------------------------------------------

    def local(self, location: str | Path) -> Path:
        """A location a request names, confined to the project and state folders
        (`paths.confine`): NotLocal for s3:// and the like, PathRefused outside."""
        return self.roots.confine(location)

    def _check_containers(self, containers: list[dict], where: str) -> None:
        """Model data and submit directories of containers, refused now if they are local
        locations outside the project and state folders."""
        from mlinfra.emulator.serving.program import SUBMIT_DIRECTORY, is_model_code

        for index, container in enumerate(containers, start=1):
            place = where if where == "PrimaryContainer" else f"{where}[{index}]"
            source = (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
            environment = container.get("Environment") or {}
            for field, location in (
                ("ModelDataUrl", container.get("ModelDataUrl")),
                ("ModelDataSource.S3DataSource.S3Uri", source.get("S3Uri")),
                ("Environment.SAGEMAKER_SUBMIT_DIRECTORY", environment.get(SUBMIT_DIRECTORY)),
            ):
                if not location or is_model_code(location):
                    continue
                try:
                    self.local(location)
                except NotLocal:
                    continue  # S3: not served locally, and the endpoint says so when deployed
                except PathRefused as exc:
                    raise _invalid(f"{place}.{field}: {exc.message}") from None

    # --- models -----------------------------------------------------------------------------

    def create_model(self, p: dict, region: str) -> dict:
        name = p["ModelName"]
        if self.store.get("model", name):
            raise _invalid(f'Cannot create already existing model "{_arn(region, "model", name)}".')
        if not p.get("PrimaryContainer") and not p.get("Containers"):
            raise _invalid("Either PrimaryContainer or Containers must be specified.")
        if p.get("PrimaryContainer"):
            self._check_containers([p["PrimaryContainer"]], "PrimaryContainer")
        self._check_containers(p.get("Containers") or [], "Containers")
        record = dict(p, ModelArn=_arn(region, "model", name), CreationTime=time.time())
        self.store.put("model", name, record, record["CreationTime"])
        return {"ModelArn": record["ModelArn"]}

    def describe_model(self, p: dict, region: str) -> dict:
        return self._output("DescribeModel", self._model(p["ModelName"], region))

    def list_models(self, p: dict, region: str) -> dict:
        return self._list("ListModels", "model", p, "ModelName")

    def delete_model(self, p: dict, region: str) -> None:
        self._model(p["ModelName"], region)
        self.store.delete("model", p["ModelName"])

    def _model(self, name: str, region: str) -> dict:
        record = self.store.get("model", name)
        if record is None:
            raise _invalid(f'Could not find model "{_arn(region, "model", name)}".')
        return record

    # --- endpoint configs -----------------------------------------------------------------

    def create_endpoint_config(self, p: dict, region: str) -> dict:
        name = p["EndpointConfigName"]
        if self.store.get("endpoint-config", name):
            raise _invalid(
                "Cannot create already existing endpoint configuration "
                f'"{_arn(region, "endpoint-config", name)}".'
            )
        destination = (p.get("DataCaptureConfig") or {}).get("DestinationS3Uri")
        if destination:
            try:
                self.local(destination)
            except NotLocal:
                pass  # S3: the emulator captures into its own state folder instead
            except PathRefused as exc:
                raise _invalid(f"DataCaptureConfig.DestinationS3Uri: {exc.message}") from None
        seen = set()
        for index, variant in enumerate(p["ProductionVariants"], start=1):
            if variant["VariantName"] in seen:
                raise _invalid(f"Variant name {variant['VariantName']} is used more than once.")
            seen.add(variant["VariantName"])
            memory = (variant.get("ServerlessConfig") or {}).get("MemorySizeInMB")
            if memory is not None and memory % 1024:
                # The model's range is 1024-6144; its docs allow only whole gigabytes.
                raise _invalid(
                    f"1 validation error detected: Value '{memory}' at 'productionVariants."
                    f"{index}.member.serverlessConfig.memorySizeInMB' failed to satisfy "
                    "constraint: Member must satisfy enum value set: "
                    "[1024, 2048, 3072, 4096, 5120, 6144]"
                )
            if "ModelName" in variant:
                self._model(variant["ModelName"], region)
        record = dict(
            p, EndpointConfigArn=_arn(region, "endpoint-config", name), CreationTime=time.time()
        )
        self.store.put("endpoint-config", name, record, record["CreationTime"])
        return {"EndpointConfigArn": record["EndpointConfigArn"]}

    def describe_endpoint_config(self, p: dict, region: str) -> dict:
        return self._output(
            "DescribeEndpointConfig", self._endpoint_config(p["EndpointConfigName"], region)
        )

    def list_endpoint_configs(self, p: dict, region: str) -> dict:
        return self._list("ListEndpointConfigs", "endpoint-config", p, "EndpointConfigName")

    def delete_endpoint_config(self, p: dict, region: str) -> None:
        self._endpoint_config(p["EndpointConfigName"], region)
        self.store.delete("endpoint-config", p["EndpointConfigName"])

    def _endpoint_config(self, name: str, region: str) -> dict:
        record = self.store.get("endpoint-config", name)
        if record is None:
            raise _invalid(
                f'Could not find endpoint configuration "{_arn(region, "endpoint-config", name)}".'
            )
        return record

    # --- endpoints --------------------------------------------------------------------------

    def create_endpoint(self, p: dict, region: str) -> dict:
        name = p["EndpointName"]
        if self.store.get("endpoint", name):
            raise _invalid(
                f'Cannot create already existing endpoint "{_arn(region, "endpoint", name)}".'
            )
        config = self._endpoint_config(p["EndpointConfigName"], region)
        now = time.time()
        record = dict(
            p, EndpointArn=_arn(region, "endpoint", name), CreationTime=now, LastModifiedTime=now
        )
        # Deployment is synchronous (a local model loads in well under a second), so the
        # endpoint is InService or Failed by the time boto3's waiter first looks.
        self._deploy(record, config, region)
        self.store.put("endpoint", name, record, now)
        return {"EndpointArn": record["EndpointArn"]}

    def describe_endpoint(self, p: dict, region: str) -> dict:
        return self._output("DescribeEndpoint", self._endpoint(p["EndpointName"], region))

    def list_endpoints(self, p: dict, region: str) -> dict:
        status = p.get("StatusEquals")
        return self._list(
            "ListEndpoints",
            "endpoint",
            p,
            "EndpointName",
            keep=lambda r: status is None or r.get("EndpointStatus") == status,
        )

    def update_endpoint(self, p: dict, region: str) -> dict:
        record = self._endpoint(p["EndpointName"], region)
        if record.get("EndpointStatus") not in ("InService", "Failed"):
            raise _invalid(f'Cannot update in-progress endpoint "{record["EndpointArn"]}".')
        config = self._endpoint_config(p["EndpointConfigName"], region)
        record = dict(
            record, EndpointConfigName=p["EndpointConfigName"], LastModifiedTime=time.time()
        )
        self._deploy(record, config, region)
        self.store.put("endpoint", record["EndpointName"], record, record["CreationTime"])
        return {"EndpointArn": record["EndpointArn"]}

    def delete_endpoint(self, p: dict, region: str) -> None:
        self._endpoint(p["EndpointName"], region)
        pool = self.serving_pool()
        if pool is not None:
            try:
                pool.undeploy(p["EndpointName"])
            except Exception:  # already gone from the pool (e.g. it failed to deploy)
                log.debug("undeploy %s", p["EndpointName"], exc_info=True)
        self.store.delete("endpoint", p["EndpointName"])

    def _endpoint(self, name: str, region: str) -> dict:
        record = self.store.get("endpoint", name)
        if record is None:
            raise _invalid(f'Could not find endpoint "{_arn(region, "endpoint", name)}".')
        return record

    def _deploy(self, record: dict, config: dict | None, region: str) -> None:
        """Deploy an endpoint's config on the serving runtime; record InService or Failed."""
        record.pop("FailureReason", None)
        try:
            if config is None:
                raise _Failure(f"Endpoint configuration {record['EndpointConfigName']} is gone.")
            pool = self.serving_pool()
            if pool is None:
                raise _Failure(
                    "Model serving is not available in this emulator installation "
                    "(mlinfra.emulator.serving is missing)."
                )
            from mlinfra.emulator.serving import Capture, ServingError, Variant, program_of

            variants = []
            for pv in config["ProductionVariants"]:
                model_data, environment = self._model_data(pv, region)
                try:
                    program = program_of(environment, self.local)
                except (ServingError, PathRefused) as exc:
                    raise _Failure(f"Model {pv.get('ModelName')}: {exc.message}") from None
                variants.append(
                    Variant(
                        name=pv["VariantName"],
                        model_data=model_data,
                        weight=float(pv.get("InitialVariantWeight", 1.0)),
                        instance_count=int(pv.get("InitialInstanceCount", 1)),
                        environment=environment,
                        program=program,
                    )
                )
            capture = None
            dcc = config.get("DataCaptureConfig")
            if dcc and dcc.get("EnableCapture", True):
                modes = {o.get("CaptureMode") for o in dcc.get("CaptureOptions", [])}
                try:
                    destination = self.capture_destination(dcc, record["EndpointName"])
                except PathRefused as exc:
                    raise _Failure(f"DataCaptureConfig.DestinationS3Uri: {exc.message}") from None
                capture = Capture(
                    destination=destination,
                    # Required by the API model, which every request is checked against
                    # before it is stored: no default of the emulator's own.
                    sampling_percent=int(dcc["InitialSamplingPercentage"]),
                    capture_input="Input" in modes or not modes,
                    capture_output="Output" in modes or not modes,
                    **_content_types(dcc.get("CaptureContentTypeHeader")),
                )
            try:
                pool.deploy(record["EndpointName"], variants, capture)
            except ServingError as exc:
                raise _Failure(str(getattr(exc, "message", exc))) from None
        except _Failure as failure:
            record["EndpointStatus"] = "Failed"
            record["FailureReason"] = str(failure)
            record["ProductionVariants"] = []
            return
        except Exception as exc:  # a bug in a runtime must fail the endpoint, not the API
            log.exception("deploying endpoint %s", record["EndpointName"])
            record["EndpointStatus"] = "Failed"
            record["FailureReason"] = f"Internal error while deploying: {type(exc).__name__}"
            record["ProductionVariants"] = []
            return
        record["EndpointStatus"] = "InService"
        record["ProductionVariants"] = [
            {
                "VariantName": pv["VariantName"],
                "CurrentWeight": float(pv.get("InitialVariantWeight", 1.0)),
                "DesiredWeight": float(pv.get("InitialVariantWeight", 1.0)),
                "CurrentInstanceCount": int(pv.get("InitialInstanceCount", 1)),
                "DesiredInstanceCount": int(pv.get("InitialInstanceCount", 1)),
            }
            for pv in config["ProductionVariants"]
        ]
        dcc = config.get("DataCaptureConfig")
        if dcc:
            record["DataCaptureConfig"] = {
                "EnableCapture": dcc.get("EnableCapture", True),
                "CaptureStatus": "Started" if dcc.get("EnableCapture", True) else "Stopped",
                "CurrentSamplingPercentage": dcc["InitialSamplingPercentage"],
                "DestinationS3Uri": dcc.get("DestinationS3Uri", ""),
            }
        else:
            record.pop("DataCaptureConfig", None)

    def capture_destination(self, capture: dict, endpoint: str) -> Path:
        """Where an endpoint's DataCaptureConfig has its requests written (each under
        `<endpoint>/<variant>/<yyyy>/...` there): its local DestinationS3Uri, or, for an S3
        destination the emulator cannot reach, a folder of its own state. PathRefused for a
        local destination outside the project and state folders."""
        try:
            return self.local(capture["DestinationS3Uri"])
        except (KeyError, NotLocal):
            return self.state_dir / "capture" / endpoint

    def _model_data(self, variant: dict, region: str) -> tuple[str, dict[str, str]]:
        """The local path of a variant's model artifact and its container's Environment, or a
        `_Failure` saying why not.

        A model that serves a registry version takes the version's container, with its own
        Environment merged over the version's (the model's values win)."""
        model = self.store.get("model", variant.get("ModelName", ""))
        if model is None:
            raise _Failure(f"Could not find model {variant.get('ModelName')!r}.")
        container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
        url = container.get("ModelDataUrl")
        environment: dict[str, str] = {}
        if container.get("ModelPackageName"):
            package = self._package(container["ModelPackageName"], region, failure=True)
            containers = (package.get("InferenceSpecification") or {}).get("Containers") or [{}]
            url = url or containers[0].get("ModelDataUrl")
            environment.update(containers[0].get("Environment") or {})
        environment.update(container.get("Environment") or {})
        if not url and container.get("ModelDataSource"):
            url = (container["ModelDataSource"].get("S3DataSource") or {}).get("S3Uri")
        if not url:
            raise _Failure(f"Model {model['ModelName']} has no ModelDataUrl to serve.")
        # Relative paths are relative to the spec's folder, like every path in mlinfra.yaml.
        try:
            return str(self.local(url)), environment
        except NotLocal:
            raise _Failure(
                f"Model {model['ModelName']}: {url} is not reachable from the local emulator; "
                "only local paths and file:// URIs can be served locally."
            ) from None
        except PathRefused as exc:
            raise _Failure(f"Model {model['ModelName']}: {exc.message}") from None

    # --- model registry ---------------------------------------------------------------------

    def create_model_package_group(self, p: dict, region: str) -> dict:
        name = p["ModelPackageGroupName"]
        if self.store.get("model-package-group", name):
            raise _invalid(f"Model Package Group already exists: {_group_arn(region, name)}")
        record = dict(
            p,
            ModelPackageGroupArn=_group_arn(region, name),
            CreationTime=time.time(),
            ModelPackageGroupStatus="Completed",
        )
        self.store.put("model-package-group", name, record, record["CreationTime"])
        return {"ModelPackageGroupArn": record["ModelPackageGroupArn"]}

    def describe_model_package_group(self, p: dict, region: str) -> dict:
        group = self._group(p["ModelPackageGroupName"], region)
        # A required member: who created the group. A local caller has no Studio user profile
        # or domain, so the user context is empty.
        return self._output("DescribeModelPackageGroup", {"CreatedBy": {}, **group})

    def list_model_package_groups(self, p: dict, region: str) -> dict:
        return self._list(
            "ListModelPackageGroups", "model-package-group", p, "ModelPackageGroupName"
        )

    def delete_model_package_group(self, p: dict, region: str) -> None:
        group = self._group(p["ModelPackageGroupName"], region)
        if self.store.all("model-package", group["ModelPackageGroupName"] + "/"):
            raise ApiError(
                "ConflictException",
                f"Model Package Group {group['ModelPackageGroupName']} still contains model "
                "packages; delete them first.",
            )
        self.store.delete("model-package-group", group["ModelPackageGroupName"])

    def _group(self, name_or_arn: str, region: str) -> dict:
        name = name_or_arn.rsplit("model-package-group/", 1)[-1]
        record = self.store.get("model-package-group", name)
        if record is None:
            raise _invalid(f"ModelPackageGroup {name} does not exist.")
        return record

    def create_model_package(self, p: dict, region: str) -> dict:
        group_name = p.get("ModelPackageGroupName")
        now = time.time()
        self._check_containers(
            (p.get("InferenceSpecification") or {}).get("Containers") or [],
            "InferenceSpecification.Containers",
        )
        if group_name:
            if p.get("ModelPackageName"):
                raise _invalid(
                    "ModelPackageName and ModelPackageGroupName cannot both be specified."
                )
            group = self._group(group_name, region)
            name = group["ModelPackageGroupName"]
            version = len(self.store.all("model-package", name + "/")) + 1
            # Versions only grow: a deleted version's number is never reused, as on AWS.
            version = max(version, int(group.get("_NextVersion", 1)))
            group["_NextVersion"] = version + 1
            self.store.put("model-package-group", name, group, group["CreationTime"])
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
            if self.store.get("model-package", key):
                raise ApiError("ConflictException", f"Model package {key} already exists.")
            record = dict(p)
        else:
            raise _invalid("Either ModelPackageName or ModelPackageGroupName must be specified.")
        record.update(
            ModelPackageArn=_arn(region, "model-package", key),
            CreationTime=now,
            LastModifiedTime=now,
            ModelPackageStatus="Completed",
        )
        record.pop("ClientToken", None)
        self.store.put("model-package", key, record, now)
        return {"ModelPackageArn": record["ModelPackageArn"]}

    def describe_model_package(self, p: dict, region: str) -> dict:
        package = self._package(p["ModelPackageName"], region)
        # Required: the emulator runs no validation or image scan, so there are none to report.
        details = {"ValidationStatuses": [], "ImageScanStatuses": []}
        return self._output(
            "DescribeModelPackage", {"ModelPackageStatusDetails": details, **package}
        )

    def list_model_packages(self, p: dict, region: str) -> dict:
        group = p.get("ModelPackageGroupName")
        prefix = ""
        if group:
            prefix = self._group(group, region)["ModelPackageGroupName"] + "/"
        kind = p.get("ModelPackageType", "Versioned" if group else "Both")
        status = p.get("ModelApprovalStatus")

        def keep(r: dict) -> bool:
            versioned = "ModelPackageVersion" in r
            if kind == "Versioned" and not versioned or kind == "Unversioned" and versioned:
                return False
            return status is None or r.get("ModelApprovalStatus") == status

        listed = self._list(
            "ListModelPackages", "model-package", p, "ModelPackageName", keep=keep, prefix=prefix
        )
        for summary in listed["ModelPackageSummaryList"]:
            # AWS names only unversioned packages in a summary; a version is its group's.
            if "ModelPackageVersion" in summary:
                summary.pop("ModelPackageName", None)
        return listed

    def update_model_package(self, p: dict, region: str) -> dict:
        record = self._package(p["ModelPackageArn"], region)
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
        self.store.put("model-package", _package_key(record), record, record["CreationTime"])
        return {"ModelPackageArn": record["ModelPackageArn"]}

    def delete_model_package(self, p: dict, region: str) -> None:
        """By name (an unversioned package) or ARN (a version of a group, `.../group/3`).
        A deleted version's number is not given again (the group remembers the next one)."""
        record = self._package(p["ModelPackageName"], region)
        self.store.delete("model-package", _package_key(record))

    def _package(self, name_or_arn: str, region: str, failure: bool = False) -> dict:
        key = name_or_arn.split(":model-package/", 1)[-1]
        record = self.store.get("model-package", key)
        if record is None:
            message = f"ModelPackage {name_or_arn} does not exist."
            raise _Failure(message) if failure else _invalid(message)
        return record

    def latest_approved(self, group: str) -> dict | None:
        """The newest Approved version of a model package group, as DescribeModelPackage says.

        What a deployment that follows the registry serves: the emulator's engine resolves
        `model: {registry: group, version: latest-approved}` through this.
        """
        with self.store.lock:
            approved = [
                r
                for r in self.store.all("model-package", group + "/")
                if r.get("ModelApprovalStatus") == "Approved"
            ]
        if not approved:
            return None
        newest = max(approved, key=lambda r: r["ModelPackageVersion"])
        return self._output("DescribeModelPackage", newest)

    # --- feature groups ---------------------------------------------------------------------

    def create_feature_group(self, p: dict, region: str) -> dict:
        name = p["FeatureGroupName"]
        if self.store.get("feature-group", name):
            raise ApiError(
                "ResourceInUse",
                f"Resource Already Exists: FeatureGroup with name {name} already exists. "
                f"Choose a different name.\nInfo: Feature Group '{name}' already exists.",
            )
        features = {f["FeatureName"]: f["FeatureType"] for f in p["FeatureDefinitions"]}
        if len(features) != len(p["FeatureDefinitions"]):
            raise _invalid("FeatureDefinitions names a feature more than once.")
        for role in ("RecordIdentifierFeatureName", "EventTimeFeatureName"):
            if p[role] not in features:
                raise _invalid(f"{role} {p[role]} is not among the FeatureDefinitions.")
        store = self.feature_store()
        if store is None:
            raise unavailable("featurestore")
        from mlinfra.emulator.featurestore import FeatureGroupDefinition

        online = p.get("OnlineStoreConfig") or {}
        ttl = online.get("TtlDuration")
        definition = FeatureGroupDefinition(
            name=name,
            record_identifier=p["RecordIdentifierFeatureName"],
            event_time=p["EventTimeFeatureName"],
            features=features,
            online=bool(online.get("EnableOnlineStore", False)),
            online_ttl_seconds=_seconds(ttl) if ttl else None,
            offline=p.get("OfflineStoreConfig") is not None,
        )
        self._feature_call(store.create_group, definition)
        now = time.time()
        record = dict(
            p,
            FeatureGroupArn=_arn(region, "feature-group", name),
            CreationTime=now,
            LastModifiedTime=now,
            FeatureGroupStatus="Created",
        )
        if p.get("OfflineStoreConfig") is not None:
            record["OfflineStoreStatus"] = {"Status": "Active"}
            record["OfflineStoreConfig"] = _offline_store_config(p["OfflineStoreConfig"], name, now)
        self.store.put("feature-group", name, record, now)
        return {"FeatureGroupArn": record["FeatureGroupArn"]}

    def describe_feature_group(self, p: dict, region: str) -> dict:
        record = self._feature_group(p["FeatureGroupName"])
        if p.get("NextToken"):
            # All of a group's features fit in one page (2,500, the most it may have).
            raise _invalid("Invalid pagination token: DescribeFeatureGroup did not issue it.")
        # NextToken is a required member; AWS sends it empty when there is no next page.
        return self._output("DescribeFeatureGroup", {**record, "NextToken": ""})

    def update_feature_group(self, p: dict, region: str) -> dict:
        """Add features, change the online store's TTL (records already stored keep their
        expiry, as SageMaker documents), change the throughput settings."""
        record = self._feature_group(p["FeatureGroupName"])
        name = record["FeatureGroupName"]
        store = self.feature_store()
        if store is None:
            raise unavailable("featurestore")
        from mlinfra.emulator.featurestore import KEEP

        additions = p.get("FeatureAdditions") or []
        added = {f["FeatureName"]: f["FeatureType"] for f in additions}
        if len(added) != len(additions):
            raise _invalid("FeatureAdditions names a feature more than once.")
        online = dict(record.get("OnlineStoreConfig") or {})
        ttl: Any = KEEP
        update = p.get("OnlineStoreConfig") or {}
        if update and not online.get("EnableOnlineStore"):
            raise _invalid(f"Feature group {name} has no online store to update.")
        if "TtlDuration" in update:
            duration = update["TtlDuration"] or {}
            if ("Unit" in duration) != ("Value" in duration):
                raise _invalid("TtlDuration needs both Unit and Value, or neither to remove it.")
            # Without Unit and Value, the default TTL is removed, as AWS documents.
            ttl = _seconds(duration) if duration else None
        self._feature_call(store.update_group, name, added, ttl)
        record["FeatureDefinitions"] = [*record["FeatureDefinitions"], *additions]
        if ttl is not KEEP:
            online.pop("TtlDuration", None)
            if ttl is not None:
                online["TtlDuration"] = update["TtlDuration"]
        if update.get("StorageType"):
            online["StorageType"] = update["StorageType"]
        if online:
            record["OnlineStoreConfig"] = online
        throughput = p.get("ThroughputConfig")
        if throughput:
            # Capacity units belong to provisioned mode; on-demand has none.
            kept = record.get("ThroughputConfig") or {}
            if throughput.get("ThroughputMode", kept.get("ThroughputMode")) == "OnDemand":
                kept = {}
            record["ThroughputConfig"] = {**kept, **throughput}
        record.update(LastModifiedTime=time.time(), LastUpdateStatus={"Status": "Successful"})
        self.store.put("feature-group", name, record, record["CreationTime"])
        return {"FeatureGroupArn": record["FeatureGroupArn"]}

    def list_feature_groups(self, p: dict, region: str) -> dict:
        status = p.get("FeatureGroupStatusEquals")
        offline = p.get("OfflineStoreStatusEquals")
        return self._list(
            "ListFeatureGroups",
            "feature-group",
            p,
            "FeatureGroupName",
            keep=lambda r: (
                (status is None or r.get("FeatureGroupStatus") == status)
                and (
                    offline is None or (r.get("OfflineStoreStatus") or {}).get("Status") == offline
                )
            ),
        )

    def delete_feature_group(self, p: dict, region: str) -> None:
        record = self._feature_group(p["FeatureGroupName"])
        store = self.feature_store()
        if store is None:
            raise unavailable("featurestore")
        self._feature_call(store.delete_group, record["FeatureGroupName"])
        self.store.delete("feature-group", record["FeatureGroupName"])

    def _feature_group(self, name_or_arn: str) -> dict:
        name = name_or_arn.rsplit("feature-group/", 1)[-1]
        record = self.store.get("feature-group", name)
        if record is None:
            raise ApiError(
                "ResourceNotFound", f"Resource Not Found: FeatureGroup {name} does not exist."
            )
        return record

    @staticmethod
    def _feature_call(method: Callable[..., Any], *args: Any) -> Any:
        from mlinfra.emulator.featurestore import FeatureStoreError

        try:
            return method(*args)
        except FeatureStoreError as exc:
            code = getattr(exc, "code", "ValidationException")
            # The runtime speaks the runtime API's codes; the control plane's are different.
            code = {"ValidationError": "ValidationException"}.get(code, code)
            raise ApiError(code, getattr(exc, "message", str(exc))) from None

    # --- pipelines (mlinfra.emulator.pipelines) ----------------------------------------------

    def create_pipeline(self, p: dict, region: str) -> dict:
        return self.pipelines().create_pipeline(p, region)

    def describe_pipeline(self, p: dict, region: str) -> dict:
        return self.pipelines().describe_pipeline(p, region)

    def list_pipelines(self, p: dict, region: str) -> dict:
        return self.pipelines().list_pipelines(p, region)

    def update_pipeline(self, p: dict, region: str) -> dict:
        return self.pipelines().update_pipeline(p, region)

    def delete_pipeline(self, p: dict, region: str) -> dict:
        return self.pipelines().delete_pipeline(p, region)

    def start_pipeline_execution(self, p: dict, region: str) -> dict:
        return self.pipelines().start_pipeline_execution(p, region)

    def describe_pipeline_execution(self, p: dict, region: str) -> dict:
        return self.pipelines().describe_pipeline_execution(p, region)

    def list_pipeline_executions(self, p: dict, region: str) -> dict:
        return self.pipelines().list_pipeline_executions(p, region)

    def list_pipeline_execution_steps(self, p: dict, region: str) -> dict:
        return self.pipelines().list_pipeline_execution_steps(p, region)

    def list_pipeline_parameters_for_execution(self, p: dict, region: str) -> dict:
        return self.pipelines().list_pipeline_parameters_for_execution(p, region)

    def stop_pipeline_execution(self, p: dict, region: str) -> dict:
        return self.pipelines().stop_pipeline_execution(p, region)

    # --- monitoring schedules (mlinfra.emulator.monitoring) --------------------------------

    def create_monitoring_schedule(self, p: dict, region: str) -> dict:
        return self.monitoring().create_monitoring_schedule(p, region)

    def describe_monitoring_schedule(self, p: dict, region: str) -> dict:
        return self.monitoring().describe_monitoring_schedule(p, region)

    def list_monitoring_schedules(self, p: dict, region: str) -> dict:
        return self.monitoring().list_monitoring_schedules(p, region)

    def update_monitoring_schedule(self, p: dict, region: str) -> dict:
        return self.monitoring().update_monitoring_schedule(p, region)

    def delete_monitoring_schedule(self, p: dict, region: str) -> None:
        self.monitoring().delete_monitoring_schedule(p, region)

    def start_monitoring_schedule(self, p: dict, region: str) -> None:
        self.monitoring().start_monitoring_schedule(p, region)

    def stop_monitoring_schedule(self, p: dict, region: str) -> None:
        self.monitoring().stop_monitoring_schedule(p, region)

    def list_monitoring_executions(self, p: dict, region: str) -> dict:
        return self.monitoring().list_monitoring_executions(p, region)

    def describe_processing_job(self, p: dict, region: str) -> dict:
        return self.monitoring().describe_processing_job(p, region)

    # --- tags -------------------------------------------------------------------------------

    def add_tags(self, p: dict, region: str) -> dict:
        kind, key, record = self._tagged(p["ResourceArn"])
        tags = {t["Key"]: t["Value"] for t in record.get("Tags", [])}
        tags.update({t["Key"]: t["Value"] for t in p["Tags"]})
        self._retag(kind, key, record, tags)
        return {"Tags": p["Tags"]}

    def delete_tags(self, p: dict, region: str) -> None:
        kind, key, record = self._tagged(p["ResourceArn"])
        tags = {t["Key"]: t["Value"] for t in record.get("Tags", [])}
        for removed in p["TagKeys"]:
            tags.pop(removed, None)
        self._retag(kind, key, record, tags)

    def list_tags(self, p: dict, region: str) -> dict:
        return self._page("ListTags", self._tagged(p["ResourceArn"])[2].get("Tags", []), p)

    def _tagged(self, arn: str) -> tuple[str, str, dict]:
        """The record an ARN names, searched by each kind's ARN field."""
        for kind, field in _ARN_FIELDS.items():
            for record in self.store.all(kind):
                if record.get(field) == arn:
                    key = (
                        _package_key(record)
                        if kind == "model-package"
                        else record[_NAME_FIELDS[kind]]
                    )
                    return kind, key, record
        raise _invalid(f"Resource {arn} does not exist.")

    def _retag(self, kind: str, key: str, record: dict, tags: dict[str, str]) -> None:
        record = dict(record, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        self.store.put(kind, key, record, record["CreationTime"])

    def _output(self, operation: str, record: dict) -> dict:
        shape = service_model(CONTROL_SERVICE).operation_model(operation).output_shape
        return project(record, shape)

    def _list(
        self,
        operation: str,
        kind: str,
        p: dict,
        name_key: str,
        keep: Callable[[dict], bool] = lambda r: True,
        prefix: str = "",
    ) -> dict:
        """Filter, sort and page records as every SageMaker List* operation does."""
        records = [r for r in self.store.all(kind, prefix) if keep(r)]
        if "NameContains" in p:
            needle = p["NameContains"].lower()
            records = [r for r in records if needle in r[name_key].lower()]
        for bound, test in (
            ("CreationTimeBefore", lambda r, t: r["CreationTime"] < t),
            ("CreationTimeAfter", lambda r, t: r["CreationTime"] > t),
            ("LastModifiedTimeBefore", lambda r, t: r.get("LastModifiedTime", 0) < t),
            ("LastModifiedTimeAfter", lambda r, t: r.get("LastModifiedTime", 0) > t),
        ):
            if bound in p:
                limit = _epoch(p[bound])
                records = [r for r in records if test(r, limit)]
        sort_by = p.get("SortBy", "CreationTime")
        if sort_by == "Name":
            records.sort(key=lambda r: (r[name_key], r.get("ModelPackageVersion", 0)))
        elif sort_by == "CreationTime":
            records.sort(key=lambda r: (r["CreationTime"], r.get("ModelPackageVersion", 0)))
        else:  # Status, FeatureGroupStatus, OfflineStoreStatus: the enum's own field
            field = {"Status": "EndpointStatus"}.get(sort_by, sort_by)
            records.sort(key=lambda r: str(r.get(field)))
        if descending(operation, p):
            records.reverse()
        return self._page(operation, records, p)

    def _page(self, operation: str, records: list, p: dict) -> dict:
        """One page of sorted records, projected onto the List* output and its NextToken."""
        page, token = self.pager.page(operation, records, p)
        shape = service_model(CONTROL_SERVICE).operation_model(operation).output_shape
        member = next(n for n, s in shape.members.items() if s.type_name == "list")
        result: dict[str, Any] = {member: project(page, shape.members[member])}
        if token is not None:
            result["NextToken"] = token
        return result


class _Failure(Exception):
    """Why an endpoint could not be deployed: becomes its FailureReason."""


SUPPORTED = (
    "CreateModel", "DescribeModel", "ListModels", "DeleteModel",
    "CreateEndpointConfig", "DescribeEndpointConfig", "ListEndpointConfigs",
    "DeleteEndpointConfig",
    "CreateEndpoint", "DescribeEndpoint", "ListEndpoints", "UpdateEndpoint", "DeleteEndpoint",
    "CreateModelPackageGroup", "DescribeModelPackageGroup", "ListModelPackageGroups",
    "DeleteModelPackageGroup",
    "CreateModelPackage", "DescribeModelPackage", "ListModelPackages", "UpdateModelPackage",
    "DeleteModelPackage",
    "CreateFeatureGroup", "DescribeFeatureGroup", "ListFeatureGroups", "UpdateFeatureGroup",
    "DeleteFeatureGroup",
    "AddTags", "DeleteTags", "ListTags",
    "CreatePipeline", "DescribePipeline", "ListPipelines", "UpdatePipeline", "DeletePipeline",
    "StartPipelineExecution", "DescribePipelineExecution", "ListPipelineExecutions",
    "ListPipelineExecutionSteps", "ListPipelineParametersForExecution",
    "StopPipelineExecution",
    "CreateMonitoringSchedule", "DescribeMonitoringSchedule", "ListMonitoringSchedules",
    "UpdateMonitoringSchedule", "DeleteMonitoringSchedule", "StartMonitoringSchedule",
    "StopMonitoringSchedule", "ListMonitoringExecutions", "DescribeProcessingJob",
)  # fmt: skip
# What may change when something runs: the scheduler looks again after these.
_RESCHEDULES = frozenset({
    "CreateMonitoringSchedule", "UpdateMonitoringSchedule", "DeleteMonitoringSchedule",
    "StartMonitoringSchedule", "StopMonitoringSchedule",
    "CreatePipeline", "UpdatePipeline", "DeletePipeline", "AddTags", "DeleteTags",
})  # fmt: skip
# Where each kind of record keeps its ARN and its name, for the tag operations.
_ARN_FIELDS = {
    "model": "ModelArn",
    "endpoint-config": "EndpointConfigArn",
    "endpoint": "EndpointArn",
    "feature-group": "FeatureGroupArn",
    "model-package-group": "ModelPackageGroupArn",
    "model-package": "ModelPackageArn",
    "pipeline": "PipelineArn",
    "monitoring-schedule": "MonitoringScheduleArn",
}
_NAME_FIELDS = {
    "model": "ModelName",
    "endpoint-config": "EndpointConfigName",
    "endpoint": "EndpointName",
    "feature-group": "FeatureGroupName",
    "model-package-group": "ModelPackageGroupName",
    "pipeline": "PipelineName",
    "monitoring-schedule": "MonitoringScheduleName",
}


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def _arn(region: str, kind: str, name: str) -> str:
    # AWS lower-cases the resource name in model, endpoint and config ARNs.
    if kind in ("model", "endpoint", "endpoint-config"):
        name = name.lower()
    return f"arn:aws:sagemaker:{region}:{ACCOUNT}:{kind}/{name}"


def _group_arn(region: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{ACCOUNT}:model-package-group/{name}"


def _region_of_arn(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else "us-east-1"


def _package_key(record: dict) -> str:
    if "ModelPackageVersion" in record:
        return f"{record['ModelPackageGroupName']}/{record['ModelPackageVersion']}"
    return record["ModelPackageName"]


def _content_types(header: dict | None) -> dict[str, tuple[str, ...]]:
    """CaptureContentTypeHeader as `Capture` keywords; absent lists keep the defaults."""
    found = {}
    if header and header.get("CsvContentTypes"):
        found["csv_content_types"] = tuple(header["CsvContentTypes"])
    if header and header.get("JsonContentTypes"):
        found["json_content_types"] = tuple(header["JsonContentTypes"])
    return found


def _offline_store_config(config: dict, name: str, created: float) -> dict:
    """The offline store's config as AWS describes it: unless Glue table creation is disabled,
    the table it creates, `<group>_<creation time>` in the `sagemaker_featurestore` database
    of the account's `AwsDataCatalog` (the emulator's offline store is its Parquet files)."""
    config = {"DisableGlueTableCreation": False, **config}
    if not config["DisableGlueTableCreation"] and "DataCatalogConfig" not in config:
        config["DataCatalogConfig"] = {
            "TableName": f"{name}_{int(created)}",
            "Catalog": "AwsDataCatalog",
            "Database": "sagemaker_featurestore",
        }
    return config


def _seconds(ttl: dict) -> int:
    unit = {"Seconds": 1, "Minutes": 60, "Hours": 3600, "Days": 86400, "Weeks": 604800}
    return int(ttl["Value"]) * unit.get(ttl.get("Unit", "Seconds"), 1)


def _epoch(value: Any) -> float:
    # A request's timestamps are epoch seconds in the years 1-9999 by now (`wire.py`).
    return float(value)
