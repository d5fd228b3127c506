"""The feature store itself: SageMaker Feature Store Runtime semantics over SQLite and Parquet.

The online store is one SQLite database (`<root>/featurestore.sqlite3`, WAL mode) holding the
feature group metadata and one row per record: the latest record of each identifier, keyed by
(group, identifier), with its event time and expiry as integers so the "newer event time wins"
rule is a single UPSERT condition. The offline store is Parquet under `<root>/offline/`, see
`offline.py`. Each thread gets its own SQLite connection (reads never wait for each other); writes
go through one lock plus `BEGIN IMMEDIATE`, so they also serialise against other processes.

A write reaches both stores or neither, even across a crash: its offline rows are staged as
hidden files, and the transaction that changes the online store also notes those files
(`offline_staged`); once it commits, the files are renamed into place and the note dropped.
Opening the store recovers from a crash in between: noted files are renamed into place (the
write committed), every other staged file is deleted (it did not). The store also remembers
which record (identifier, event time, values) each offline row holds (`offline_records`), so
loading the same CSV again appends nothing twice.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import enum
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from mlinfra.emulator.featurestore import offline
from mlinfra.emulator.featurestore.definition import (
    FeatureGroup,
    FeatureGroupDefinition,
    check_definition,
)
from mlinfra.emulator.featurestore.errors import FeatureStoreError
from mlinfra.emulator.featurestore.records import (
    ParsedRecord,
    parse_event_time,
    parse_identifier,
    parse_record,
    parse_value,
    parse_values,
)

Record = list[dict[str, str]]
TARGET_STORES = ("OnlineStore", "OfflineStore")
# One compact encoder reused: json.dumps with custom separators builds a new encoder per call.
# Records are stored in GetRecord's own shape, so reading one is a single json.loads.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_decode = json.JSONDecoder().decode

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feature_groups (
    name TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS online_records (
    group_name TEXT NOT NULL,
    record_id TEXT NOT NULL,
    event_time_us INTEGER NOT NULL,
    expires_at_us INTEGER,
    is_deleted INTEGER NOT NULL,
    record TEXT,
    PRIMARY KEY (group_name, record_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS offline_staged (
    temporary TEXT PRIMARY KEY,
    final TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS offline_records (
    group_name TEXT NOT NULL,
    record_id TEXT NOT NULL,
    event_time_us INTEGER NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (group_name, record_id, event_time_us)
) WITHOUT ROWID;
"""
_WRITTEN = """
SELECT record_id, event_time_us, digest FROM offline_records WHERE group_name = ?
"""
_REMEMBER_WRITTEN = """
INSERT INTO offline_records (group_name, record_id, event_time_us, digest) VALUES (?, ?, ?, ?)
ON CONFLICT (group_name, record_id, event_time_us) DO UPDATE SET digest = excluded.digest
"""

log = logging.getLogger("mlinfra.emulator")


class Keep(enum.Enum):
    """`update_group`'s default: leave the setting as it is."""

    KEEP = "keep"


KEEP = Keep.KEEP

# An expired record counts as absent (it is hard-deleted lazily), so any put replaces it; a live
# one is replaced only by an equal or newer event time (on a tie the later write wins, as in AWS).
_UPSERT = """
INSERT INTO online_records (group_name, record_id, event_time_us, expires_at_us, is_deleted, record)
VALUES (?1, ?2, ?3, ?4, 0, ?5)
ON CONFLICT (group_name, record_id) DO UPDATE SET
    event_time_us = excluded.event_time_us,
    expires_at_us = excluded.expires_at_us,
    is_deleted = 0,
    record = excluded.record
WHERE excluded.event_time_us >= online_records.event_time_us
   OR online_records.expires_at_us <= ?6
"""
_SELECT = """
SELECT record, expires_at_us, is_deleted FROM online_records WHERE group_name = ? AND record_id = ?
"""
_SELECT_LIVE_EVENT_TIME = """
SELECT event_time_us, is_deleted FROM online_records
WHERE group_name = ? AND record_id = ? AND (expires_at_us IS NULL OR expires_at_us > ?)
"""
_PURGE_EXPIRED = """
DELETE FROM online_records WHERE group_name = ? AND record_id = ? AND expires_at_us <= ?
"""


class FeatureStore:
    """SageMaker Feature Store (control plane for groups, runtime for records) on local files."""

    def __init__(self, root: Path, clock: Callable[[], float] = time.time) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.offline_root = self.root / "offline"
        self._database = self.root / "featurestore.sqlite3"
        self._clock = clock
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._writes = self.root / "writes.lock"
        self._connection().executescript(_SCHEMA)
        self._groups: dict[str, FeatureGroup] = {}
        self._reload_groups()
        self._recover()

    # -- feature groups (the control plane) ------------------------------------------------

    def create_group(self, definition: FeatureGroupDefinition) -> FeatureGroup:
        check_definition(definition)
        # A private copy, so a caller mutating its `features` dict cannot change the group.
        group = FeatureGroup(FeatureGroupDefinition.from_json(definition.to_json()), self._clock())
        try:
            with self._transaction() as connection:
                connection.execute(
                    "INSERT INTO feature_groups (name, definition, created_at) VALUES (?, ?, ?)",
                    (group.name, json.dumps(group.definition.to_json()), group.created_at),
                )
        except sqlite3.IntegrityError:
            raise FeatureStoreError(
                "ResourceInUse", f"feature group {definition.name!r} already exists"
            ) from None
        self._groups[group.name] = group
        return group

    def describe_group(self, name: str) -> FeatureGroup:
        return self._group(name, missing=_control_plane_not_found)

    def update_group(
        self,
        name: str,
        add_features: Mapping[str, str] | None = None,
        online_ttl_seconds: int | None | Keep = KEEP,
    ) -> FeatureGroup:
        """UpdateFeatureGroup: add features, set or remove (None) the online store's TTL.

        As in SageMaker, features can only be added, and records already stored keep theirs
        (an added feature is absent from them) and their expiry: a new TTL applies to the
        records written after the update.
        """
        group = self._group(name, missing=_control_plane_not_found)
        definition = group.definition
        features = dict(definition.features)
        for feature, kind in (add_features or {}).items():
            if feature in features:
                raise FeatureStoreError(
                    "ValidationError",
                    f"feature {feature!r} already exists in feature group {name!r}; "
                    "a feature cannot be changed or removed, only new ones added",
                )
            features[feature] = kind  # type: ignore[assignment]
        ttl = definition.online_ttl_seconds if online_ttl_seconds is KEEP else online_ttl_seconds
        updated = dataclasses.replace(definition, features=features, online_ttl_seconds=ttl)
        check_definition(updated)
        with self._transaction() as connection:
            connection.execute(
                "UPDATE feature_groups SET definition = ? WHERE name = ?",
                (json.dumps(updated.to_json()), name),
            )
        self._groups[name] = FeatureGroup(updated, group.created_at)
        return self._groups[name]

    def list_groups(self) -> list[FeatureGroup]:
        self._reload_groups()
        return [self._groups[name] for name in sorted(self._groups)]

    def delete_group(self, name: str) -> None:
        """Delete a group and its online records; like AWS, keep its offline data (set aside)."""
        group = self._group(name, missing=_control_plane_not_found)
        with self._transaction() as connection:
            connection.execute("DELETE FROM feature_groups WHERE name = ?", (name,))
            connection.execute("DELETE FROM online_records WHERE group_name = ?", (name,))
            connection.execute("DELETE FROM offline_records WHERE group_name = ?", (name,))
        self._groups.pop(name, None)
        # AWS leaves the S3 data under a prefix named for the group's creation, so a group created
        # again under the same name starts empty; moving the directory aside does the same here.
        group_dir = self.offline_root / name
        if group_dir.exists():
            kept = self.root / "offline-deleted" / f"{name}-{int(group.created_at * 1000)}"
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(group_dir, kept)

    # -- records (the runtime API) ---------------------------------------------------------

    def put_record(
        self,
        group_name: str,
        record: Record,
        ttl_seconds: int | None = None,
        target_stores: Sequence[str] | None = None,
    ) -> None:
        """PutRecord: validate everything first, then write the online and offline stores."""
        group = self._group(group_name, missing=_validation_not_found)
        online, offline_ = _targets(group, target_stores)
        if ttl_seconds is not None and (
            isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or ttl_seconds <= 0
        ):
            raise FeatureStoreError(
                "ValidationError",
                f"TtlDuration {ttl_seconds!r} must be a positive number of seconds",
            )
        parsed = parse_record(group, record)
        now = self._clock()
        rows = [_offline_row(parsed)] if offline_ else []
        online_rows = [_online_row(group, parsed, ttl_seconds, now)] if online else []
        self._commit(group, now, rows, _upsert(online_rows))

    def get_record(
        self, group_name: str, identifier: str, feature_names: Sequence[str] | None = None
    ) -> Record | None:
        """GetRecord: the latest live record of `identifier`, or None when there is none."""
        found = self._lookup(group_name, identifier, feature_names)
        return None if found is None else found[0]

    def get_record_response(
        self,
        group_name: str,
        identifier: str,
        feature_names: Sequence[str] | None = None,
        expiration_time_response: bool = False,
    ) -> dict[str, Any]:
        """GetRecord's response body: `{"Record": ..., "ExpiresAt"?: ...}`, `{}` if not found."""
        found = self._lookup(group_name, identifier, feature_names)
        if found is None:
            return {}
        response: dict[str, Any] = {"Record": found[0]}
        if expiration_time_response and found[1] is not None:
            response["ExpiresAt"] = _iso(found[1])
        return response

    def batch_get_record(
        self, identifiers: list[dict[str, Any]], expiration_time_response: bool = False
    ) -> dict[str, list[dict[str, Any]]]:
        """BatchGetRecord: per-identifier failures are `Errors` entries, missing records absent."""
        records: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for entry in identifiers:
            if not isinstance(entry, dict) or not isinstance(
                entry.get("RecordIdentifiersValueAsString"), list
            ):
                raise FeatureStoreError(
                    "ValidationError",
                    "each identifier needs FeatureGroupName and RecordIdentifiersValueAsString",
                )
            group_name = entry.get("FeatureGroupName")
            for identifier in entry["RecordIdentifiersValueAsString"]:
                try:
                    found = self._lookup(group_name, identifier, entry.get("FeatureNames"))
                except FeatureStoreError as error:
                    errors.append(
                        {
                            "FeatureGroupName": group_name,
                            "RecordIdentifierValueAsString": identifier,
                            "ErrorCode": error.code,
                            "ErrorMessage": error.message,
                        }
                    )
                    continue
                if found is None:
                    continue
                result: dict[str, Any] = {
                    "FeatureGroupName": group_name,
                    "RecordIdentifierValueAsString": identifier,
                    "Record": found[0],
                }
                if expiration_time_response and found[1] is not None:
                    result["ExpiresAt"] = _iso(found[1])
                records.append(result)
        return {"Records": records, "Errors": errors, "UnprocessedIdentifiers": []}

    def delete_record(
        self,
        group_name: str,
        identifier: str,
        event_time: str,
        deletion_mode: str = "SoftDelete",
        target_stores: Sequence[str] | None = None,
    ) -> None:
        """DeleteRecord, with AWS's rules for a delete whose event time is not the newest.

        SoftDelete nulls the online record but keeps its identifier and event time (so older puts
        still lose to it); HardDelete removes the row. Both append a deleted-record marker
        (`is_deleted` true, other features null) to the offline store. A delete not later than
        the stored record changes nothing online: SoftDelete still writes the marker, HardDelete
        fails with a ValidationError and writes nothing.
        """
        group = self._group(group_name, missing=_validation_not_found)
        if deletion_mode not in ("SoftDelete", "HardDelete"):
            raise FeatureStoreError(
                "ValidationError",
                f"DeletionMode {deletion_mode!r} must be SoftDelete or HardDelete",
            )
        online, offline_ = _targets(group, target_stores)
        definition = group.definition
        key = parse_identifier(group, identifier)
        event_time_kind = definition.features[definition.event_time]
        event_time_us, event_date = parse_event_time(
            event_time_kind, definition.event_time, event_time
        )
        now = self._clock()
        id_kind = definition.features[definition.record_identifier]
        marker = offline.OfflineRow(
            {
                definition.record_identifier: parse_value(id_kind, "", key),
                definition.event_time: parse_value(event_time_kind, "", event_time),
            },
            event_date,
            is_deleted=True,
        )

        # A SoftDelete's marker is written whatever the online outcome; a HardDelete that is
        # not later than the stored record fails and writes none (AWS: "No delete record
        # marker is written").
        def online_delete(connection: sqlite3.Connection) -> None:
            if not online:
                return
            stored = connection.execute(
                _SELECT_LIVE_EVENT_TIME, (group.name, key, _micros(now))
            ).fetchone()
            newer = stored is None or event_time_us > stored[0]
            if deletion_mode == "HardDelete" and not newer:
                raise FeatureStoreError(
                    "ValidationError",
                    f"EventTime {event_time!r} is not later than the stored record's "
                    f"event time; HardDelete was not performed",
                )
            if stored is not None and newer:
                if deletion_mode == "HardDelete":
                    connection.execute(
                        "DELETE FROM online_records WHERE group_name = ? AND record_id = ?",
                        (group.name, key),
                    )
                else:
                    connection.execute(
                        "UPDATE online_records SET event_time_us = ?, is_deleted = 1, "
                        "record = NULL WHERE group_name = ? AND record_id = ?",
                        (event_time_us, group.name, key),
                    )

        self._commit(group, now, [(marker, None)] if offline_ else [], online_delete)

    # -- bulk load and offline reads -------------------------------------------------------

    def ingest_csv(self, group_name: str, path: Path) -> Ingested:
        """Load a CSV file; see `ingest_csv_lines`. Messages name the file by its base name."""
        path = Path(path)
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return self.ingest_csv_lines(group_name, handle, path.name)

    def ingest_csv_lines(self, group_name: str, lines: Iterable[str], source: str) -> Ingested:
        """Load CSV text whose header names features; all rows are checked before any is written.

        `lines` is anything `csv.reader` reads (an open file, `io.StringIO(text, newline="")`);
        `source` names it in messages. A row that does not fit the group's definition rejects
        the whole load, with the first invalid rows named by row and line number, so nothing is
        ever partially ingested. Empty cells are absent features (as the SageMaker SDK's
        `ingest` skips nulls). Returns how many records were ingested, and for how many of
        their identifiers the online store's TTL has already run out.
        """
        group = self._group(group_name, missing=_control_plane_not_found)
        parsed: list[ParsedRecord] = []
        problems: list[str] = []
        reader = csv.reader(lines)
        try:
            header = next(reader, None)
            if header is None:
                raise FeatureStoreError(
                    "ValidationError", f"{source}: nothing was ingested: the CSV is empty"
                )
            _check_header(group, source, header)
            for number, row in enumerate(reader, start=1):
                if len(row) != len(header):
                    problems.append(
                        f"row {number} (line {reader.line_num}): has {len(row)} columns, "
                        f"the header has {len(header)}"
                    )
                    continue
                given = {name: value for name, value in zip(header, row, strict=True) if value}
                try:
                    parsed.append(parse_values(group, given))
                except FeatureStoreError as error:
                    problems.append(f"row {number} (line {reader.line_num}): {error.message}")
        except csv.Error as error:
            # A malformed quote or a NUL byte: the text is not CSV from this line on.
            raise FeatureStoreError(
                "ValidationError",
                f"{source}: nothing was ingested: line {reader.line_num} is not valid CSV "
                f"({error})",
            ) from None
        if problems:
            more = f"; and {len(problems) - 10} more invalid rows" if len(problems) > 10 else ""
            raise FeatureStoreError(
                "ValidationError",
                f"{source}: nothing was ingested: " + "; ".join(problems[:10]) + more,
            )
        definition = group.definition
        now = self._clock()
        rows = [_offline_row(p) for p in parsed] if definition.offline else []
        online_rows = (
            [_online_row(group, p, None, now) for p in parsed] if definition.online else []
        )
        # A record the offline store already holds (same identifier, event time and values)
        # is not appended again: loading the same CSV twice leaves one row per record.
        written = self._commit(group, now, rows, _upsert(online_rows), skip_written=True)
        return Ingested(len(parsed), _expired_identifiers(online_rows, now), len(rows) - written)

    def read_offline(self, group_name: str) -> pa.Table:
        """The group's whole offline store as one Arrow table (features, metadata, event_date)."""
        group = self._group(group_name, missing=_control_plane_not_found)
        return offline.read(self.offline_root / group.name, group.definition)

    def close(self) -> None:
        with self._connections_lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()

    def __enter__(self) -> FeatureStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------

    def _lookup(
        self, group_name: str, identifier: str, feature_names: Sequence[str] | None
    ) -> tuple[Record, int | None] | None:
        """The hot path of GetRecord: one primary-key SELECT and one json.loads."""
        group = self._groups.get(group_name) or self._group(group_name, missing=_runtime_not_found)
        definition = group.definition
        if not definition.online:
            raise FeatureStoreError(
                "ValidationError", f"feature group {group_name!r} has no online store"
            )
        if definition.features[definition.record_identifier] == "String" and isinstance(
            identifier, str
        ):
            key = identifier
        else:
            key = parse_identifier(group, identifier)
        if feature_names is not None:
            unknown = [name for name in feature_names if name not in definition.features]
            if unknown:
                raise FeatureStoreError(
                    "ValidationError",
                    f"feature {unknown[0]!r} is not defined in feature group {group_name!r}",
                )
        row = self._connection().execute(_SELECT, (group_name, key)).fetchone()
        if row is None or row[2]:
            return None
        record_json, expires_at_us, _ = row
        if expires_at_us is not None:
            now_us = _micros(self._clock())
            if expires_at_us <= now_us:
                with self._transaction() as connection:
                    connection.execute(_PURGE_EXPIRED, (group_name, key, now_us))
                return None
        record = _decode(record_json)
        if feature_names is not None:
            wanted = set(feature_names)
            record = [value for value in record if value["FeatureName"] in wanted]
        return record, expires_at_us

    def _commit(
        self,
        group: FeatureGroup,
        now: float,
        rows: list[_Row],
        online: Callable[[sqlite3.Connection], None] | None = None,
        skip_written: bool = False,
    ) -> int:
        """Write a change to both stores: all of it, or (on any failure, even a crash) none;
        how many offline rows were written.

        One transaction changes the online store (`online(connection)`, which may refuse by
        raising), stages the offline `rows` as hidden files and notes them; after it commits,
        the files are renamed into place and the note dropped. A crash before the commit
        leaves staged files without a note, which `_recover` deletes; after it, the note, by
        which `_recover` renames them. `skip_written` leaves out rows whose record the offline
        store already holds.
        """
        staged: list[offline.StagedFile] = []
        with self._writing(fcntl.LOCK_SH):
            try:
                with self._transaction() as connection:
                    if online is not None:
                        online(connection)
                    if rows:
                        if skip_written:
                            rows = _unwritten(connection, group.name, rows)
                        staged = offline.stage(
                            self.offline_root / group.name,
                            group.definition,
                            [row for row, _ in rows],
                            now,
                        )
                        connection.executemany(
                            "INSERT INTO offline_staged (temporary, final) VALUES (?, ?)",
                            [self._relative(file) for file in staged],
                        )
                        connection.executemany(
                            _REMEMBER_WRITTEN,
                            [(group.name, *key) for _, key in rows if key is not None],
                        )
            except BaseException:
                offline.discard(staged)
                raise
            if staged:
                offline.publish(staged)
                with self._transaction() as connection:
                    connection.executemany(
                        "DELETE FROM offline_staged WHERE temporary = ?",
                        [self._relative(file)[:1] for file in staged],
                    )
        return len(rows)

    def _recover(self) -> None:
        """Finish or undo the offline part of writes a crash interrupted (see `_commit`)."""
        with self._writing(fcntl.LOCK_EX):
            noted = self._connection().execute("SELECT temporary, final FROM offline_staged")
            committed = [offline.StagedFile(self.root / t, self.root / f) for t, f in noted]
            published, removed = offline.recover(self.offline_root, committed)
            if committed:
                with self._transaction() as connection:
                    connection.execute("DELETE FROM offline_staged")
        if published or removed:
            log.warning(
                "feature store %s: after an interrupted write, published %d staged offline "
                "file(s) whose write had committed and removed %d whose write had not",
                self.root,
                published,
                removed,
            )

    @contextlib.contextmanager
    def _writing(self, mode: int) -> Iterator[None]:
        """Writes share this lock and `_recover` takes it alone, so it never removes the
        staged files of a write in flight (another FeatureStore on the same root)."""
        # A descriptor of its own per write: flock locks belong to the open file, which
        # threads would otherwise share (and one's unlock would release another's lock).
        descriptor = os.open(self._writes, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, mode)
            yield
        finally:
            os.close(descriptor)

    def _relative(self, file: offline.StagedFile) -> tuple[str, str]:
        return (
            file.temporary.relative_to(self.root).as_posix(),
            file.final.relative_to(self.root).as_posix(),
        )

    def _group(self, name: Any, missing: Callable[[Any], FeatureStoreError]) -> FeatureGroup:
        group = self._groups.get(name) if isinstance(name, str) else None
        if group is None:
            # Another FeatureStore on the same root (another thread or process) may have made it.
            self._reload_groups()
            group = self._groups.get(name) if isinstance(name, str) else None
            if group is None:
                raise missing(name)
        return group

    def _reload_groups(self) -> None:
        rows = (
            self._connection()
            .execute("SELECT definition, created_at FROM feature_groups")
            .fetchall()
        )
        self._groups = {
            group.name: group
            for group in (
                FeatureGroup(FeatureGroupDefinition.from_json(json.loads(text)), created_at)
                for text, created_at in rows
            )
        }

    def _connection(self) -> sqlite3.Connection:
        try:
            return self._local.connection
        except AttributeError:
            pass
        # Autocommit mode (isolation_level=None): reads need no transaction, and writes open
        # their own with BEGIN IMMEDIATE in `_transaction`.
        connection = sqlite3.connect(
            self._database, isolation_level=None, check_same_thread=False, cached_statements=64
        )
        connection.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable across process crashes in WAL mode; only power loss can drop the
        # last transactions, an acceptable trade for a developer's emulator.
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA busy_timeout=10000")
        with self._connections_lock:
            self._connections.append(connection)
        self._local.connection = connection
        return connection

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        connection = self._connection()
        with self._write_lock:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")


@dataclass(frozen=True)
class Ingested:
    """What a CSV load did: `records` written, and `expired` identifiers whose latest record
    is already past the online store's TTL (event time + TTL), which GetRecord does not
    return, as in SageMaker; the offline store keeps every record."""

    records: int
    expired: int = 0
    # Records the offline store already held (same identifier, event time and values):
    # not appended again.
    offline_held: int = 0


# An offline row, with the (identifier, event time, digest) of the record it holds; None for
# a deletion marker, which is no record.
_Row = tuple[offline.OfflineRow, tuple[str, int, str] | None]


def _offline_row(parsed: ParsedRecord) -> _Row:
    digest = hashlib.blake2b(
        _encode(sorted(parsed.typed.items())).encode(), digest_size=16
    ).hexdigest()
    return (
        offline.OfflineRow(parsed.typed, parsed.event_date),
        (parsed.identifier, parsed.event_time_us, digest),
    )


def _unwritten(connection: sqlite3.Connection, group_name: str, rows: list[_Row]) -> list[_Row]:
    """`rows` less those whose record the offline store holds already (or earlier in `rows`)."""
    written = {(r, t): d for r, t, d in connection.execute(_WRITTEN, (group_name,))}
    kept = []
    for row, key in rows:
        if key is not None:
            if written.get(key[:2]) == key[2]:
                continue
            written[key[:2]] = key[2]
        kept.append((row, key))
    return kept


def _upsert(online_rows: list[tuple[Any, ...]]) -> Callable[[sqlite3.Connection], None]:
    def write(connection: sqlite3.Connection) -> None:
        if online_rows:
            connection.executemany(_UPSERT, online_rows)

    return write


def _expired_identifiers(online_rows: list[tuple[Any, ...]], now: float) -> int:
    latest: dict[str, tuple[int, int | None]] = {}
    for _, identifier, event_time_us, expires_at_us, _, _ in online_rows:
        if identifier not in latest or event_time_us >= latest[identifier][0]:
            latest[identifier] = (event_time_us, expires_at_us)
    now_us = _micros(now)
    return sum(1 for _, expires in latest.values() if expires is not None and expires <= now_us)


def _online_row(
    group: FeatureGroup, parsed: ParsedRecord, ttl_seconds: int | None, now: float
) -> tuple[Any, ...]:
    ttl = ttl_seconds if ttl_seconds is not None else group.definition.online_ttl_seconds
    # A TTL may reach past the last moment a date can name (2**31 - 1 weeks is 41 million
    # years): such a record expires at the end of year 9999, which is never in practice.
    expires_at_us = None if ttl is None else min(parsed.event_time_us + ttl * 1_000_000, _LAST_US)
    record = _encode(
        [{"FeatureName": name, "ValueAsString": value} for name, value in parsed.values.items()]
    )
    return (
        group.name,
        parsed.identifier,
        parsed.event_time_us,
        expires_at_us,
        record,
        _micros(now),
    )


def _targets(group: FeatureGroup, target_stores: Sequence[str] | None) -> tuple[bool, bool]:
    definition = group.definition
    if target_stores is None:
        return definition.online, definition.offline
    for store in target_stores:
        if store not in TARGET_STORES:
            raise FeatureStoreError(
                "ValidationError", f"TargetStores value {store!r} must be one of {TARGET_STORES}"
            )
        enabled = definition.online if store == "OnlineStore" else definition.offline
        if not enabled:
            raise FeatureStoreError(
                "ValidationError", f"feature group {definition.name!r} has no {store}"
            )
    return "OnlineStore" in target_stores, "OfflineStore" in target_stores


def _check_header(group: FeatureGroup, source: str, header: list[str]) -> None:
    definition = group.definition
    refused = f"{source}: nothing was ingested:"
    for name in header:
        if name not in definition.features:
            raise FeatureStoreError(
                "ValidationError",
                f"{refused} column {name!r} is not a feature of group {definition.name!r}",
            )
    if len(set(header)) != len(header):
        raise FeatureStoreError("ValidationError", f"{refused} the header repeats a column")
    for required in (definition.record_identifier, definition.event_time):
        if required not in header:
            raise FeatureStoreError(
                "ValidationError", f"{refused} required column {required!r} is missing"
            )


# 9999-12-31T23:59:59.999Z, the last instant `_iso` can write, in microseconds.
_LAST_US = int(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()) * 1_000_000 + 999_000


def _micros(seconds: float) -> int:
    return int(seconds * 1_000_000)


def _iso(micros: int) -> str:
    # Integer arithmetic: a float of seconds loses the last microseconds near year 9999.
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# The runtime model gives GetRecord ResourceNotFound (404); PutRecord and DeleteRecord model no
# ResourceNotFound, and AWS answers them with a ValidationError saying "Resource Not Found"
# (seen in aws/sagemaker-python-sdk#2606). The control plane's ResourceNotFound is a plain 400.
def _runtime_not_found(name: Any) -> FeatureStoreError:
    return FeatureStoreError("ResourceNotFound", f"feature group {name!r} not found", 404)


def _validation_not_found(name: Any) -> FeatureStoreError:
    return FeatureStoreError(
        "ValidationError",
        f"Resource Not Found: Amazon SageMaker can't find a FeatureGroup with name {name!r}",
    )


def _control_plane_not_found(name: Any) -> FeatureStoreError:
    return FeatureStoreError("ResourceNotFound", f"feature group {name!r} not found", 400)
