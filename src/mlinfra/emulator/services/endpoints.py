"""SageMaker endpoint configurations and endpoints, deployed on the serving runtime.

Deployment is synchronous (a local model loads in well under a second), so an endpoint is
InService or Failed by the time boto3's waiter first looks; a deployment that fails records
why in FailureReason instead of failing the API call. An endpoint that serves a registry
version takes the version's container (`registry.Registry.package`).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from mlinfra.emulator.kit.arns import arn
from mlinfra.emulator.kit.errors import ApiError, invalid
from mlinfra.emulator.kit.paths import NotLocal, PathRefused, Roots
from mlinfra.emulator.kit.records import Kind, Listing, output
from mlinfra.emulator.services.models import Models
from mlinfra.emulator.services.registry import Registry
from mlinfra.emulator.serving import Capture, EndpointPool, ServingError, Variant, program_of
from mlinfra.emulator.store import Store
from mlinfra.sagemaker import resources

CONFIG = resources.ENDPOINT_CONFIG.arn_kind
ENDPOINT = resources.ENDPOINT.arn_kind

log = logging.getLogger("mlinfra.emulator")


class Failure(Exception):
    """Why an endpoint could not be deployed: becomes its FailureReason."""


class Endpoints:
    """Endpoint configuration and endpoint operations; endpoints run on the serving pool."""

    OPERATIONS = (
        "CreateEndpointConfig", "DescribeEndpointConfig", "ListEndpointConfigs",
        "DeleteEndpointConfig",
        "CreateEndpoint", "DescribeEndpoint", "ListEndpoints", "UpdateEndpoint", "DeleteEndpoint",
    )  # fmt: skip
    KINDS = (
        Kind.of(resources.ENDPOINT_CONFIG),
        Kind.of(resources.ENDPOINT),
    )

    def __init__(
        self,
        store: Store,
        listing: Listing,
        roots: Roots,
        serving: EndpointPool,
        models: Models,
        registry: Registry,
    ) -> None:
        self.store = store
        self.listing = listing
        self.roots = roots
        self.serving = serving
        self.models = models
        self.registry = registry
        # Cleared while endpoints are redeployed after a restart: invocations wait for it,
        # so a restarted emulator never answers "endpoint not found" for a live endpoint.
        self.restored = threading.Event()
        self.restored.set()

    # --- endpoint configs -----------------------------------------------------------------

    def create_endpoint_config(self, p: dict, region: str) -> dict:
        name = p["EndpointConfigName"]
        if self.store.get(CONFIG, name):
            raise invalid(
                "Cannot create already existing endpoint configuration "
                f'"{arn(region, CONFIG, name)}".'
            )
        destination = (p.get("DataCaptureConfig") or {}).get("DestinationS3Uri")
        if destination:
            try:
                self.roots.confine(destination)
            except NotLocal:
                pass  # S3: the emulator captures into its own state folder instead
            except PathRefused as exc:
                raise invalid(f"DataCaptureConfig.DestinationS3Uri: {exc.message}") from None
        seen = set()
        for index, variant in enumerate(p["ProductionVariants"], start=1):
            if variant["VariantName"] in seen:
                raise invalid(f"Variant name {variant['VariantName']} is used more than once.")
            seen.add(variant["VariantName"])
            memory = (variant.get("ServerlessConfig") or {}).get("MemorySizeInMB")
            if memory is not None and memory % 1024:
                # The model's range is 1024-6144; its docs allow only whole gigabytes.
                raise invalid(
                    f"1 validation error detected: Value '{memory}' at 'productionVariants."
                    f"{index}.member.serverlessConfig.memorySizeInMB' failed to satisfy "
                    "constraint: Member must satisfy enum value set: "
                    "[1024, 2048, 3072, 4096, 5120, 6144]"
                )
            if "ModelName" in variant:
                self.models.model(variant["ModelName"], region)
        record = dict(p, EndpointConfigArn=arn(region, CONFIG, name), CreationTime=time.time())
        self.store.put(CONFIG, name, record, record["CreationTime"])
        return {"EndpointConfigArn": record["EndpointConfigArn"]}

    def describe_endpoint_config(self, p: dict, region: str) -> dict:
        return output("DescribeEndpointConfig", self.config(p["EndpointConfigName"], region))

    def list_endpoint_configs(self, p: dict, region: str) -> dict:
        return self.listing.list("ListEndpointConfigs", CONFIG, p, "EndpointConfigName")

    def delete_endpoint_config(self, p: dict, region: str) -> None:
        self.config(p["EndpointConfigName"], region)
        self.store.delete(CONFIG, p["EndpointConfigName"])

    def config(self, name: str, region: str) -> dict:
        """An endpoint configuration's record; ValidationException if there is none."""
        record = self.store.get(CONFIG, name)
        if record is None:
            raise invalid(f'Could not find endpoint configuration "{arn(region, CONFIG, name)}".')
        return record

    # --- endpoints --------------------------------------------------------------------------

    def create_endpoint(self, p: dict, region: str) -> dict:
        name = p["EndpointName"]
        if self.store.get(ENDPOINT, name):
            raise invalid(
                f'Cannot create already existing endpoint "{arn(region, ENDPOINT, name)}".'
            )
        config = self.config(p["EndpointConfigName"], region)
        now = time.time()
        record = dict(
            p, EndpointArn=arn(region, ENDPOINT, name), CreationTime=now, LastModifiedTime=now
        )
        self._deploy(record, config)
        self.store.put(ENDPOINT, name, record, now)
        return {"EndpointArn": record["EndpointArn"]}

    def describe_endpoint(self, p: dict, region: str) -> dict:
        return output("DescribeEndpoint", self.endpoint(p["EndpointName"], region))

    def list_endpoints(self, p: dict, region: str) -> dict:
        status = p.get("StatusEquals")
        return self.listing.list(
            "ListEndpoints",
            ENDPOINT,
            p,
            "EndpointName",
            keep=lambda r: status is None or r.get("EndpointStatus") == status,
        )

    def update_endpoint(self, p: dict, region: str) -> dict:
        record = self.endpoint(p["EndpointName"], region)
        if record.get("EndpointStatus") not in ("InService", "Failed"):
            raise invalid(f'Cannot update in-progress endpoint "{record["EndpointArn"]}".')
        config = self.config(p["EndpointConfigName"], region)
        record = dict(
            record, EndpointConfigName=p["EndpointConfigName"], LastModifiedTime=time.time()
        )
        self._deploy(record, config)
        self.store.put(ENDPOINT, record["EndpointName"], record, record["CreationTime"])
        return {"EndpointArn": record["EndpointArn"]}

    def delete_endpoint(self, p: dict, region: str) -> None:
        self.endpoint(p["EndpointName"], region)
        try:
            self.serving.undeploy(p["EndpointName"])
        except Exception:  # already gone from the pool (e.g. it failed to deploy)
            log.debug("undeploy %s", p["EndpointName"], exc_info=True)
        self.store.delete(ENDPOINT, p["EndpointName"])

    def endpoint(self, name: str, region: str) -> dict:
        """An endpoint's record; ValidationException, as SageMaker answers, if there is none."""
        record = self.store.get(ENDPOINT, name)
        if record is None:
            raise invalid(f'Could not find endpoint "{arn(region, ENDPOINT, name)}".')
        return record

    def instance_count(self, name: str, variant: str) -> int | None:
        """How many instances an InService endpoint's variant runs; None if it runs none."""
        record = self.store.get(ENDPOINT, name)
        if record is None or record.get("EndpointStatus") != "InService":
            return None
        for pv in record.get("ProductionVariants") or []:
            if pv["VariantName"] == variant:
                return int(pv["CurrentInstanceCount"])
        return None

    def scale_variant(self, name: str, variant: str, count: int) -> None:
        """Run `count` instances of a variant (autoscaling): DescribeEndpoint shows the new
        DesiredInstanceCount at once and CurrentInstanceCount when they serve."""
        self._set_counts(name, variant, DesiredInstanceCount=count)
        try:
            self.serving.scale(name, variant, count)
        except Exception:
            current = len(self.serving.status(name)["variants"][variant]["pids"])
            self._set_counts(name, variant, DesiredInstanceCount=current)
            raise
        self._set_counts(name, variant, CurrentInstanceCount=count)

    def _set_counts(self, name: str, variant: str, **counts: int) -> None:
        with self.store.lock:
            record = self.store.get(ENDPOINT, name)
            if record is None:
                return
            for pv in record.get("ProductionVariants") or []:
                if pv["VariantName"] == variant:
                    pv.update(counts)
            self.store.put(ENDPOINT, name, record, record["CreationTime"])

    def redeploy(self) -> None:
        """Bring InService endpoints back after a restart: the records survive, models don't."""
        try:
            for record in self.store.all(ENDPOINT):
                if record.get("EndpointStatus") != "InService":
                    continue
                with self.store.lock:
                    config = self.store.get(CONFIG, record["EndpointConfigName"])
                    # With the instance counts it ran (autoscaling may have changed them).
                    self._deploy(record, config, _counts(record))
                    self.store.put(ENDPOINT, record["EndpointName"], record, record["CreationTime"])
        finally:
            self.restored.set()

    def capture_destination(self, capture: dict, endpoint: str) -> Path:
        """Where an endpoint's DataCaptureConfig has its requests written (each under
        `<endpoint>/<variant>/<yyyy>/...` there): its local DestinationS3Uri, or, for an S3
        destination the emulator cannot reach, a folder of its own state. PathRefused for a
        local destination outside the project and state folders."""
        try:
            return self.roots.confine(capture["DestinationS3Uri"])
        except (KeyError, NotLocal):
            return self.roots.state / "capture" / endpoint

    # --- deployment -------------------------------------------------------------------------

    def _deploy(
        self, record: dict, config: dict | None, counts: dict[str, int] | None = None
    ) -> None:
        """Deploy an endpoint's config on the serving runtime; record InService or Failed.
        `counts` are instance counts by variant to run instead of the config's initial ones."""
        counts = counts or {}
        record.pop("FailureReason", None)
        try:
            if config is None:
                raise Failure(f"Endpoint configuration {record['EndpointConfigName']} is gone.")
            variants = [
                self.model_variant(
                    pv.get("ModelName", ""),
                    pv["VariantName"],
                    weight=float(pv.get("InitialVariantWeight", 1.0)),
                    instance_count=_count(pv, counts),
                )
                for pv in config["ProductionVariants"]
            ]
            capture = None
            dcc = config.get("DataCaptureConfig")
            if dcc and dcc.get("EnableCapture", True):
                modes = {o.get("CaptureMode") for o in dcc.get("CaptureOptions", [])}
                try:
                    destination = self.capture_destination(dcc, record["EndpointName"])
                except PathRefused as exc:
                    raise Failure(f"DataCaptureConfig.DestinationS3Uri: {exc.message}") from None
                capture = Capture(
                    destination=destination,
                    sampling_percent=int(dcc["InitialSamplingPercentage"]),
                    capture_input="Input" in modes or not modes,
                    capture_output="Output" in modes or not modes,
                    **_content_types(dcc.get("CaptureContentTypeHeader")),
                )
            try:
                self.serving.deploy(record["EndpointName"], variants, capture)
            except ServingError as exc:
                raise Failure(str(getattr(exc, "message", exc))) from None
        except Failure as failure:
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
                "CurrentInstanceCount": _count(pv, counts),
                "DesiredInstanceCount": _count(pv, counts),
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

    def model_variant(
        self,
        model_name: str,
        variant_name: str,
        weight: float = 1.0,
        instance_count: int = 1,
        environment: dict[str, str] | None = None,
    ) -> Variant:
        """Model `model_name` as the serving runtime runs it (its model data, its container's
        Environment with `environment` over it, its inference script), or a `Failure`."""
        model_data, container_environment = self._model_data(model_name)
        container_environment.update(environment or {})
        try:
            program = program_of(container_environment, self.roots.confine)
        except (ServingError, PathRefused) as exc:
            raise Failure(f"Model {model_name}: {exc.message}") from None
        return Variant(
            name=variant_name,
            model_data=model_data,
            weight=weight,
            instance_count=instance_count,
            environment=container_environment,
            program=program,
        )

    def _model_data(self, model_name: str) -> tuple[str, dict[str, str]]:
        """The local path of a model's artifact and its container's Environment, or a
        `Failure` saying why not.

        A model that serves a registry version takes the version's container, with its own
        Environment merged over the version's (the model's values win)."""
        model = self.store.get(resources.MODEL.arn_kind, model_name)
        if model is None:
            raise Failure(f"Could not find model {model_name!r}.")
        container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
        url = container.get("ModelDataUrl")
        environment: dict[str, str] = {}
        if container.get("ModelPackageName"):
            try:
                package = self.registry.package(container["ModelPackageName"])
            except ApiError as exc:
                raise Failure(exc.message) from None
            containers = (package.get("InferenceSpecification") or {}).get("Containers") or [{}]
            url = url or containers[0].get("ModelDataUrl")
            environment.update(containers[0].get("Environment") or {})
        environment.update(container.get("Environment") or {})
        if not url and container.get("ModelDataSource"):
            url = (container["ModelDataSource"].get("S3DataSource") or {}).get("S3Uri")
        if not url:
            raise Failure(f"Model {model['ModelName']} has no ModelDataUrl to serve.")
        # Relative paths are relative to the spec's folder, like every path in mlinfra.yaml.
        try:
            return str(self.roots.confine(url)), environment
        except NotLocal:
            raise Failure(
                f"Model {model['ModelName']}: {url} is not reachable from the local emulator; "
                "only local paths and file:// URIs can be served locally."
            ) from None
        except PathRefused as exc:
            raise Failure(f"Model {model['ModelName']}: {exc.message}") from None


def _counts(record: dict) -> dict[str, int]:
    """The instance count each variant of an endpoint's record runs."""
    return {
        pv["VariantName"]: int(pv["CurrentInstanceCount"])
        for pv in record.get("ProductionVariants") or []
        if "CurrentInstanceCount" in pv
    }


def _count(variant: dict, counts: dict[str, int]) -> int:
    return counts.get(variant["VariantName"], int(variant.get("InitialInstanceCount", 1)))


def _content_types(header: dict | None) -> dict[str, tuple[str, ...]]:
    """CaptureContentTypeHeader as `Capture` keywords; absent lists keep the defaults."""
    found = {}
    if header and header.get("CsvContentTypes"):
        found["csv_content_types"] = tuple(header["CsvContentTypes"])
    if header and header.get("JsonContentTypes"):
        found["json_content_types"] = tuple(header["JsonContentTypes"])
    return found
