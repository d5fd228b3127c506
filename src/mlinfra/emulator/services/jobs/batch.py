"""Batch transform as SageMaker runs it: input files split into requests, answers assembled.

For every file under the input prefix, the records are sent to the model in requests:

- `SplitType: None`: the whole file is one request (it must fit in `MaxPayloadInMB`);
- `SplitType: Line`: each line is a record; `BatchStrategy: MultiRecord` packs as many whole
  lines into a request as fit in `MaxPayloadInMB` (found with a byte search per request, not
  per line, so a million rows are a handful of requests), `SingleRecord` sends one line each.

The answers are assembled into `<S3OutputPath>/<the file's path under the prefix>.out`:
concatenated as they are (`AssembleWith: None`) or each ending with a newline (`Line`). As
on SageMaker, a `.out` file appears only once its whole input file has been transformed
(written aside, then renamed), and a file that fails fails the job.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from threading import Event

from mlinfra.emulator.containers import JobFailure, Stopped
from mlinfra.emulator.services.jobs.filters import (
    Filters,
    filtered_input,
    joined_output,
    rows,
)

MB = 1024 * 1024
DEFAULT_PAYLOAD_MB = 6  # TransformJob's documented default
NEWLINE = b"\n"

# (body, content type, accept) -> the model's answer
Invoke = Callable[[bytes, str | None, str | None], bytes]


@dataclass(frozen=True)
class Options:
    """How a transform job splits, batches and assembles (its request's fields)."""

    split: str = "None"  # SplitType: None or Line
    strategy: str = "MultiRecord"  # BatchStrategy
    assemble: str = "None"  # AssembleWith
    max_payload: int = DEFAULT_PAYLOAD_MB * MB  # bytes; 0: no limit
    content_type: str | None = None
    accept: str | None = None
    gzip: bool = False  # CompressionType: Gzip
    concurrency: int = 1  # requests in flight at once
    filters: Filters | None = None  # DataProcessing

    @classmethod
    def of(cls, request: dict) -> Options:
        """The options of a CreateTransformJob request."""
        given = request["TransformInput"]
        out = request["TransformOutput"]
        instances = int(request["TransformResources"].get("InstanceCount", 1))
        per_instance = int(request.get("MaxConcurrentTransforms") or 1)
        return cls(
            split=given.get("SplitType", "None"),
            strategy=request.get("BatchStrategy", "MultiRecord"),
            assemble=out.get("AssembleWith", "None"),
            max_payload=int(request.get("MaxPayloadInMB", DEFAULT_PAYLOAD_MB)) * MB,
            content_type=given.get("ContentType"),
            accept=out.get("Accept"),
            gzip=given.get("CompressionType", "None") == "Gzip",
            concurrency=max(1, instances * per_instance),
            filters=Filters.of(request),
        )


def input_files(source: Path) -> list[tuple[Path, str]]:
    """The files an `S3Prefix` data source names, each with its key under the prefix, in S3's
    (lexicographic) order: a file itself, a folder's files (recursively), or else the files
    and folders whose names start with the prefix."""
    if source.is_file():
        return [(source, source.name)]
    if source.is_dir():
        found = [(p, p.relative_to(source).as_posix()) for p in source.rglob("*") if p.is_file()]
    elif source.parent.is_dir():
        found = [
            (p, p.relative_to(source.parent).as_posix())
            for entry in source.parent.iterdir()
            if entry.name.startswith(source.name)
            for p in ([entry] if entry.is_file() else entry.rglob("*"))
            if p.is_file()
        ]
    else:
        found = []
    return sorted(found, key=lambda item: item[1])


def transform_file(
    source: Path, target: Path, options: Options, invoke: Invoke, stopped: Event
) -> int:
    """Transform one input file into `target`; the number of requests it took."""
    data = source.read_bytes()
    if options.gzip:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise JobFailure(
                f"{source.name} is not gzip data (CompressionType Gzip): {exc}"
            ) from None
    records = rows(data) if options.filters is not None else []
    if options.filters is not None:
        data = filtered_input(options.filters, records)
    payloads = list(_payloads(data, options, source.name))
    if options.concurrency > 1 and len(payloads) > 1:
        with ThreadPoolExecutor(options.concurrency) as pool:
            answers = list(pool.map(lambda body: _call(body, options, invoke, stopped), payloads))
    else:
        answers = [_call(body, options, invoke, stopped) for body in payloads]
    if options.filters is not None:
        answers = [joined_output(options.filters, records, b"".join(_lines(answers)))]
    elif options.assemble == "Line":
        answers = list(_lines(answers))
    partial = target.with_name(target.name + ".partial")
    target.parent.mkdir(parents=True, exist_ok=True)
    with partial.open("wb") as out:
        out.writelines(answers)
    os.replace(partial, target)
    return len(payloads)


def _lines(answers: list[bytes]) -> Iterator[bytes]:
    """The answers, each ending with a newline (AssembleWith Line)."""
    for answer in answers:
        yield answer if answer.endswith(NEWLINE) else answer + NEWLINE


def _call(body: bytes, options: Options, invoke: Invoke, stopped: Event) -> bytes:
    if stopped.is_set():
        raise Stopped
    return invoke(body, options.content_type, options.accept)


def _payloads(data: bytes, options: Options, name: str) -> Iterator[bytes]:
    """The request bodies of one file's records."""
    limit = options.max_payload
    if options.split == "None":
        if limit and len(data) > limit:
            raise JobFailure(
                f"{name} is {len(data)} bytes, more than MaxPayloadInMB "
                f"({limit // MB} MB) allows in one request: set SplitType to Line, or raise "
                "MaxPayloadInMB."
            )
        yield data
        return
    if options.strategy == "SingleRecord":
        for line in data.splitlines(keepends=True):
            if line.strip():
                _fits(line, limit, name)
                yield line
        return
    start, size = 0, len(data)
    while start < size:
        end = (
            size
            if not limit or size - start <= limit
            else data.rfind(NEWLINE, start, start + limit) + 1
        )
        if end <= start:  # no line ends within the limit: one record is larger than it
            _fits(data[start : data.find(NEWLINE, start) + 1 or size], limit, name)
        chunk = data[start:end]
        if chunk.strip():
            yield chunk
        start = end


def _fits(record: bytes, limit: int, name: str) -> None:
    if limit and len(record) > limit:
        raise JobFailure(
            f"a record of {name} is {len(record)} bytes, more than MaxPayloadInMB "
            f"({limit // MB} MB): raise MaxPayloadInMB."
        )
