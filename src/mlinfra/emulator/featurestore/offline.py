"""The offline store: append-only Parquet files, one directory per group, partitioned by event date.

Layout: `<offline root>/<group>/event_date=YYYY-MM-DD/part-<uuid>.parquet`. Each file holds the
group's features with their Parquet types plus the columns SageMaker's offline store adds:
`write_time`, `api_invocation_time` (UTC timestamps) and `is_deleted`. Files are written under a
dot-prefixed temporary name (which Parquet dataset readers skip) and renamed into place only once
the whole write is known to succeed, so a reader never sees half a file or half an ingest.

The store records the staged files of a write in the same transaction as its online records
(`FeatureStore`), so after a crash `recover` can finish what committed (rename its files into
place) and remove what did not (every other staged file).
"""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mlinfra.emulator.featurestore.definition import FeatureGroupDefinition

_ARROW_TYPES = {"String": pa.string(), "Integral": pa.int64(), "Fractional": pa.float64()}
_TIMESTAMP = pa.timestamp("ms", tz="UTC")


@dataclass(frozen=True, slots=True)
class OfflineRow:
    """One appended row: typed feature values (absent = null), its partition, and deletion mark."""

    typed: dict[str, Any]
    event_date: str
    is_deleted: bool = False


@dataclass(frozen=True, slots=True)
class StagedFile:
    temporary: Path
    final: Path


def offline_schema(definition: FeatureGroupDefinition) -> pa.Schema:
    fields = [pa.field(name, _ARROW_TYPES[kind]) for name, kind in definition.features.items()]
    fields += [
        pa.field("write_time", _TIMESTAMP),
        pa.field("api_invocation_time", _TIMESTAMP),
        pa.field("is_deleted", pa.bool_()),
    ]
    return pa.schema(fields)


def stage(
    group_dir: Path,
    definition: FeatureGroupDefinition,
    rows: Iterable[OfflineRow],
    now_seconds: float,
) -> list[StagedFile]:
    """Write `rows` as one temporary file per event date; `publish` makes them visible."""
    by_date: dict[str, list[OfflineRow]] = defaultdict(list)
    for row in rows:
        by_date[row.event_date].append(row)
    schema = offline_schema(definition)
    now_ms = int(now_seconds * 1000)
    staged: list[StagedFile] = []
    try:
        for event_date, date_rows in sorted(by_date.items()):
            directory = group_dir / f"event_date={event_date}"
            directory.mkdir(parents=True, exist_ok=True)
            name = f"part-{uuid.uuid4().hex}.parquet"
            staged.append(StagedFile(directory / f".{name}.tmp", directory / name))
            pq.write_table(_table(schema, definition, date_rows, now_ms), staged[-1].temporary)
    except BaseException:
        discard(staged)
        raise
    return staged


def publish(staged: list[StagedFile]) -> None:
    for file in staged:
        os.replace(file.temporary, file.final)


def discard(staged: list[StagedFile]) -> None:
    for file in staged:
        file.temporary.unlink(missing_ok=True)


def recover(offline_root: Path, committed: Iterable[StagedFile]) -> tuple[int, int]:
    """After a crash: publish the staged files of committed writes that are still staged, and
    delete every other staged file (its write never committed). Returns (published, removed).

    Only safe while no write is in flight on `offline_root` (the store makes sure of it).
    """
    published = 0
    for file in committed:
        if file.temporary.exists():
            os.replace(file.temporary, file.final)
            published += 1
    removed = 0
    for leftover in offline_root.glob("*/event_date=*/.part-*.tmp"):
        leftover.unlink(missing_ok=True)
        removed += 1
    return published, removed


def read(group_dir: Path, definition: FeatureGroupDefinition) -> pa.Table:
    """Every row of a group's offline store with its `event_date`, ordered by `write_time`.

    Rows with the same `write_time` keep the order of their partitions and files.
    """
    schema = offline_schema(definition)
    tables = []
    for path in sorted(group_dir.glob("event_date=*/part-*.parquet")):
        table = pq.read_table(path, schema=schema)
        event_date = path.parent.name.removeprefix("event_date=")
        tables.append(table.append_column("event_date", pa.array([event_date] * len(table))))
    if not tables:
        return schema.append(pa.field("event_date", pa.string())).empty_table()
    table = pa.concat_tables(tables)
    # sort_indices is stable, so rows of one write keep their order.
    return table.take(pc.sort_indices(table, sort_keys=[("write_time", "ascending")]))


def _table(
    schema: pa.Schema, definition: FeatureGroupDefinition, rows: list[OfflineRow], now_ms: int
) -> pa.Table:
    columns = [
        pa.array([row.typed.get(name) for row in rows], type=_ARROW_TYPES[kind])
        for name, kind in definition.features.items()
    ]
    stamps = pa.array([now_ms] * len(rows), type=_TIMESTAMP)
    columns += [stamps, stamps, pa.array([row.is_deleted for row in rows], type=pa.bool_())]
    return pa.Table.from_arrays(columns, schema=schema)
