"""SageMaker batch transform jobs: CreateTransformJob, DescribeTransformJob, ListTransformJobs,
StopTransformJob.

A job serves its model (a model the emulator holds, with the job's Environment over its
container's) as an endpoint would: `InstanceCount` worker processes of the serving runtime,
in a pool of the job's own (`<state>/jobs/transform-job/`), so a job's name never meets an
endpoint's and its workers end with it. The input files are then scored as SageMaker does
(`batch`). What the emulator cannot do is refused when the job is created: a data source
other than `S3Prefix`, `SplitType` RecordIO or TFRecord, `DataProcessing` beyond CSV column
filters (`filters`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from mlinfra.emulator.containers import JobFailure, Stopped
from mlinfra.emulator.kit.errors import invalid
from mlinfra.emulator.kit.paths import NotLocal, PathRefused, Roots
from mlinfra.emulator.kit.records import Listing
from mlinfra.emulator.services.endpoints import Endpoints, Failure
from mlinfra.emulator.services.jobs.batch import Options, input_files, transform_file
from mlinfra.emulator.services.jobs.filters import FilterError, Filters
from mlinfra.emulator.services.jobs.lifecycle import JobKind, Jobs, checked_location
from mlinfra.emulator.serving import EndpointPool, ServingError
from mlinfra.emulator.store import Store

TRANSFORM = JobKind("TransformJob", "transform-job", "Transform")
SPLITS = ("None", "Line")
MAX_PAYLOAD_MB = 100  # TransformJob's documented ceiling, with MaxConcurrentTransforms too
DEFAULT_INVOCATION_TIMEOUT = 600.0  # ModelClientConfig.InvocationsTimeoutInSeconds


class TransformJobs:
    """The batch transform job operations; `endpoints` turns a model into what serves it."""

    OPERATIONS = (
        "CreateTransformJob", "DescribeTransformJob", "ListTransformJobs", "StopTransformJob",
    )  # fmt: skip
    KINDS = (TRANSFORM.store_kind(),)

    def __init__(self, store: Store, listing: Listing, roots: Roots, endpoints: Endpoints) -> None:
        self.roots = roots
        self.endpoints = endpoints
        self.jobs = Jobs(store, listing, TRANSFORM, roots.state / "jobs" / TRANSFORM.arn_kind)

    def create_transform_job(self, p: dict, region: str) -> dict:
        _check(p)
        checked_location(self.roots.confine, _source_uri(p), "TransformInput.DataSource.S3Uri")
        checked_location(
            self.roots.confine, p["TransformOutput"]["S3OutputPath"], "TransformOutput.S3OutputPath"
        )
        if self.jobs.store.get("model", p["ModelName"]) is None:
            raise invalid(f'Could not find model "{p["ModelName"]}".')
        record = self.jobs.create(p, region)
        self.jobs.start(record, _Transform(self, record))
        return {"TransformJobArn": record["TransformJobArn"]}

    def describe_transform_job(self, p: dict, region: str) -> dict:
        return self.jobs.describe(p["TransformJobName"], "DescribeTransformJob")

    def list_transform_jobs(self, p: dict, region: str) -> dict:
        return self.jobs.list("ListTransformJobs", p)

    def stop_transform_job(self, p: dict, region: str) -> None:
        self.jobs.stop(p["TransformJobName"])

    def close(self) -> None:
        self.jobs.close()

    def local(self, location: str, field: str) -> Path:
        """A location of the job's request, as a path; a JobFailure for one out of reach."""
        try:
            return self.roots.confine(location)
        except NotLocal:
            raise JobFailure(
                f"{field} {location} is not reachable from the local emulator; a local "
                "transform job reads and writes local paths and file: URIs only"
            ) from None
        except PathRefused as exc:
            raise JobFailure(f"{field}: {exc.message}") from None


class _Transform:
    """One transform job's work, on its thread: serve the model, score every file."""

    def __init__(self, service: TransformJobs, record: dict) -> None:
        self.service = service
        self.record = record
        self.stopped = threading.Event()
        self.pool: EndpointPool | None = None

    def run(self) -> dict[str, Any]:
        record, service = self.record, self.service
        name = record["TransformJobName"]
        source = service.local(_source_uri(record), "TransformInput.DataSource.S3Uri")
        output = service.local(
            record["TransformOutput"]["S3OutputPath"], "TransformOutput.S3OutputPath"
        )
        files = input_files(source)
        if not files:
            raise JobFailure(f"No input files found under {_source_uri(record)} ({source}).")
        try:
            variant = service.endpoints.model_variant(
                record["ModelName"],
                "AllTraffic",
                instance_count=int(record["TransformResources"].get("InstanceCount", 1)),
                environment=record.get("Environment"),
            )
        except Failure as exc:
            raise JobFailure(str(exc)) from None
        timeout = (record.get("ModelClientConfig") or {}).get(
            "InvocationsTimeoutInSeconds", DEFAULT_INVOCATION_TIMEOUT
        )
        pool = EndpointPool(
            service.jobs.folder, timeout=float(timeout), confine=service.roots.confine
        )
        self.pool = pool
        options = Options.of(record)
        try:
            if self.stopped.is_set():
                raise Stopped
            pool.deploy(name, [variant])

            def invoke(body: bytes, content_type: str | None, accept: str | None) -> bytes:
                try:
                    return pool.invoke(name, body, content_type or "", accept).body
                except ServingError as exc:
                    if self.stopped.is_set():
                        raise Stopped from None
                    raise JobFailure(f"The model answered {exc.status}: {exc.message}") from None

            for path, key in files:
                try:
                    target = output / (key + ".out")
                    transform_file(path, target, options, invoke, self.stopped)
                except JobFailure as exc:
                    raise JobFailure(f"{key}: {exc}") from None
        except ServingError as exc:  # the model did not load
            if self.stopped.is_set():
                raise Stopped from None
            raise JobFailure(f"Model {record['ModelName']}: {exc.message}") from None
        finally:
            pool.close()
        return {}

    def stop(self) -> None:
        self.stopped.set()
        if self.pool is not None:
            self.pool.close()


def _source_uri(request: dict) -> str:
    return request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]


def _check(p: dict) -> None:
    """What the local emulator refuses to start, with what to do instead."""
    given = p["TransformInput"]
    s3 = given["DataSource"].get("S3DataSource")
    if s3 is None:
        raise invalid("TransformInput.DataSource: the local emulator reads S3DataSource only.")
    if s3.get("S3DataType") != "S3Prefix":
        raise invalid(
            f"TransformInput.DataSource.S3DataSource.S3DataType {s3.get('S3DataType')} is not "
            "supported by the local emulator: use S3Prefix (a file or folder)."
        )
    split = given.get("SplitType", "None")
    if split not in SPLITS:
        raise invalid(
            f"TransformInput.SplitType {split} is not supported by the local emulator: "
            "use None (whole files) or Line."
        )
    try:
        Filters.of(p)
    except FilterError as exc:
        raise invalid(str(exc)) from None
    payload = int(p.get("MaxPayloadInMB", 6))
    concurrent = int(p.get("MaxConcurrentTransforms") or 1)
    if payload * concurrent > MAX_PAYLOAD_MB:
        raise invalid(
            f"MaxConcurrentTransforms * MaxPayloadInMB ({concurrent} * {payload} MB) cannot "
            f"exceed {MAX_PAYLOAD_MB} MB."
        )
    if payload == 0 and split != "None":
        raise invalid(f"MaxPayloadInMB 0 (no limit) needs SplitType None; it is {split}.")
