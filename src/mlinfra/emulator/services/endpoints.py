"""SageMaker endpoint configurations and endpoints, deployed on the serving runtime.

Deployment is synchronous (a local model loads in well under a second), so an endpoint is
InService or Failed by the time boto3's waiter first looks; a deployment that fails records
why in FailureReason instead of failing the API call. An endpoint that serves a registry
version takes the version's container (`registry.Registry.package`).

An UpdateEndpoint with a DeploymentConfig (or RetainDeploymentConfig) is a blue/green
deployment (`deployments`): the call answers at once, the endpoint is Updating (its
PendingDeploymentSummary shows the new fleet's share of traffic and stage) while a thread
shifts traffic and watches the rollback alarms, then InService on the new configuration, or,
rolled back, InService on the old one with FailureReason saying why (SageMaker's endpoint,
too, returns to InService on its previous configuration after a rollback). An emulator that
restarts mid-deployment rolls it back: the old fleet serves again (`redeploy`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from mlinfra.emulator.kit.arns import arn
from mlinfra.emulator.kit.clock import Clock
from mlinfra.emulator.kit.errors import ApiError, invalid
from mlinfra.emulator.kit.paths import NotLocal, PathRefused, Roots
from mlinfra.emulator.kit.records import Kind, Listing, output
from mlinfra.emulator.services.deployments import Plan, RolledBack, Rollout, Stopped, plan_of
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
        clock: Clock | None = None,
        alarm_state: Callable[[str], str | None] = lambda name: None,
    ) -> None:
        """`alarm_state` reads a CloudWatch alarm's state (the rollback alarms of a
        deployment); `clock` is the emulator's, which deployments' waits are counted in."""
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
        self.clock = clock or Clock()
        self.alarm_state = alarm_state
        self._closing = threading.Event()
        self._rollouts: dict[str, threading.Thread] = {}

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
        if p.get("DeploymentConfig"):  # used by its updates: refused now if it could not be
            instances = sum(
                int(v.get("InitialInstanceCount", 1)) for v in config["ProductionVariants"]
            )
            plan_of(p["DeploymentConfig"], max(instances, 1), self._alarm_exists)
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
        if record.get("EndpointStatus") not in ("InService", "Failed", "UpdateRollbackFailed"):
            raise invalid(f'Cannot update in-progress endpoint "{record["EndpointArn"]}".')
        config = self.config(p["EndpointConfigName"], region)
        deployment = p.get("DeploymentConfig")
        if p.get("RetainDeploymentConfig"):
            if deployment is not None:
                raise invalid("Give either DeploymentConfig or RetainDeploymentConfig, not both.")
            deployment = record.get("LastDeploymentConfig")
        if deployment is not None and record.get("EndpointStatus") == "InService":
            instances = sum(
                int(v.get("InitialInstanceCount", 1)) for v in config["ProductionVariants"]
            )
            plan = plan_of(deployment, max(instances, 1), self._alarm_exists)
            return self._start_rollout(record, config, deployment, plan)
        # No deployment config, or no fleet serving to shift traffic from: at once.
        record = dict(
            record, EndpointConfigName=p["EndpointConfigName"], LastModifiedTime=time.time()
        )
        if deployment is not None:
            record["LastDeploymentConfig"] = deployment
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
        """Bring InService endpoints back after a restart: the records survive, models don't.
        A deployment the restart interrupted is rolled back: its old fleet serves again."""
        try:
            for record in self.store.all(ENDPOINT):
                interrupted = "_Deployment" in record
                if record.get("EndpointStatus") != "InService" and not interrupted:
                    continue
                with self.store.lock:
                    config = self.store.get(CONFIG, record["EndpointConfigName"])
                    # With the instance counts it ran (autoscaling may have changed them).
                    self._deploy(record, config, _counts(record))
                    if interrupted:
                        _end_deployment(record, INTERRUPTED)
                    self.store.put(ENDPOINT, record["EndpointName"], record, record["CreationTime"])
        finally:
            self.restored.set()

    def close(self) -> None:
        """Stop the deployments under way where they are (a restart rolls them back)."""
        self._closing.set()
        for thread in list(self._rollouts.values()):
            thread.join(10)

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
            variants, capture = self._fleet(record["EndpointName"], config, counts)
            try:
                self.serving.deploy(record["EndpointName"], variants, capture)
            except ServingError as exc:
                raise Failure(str(getattr(exc, "message", exc))) from None
        except Failure as failure:
            _failed(record, str(failure))
            return
        except Exception as exc:  # a bug in a runtime must fail the endpoint, not the API
            log.exception("deploying endpoint %s", record["EndpointName"])
            _failed(record, f"Internal error while deploying: {type(exc).__name__}")
            return
        _serving(record, config, counts)

    def _fleet(
        self, endpoint: str, config: dict, counts: dict[str, int]
    ) -> tuple[list[Variant], Capture | None]:
        """The variants and data capture a configuration serves, or a `Failure`."""
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
                destination = self.capture_destination(dcc, endpoint)
            except PathRefused as exc:
                raise Failure(f"DataCaptureConfig.DestinationS3Uri: {exc.message}") from None
            capture = Capture(
                destination=destination,
                sampling_percent=int(dcc["InitialSamplingPercentage"]),
                capture_input="Input" in modes or not modes,
                capture_output="Output" in modes or not modes,
                **_content_types(dcc.get("CaptureContentTypeHeader")),
            )
        return variants, capture

    # --- blue/green deployments -------------------------------------------------------------

    def _alarm_exists(self, name: str) -> bool:
        return self.alarm_state(name) is not None

    def _start_rollout(self, record: dict, config: dict, deployment: dict, plan: Plan) -> dict:
        """Answer UpdateEndpoint now; the deployment goes on on a thread of its own."""
        name = record["EndpointName"]
        now = time.time()
        record = dict(record, EndpointStatus="Updating", LastModifiedTime=now)
        record.pop("FailureReason", None)
        record["PendingDeploymentSummary"] = {
            "EndpointConfigName": config["EndpointConfigName"],
            "StartTime": now,
            "ProductionVariants": _pending(config, 0.0, "Creating", "Starting the new fleet."),
        }
        record["_Deployment"] = deployment
        self.store.put(ENDPOINT, name, record, record["CreationTime"])
        thread = threading.Thread(
            target=self._roll_out, args=(name, config, deployment, plan),
            name=f"deployment-{name}", daemon=True,
        )  # fmt: skip
        self._rollouts[name] = thread
        thread.start()
        return {"EndpointArn": record["EndpointArn"]}

    def _roll_out(self, name: str, config: dict, deployment: dict, plan: Plan) -> None:
        """Start the new fleet, shift traffic to it step by step, and promote it; or roll
        back, recording why. Runs on the deployment's thread."""
        try:
            self._stage(name, config)

            def report(step: int, share: float, status: str) -> None:
                stage = f"Step {step} of {len(plan.shares)}: {share * 100:g}% of the traffic."
                pending = _pending(config, share, status, stage)
                self._progress(
                    name, lambda r: r["PendingDeploymentSummary"].update(ProductionVariants=pending)
                )

            Rollout(
                plan,
                shift=lambda share: self.serving.shift(name, share),
                report=report,
                alarm_state=self.alarm_state,
                sleep=lambda seconds: not self._closing.wait(seconds),
                wall=self.clock.wall_seconds,
                now=self.clock.now,
                wanted=lambda: self.store.get(ENDPOINT, name) is not None,
            ).run()
            self.serving.promote(name)
            self._progress(name, lambda r: _promoted(r, config))
        except RolledBack as why:
            reason = str(why)
            log.info("deployment of %s rolls back: %s", name, reason)
            try:
                self._progress(name, lambda r: r.update(EndpointStatus="RollingBack"))
                self.serving.abandon(name)
                self._progress(name, lambda r: _end_deployment(r, reason))
            except Gone:
                self.serving.abandon(name)
        except Stopped:
            pass  # deleted, or the emulator is closing: its next start rolls the deployment back
        except Gone:
            self.serving.abandon(name)
        except Exception:  # a bug must not leave the endpoint Updating for ever
            log.exception("deployment of %s", name)
            try:
                self.serving.abandon(name)
                self._progress(name, lambda r: _end_deployment(r, INTERNAL))
            except Exception:
                log.exception("rolling back %s", name)
        finally:
            self._rollouts.pop(name, None)

    def _stage(self, name: str, config: dict) -> None:
        """Start the new fleet beside the serving one; RolledBack if it cannot start."""
        try:
            variants, capture = self._fleet(name, config, {})
            self.serving.stage(name, variants, capture)
        except (Failure, ServingError) as exc:
            raise RolledBack(
                f"The new fleet ({config['EndpointConfigName']}) failed to start: "
                f"{getattr(exc, 'message', exc)}"
            ) from None

    def _progress(self, name: str, change: Callable[[dict], object]) -> None:
        """Apply `change` to the endpoint's record; Gone if it was deleted meanwhile."""
        with self.store.lock:
            record = self.store.get(ENDPOINT, name)
            if record is None or "_Deployment" not in record:
                raise Gone()
            change(record)
            record["LastModifiedTime"] = time.time()
            self.store.put(ENDPOINT, name, record, record["CreationTime"])

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


class Gone(Exception):
    """The endpoint was deleted while its deployment ran."""


INTERRUPTED = (
    "The deployment was interrupted by a restart of the local emulator and rolled back: the "
    "previous endpoint configuration serves. Update the endpoint again to deploy."
)
INTERNAL = "Internal error during the deployment; rolled back."


def _failed(record: dict, reason: str) -> None:
    record["EndpointStatus"] = "Failed"
    record["FailureReason"] = reason
    record["ProductionVariants"] = []


def _serving(record: dict, config: dict, counts: dict[str, int]) -> None:
    """Record InService on `config`: its variants' weights and counts, and its capture."""
    record["EndpointStatus"] = "InService"
    record.pop("FailureReason", None)
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


def _pending(config: dict, share: float, status: str, message: str) -> list[dict]:
    """The new fleet's variants as PendingDeploymentSummary shows them: their share of the
    traffic so far (CurrentWeight) and the stage they are in (VariantStatus)."""
    return [
        {
            "VariantName": pv["VariantName"],
            "CurrentWeight": float(pv.get("InitialVariantWeight", 1.0)) * share,
            "DesiredWeight": float(pv.get("InitialVariantWeight", 1.0)),
            "CurrentInstanceCount": 0 if status == "Creating" else _count(pv, {}),
            "DesiredInstanceCount": _count(pv, {}),
            "InstanceType": pv.get("InstanceType", ""),
            "VariantStatus": [
                {"Status": status, "StatusMessage": message, "StartTime": time.time()}
            ],
        }
        for pv in config["ProductionVariants"]
    ]


def _promoted(record: dict, config: dict) -> None:
    """The new fleet serves all traffic and the old one is gone."""
    record["EndpointConfigName"] = config["EndpointConfigName"]
    _serving(record, config, {})
    _end_deployment(record, None)


def _end_deployment(record: dict, failure: str | None) -> None:
    """A deployment is over: record the config it ran with, and why it rolled back."""
    last = record.pop("_Deployment", None) or record.get("LastDeploymentConfig")
    if last is not None:
        record["LastDeploymentConfig"] = last
    record.pop("PendingDeploymentSummary", None)
    if failure is None:
        return
    if record.get("EndpointStatus") == "Failed":  # the old fleet did not come back either
        record["EndpointStatus"] = "UpdateRollbackFailed"
        failure = f"{failure} Rolling back failed: {record.get('FailureReason', '')}"
    else:
        record["EndpointStatus"] = "InService"
    record["FailureReason"] = failure[:1024]


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
