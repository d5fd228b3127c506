"""CloudWatch's metric store: per-minute statistics of every metric, in memory and in the store.

A metric is a namespace, a name and a set of dimensions (`MetricKey`). Each value recorded
goes into the statistics of its minute (`Bucket`: sample count, sum, minimum, maximum, and up
to `MAX_SAMPLES` of the values themselves for percentiles), never into a list of raw points,
so recording costs a dict lookup and a few additions under a lock: this is on the path of
every InvokeEndpoint (`record_invocation`). Minutes are written to the
control plane's store (`flush`, on the scheduler) as one record per metric and minute, so a
restarted emulator still answers for them; `RETENTION` of minutes are kept.

Statistics over any period made of whole minutes (`statistics`) combine the buckets: sums and
counts add, extremes compare, and percentiles are read from the pooled samples, exact while a
period holds at most `MAX_SAMPLES` values a minute. Timestamps come from the emulator's
`Clock`, which a demo may speed up.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from mlinfra.emulator.kit.clock import Clock
from mlinfra.emulator.store import Store

RESOLUTION = 60  # seconds a bucket covers: CloudWatch's standard resolution
MAX_SAMPLES = 1000  # values a bucket keeps for percentiles (a uniform reservoir past that)
RETENTION = 24 * 60  # minutes of buckets kept, in memory and in the store
KIND = "metric-minute"  # the store's kind of one metric's statistics over one minute
CLOCK = ("metric-clock", "now")  # where the clock had got to when metrics were last written
SAGEMAKER = "AWS/SageMaker"

# SageMaker's invocation metrics (AWS docs, "Amazon SageMaker AI metrics in Amazon
# CloudWatch": latencies in microseconds, the others counts).
INVOCATION_METRICS = {
    "Invocations": "None",
    "InvocationsPerInstance": "None",
    "Invocation4XXErrors": "None",
    "Invocation5XXErrors": "None",
    "ModelLatency": "Microseconds",
    "OverheadLatency": "Microseconds",
}


@dataclass(frozen=True)
class MetricKey:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]  # sorted by name

    @classmethod
    def of(cls, namespace: str, name: str, dimensions: Iterable[dict] | None) -> MetricKey:
        pairs = sorted((d["Name"], d["Value"]) for d in dimensions or ())
        return cls(namespace, name, tuple(pairs))

    def as_metric(self) -> dict:
        """As ListMetrics and MetricStat have it."""
        return {
            "Namespace": self.namespace,
            "MetricName": self.name,
            "Dimensions": [{"Name": n, "Value": v} for n, v in self.dimensions],
        }

    @property
    def store_name(self) -> str:
        dims = ",".join(f"{n}={v}" for n, v in self.dimensions)
        return f"{self.namespace}|{self.name}|{dims}"


@dataclass
class Bucket:
    """The statistics of one metric over one minute."""

    count: float = 0.0
    total: float = 0.0
    low: float = math.inf
    high: float = -math.inf
    unit: str = "None"
    samples: list[float] = field(default_factory=list)
    seen: int = 0  # values offered to `samples`, for the reservoir

    def add(self, value: float, count: float = 1.0) -> None:
        self.count += count
        self.total += value * count
        if value < self.low:
            self.low = value
        if value > self.high:
            self.high = value
        self.sample(value)

    def sample(self, value: float) -> None:
        """Keep `value` for percentiles, or not: Algorithm R, so each value of the minute
        has the same chance of being among the MAX_SAMPLES kept."""
        self.seen += 1
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append(value)
        else:
            slot = int(random.random() * self.seen)  # noqa: S311 - sampling, not security
            if slot < MAX_SAMPLES:
                self.samples[slot] = value

    def add_statistics(self, count: float, total: float, low: float, high: float) -> None:
        """PutMetricData's StatisticValues: a set of values already summarised."""
        self.count += count
        self.total += total
        self.low = min(self.low, low)
        self.high = max(self.high, high)
        if count:
            self.sample(total / count)

    def as_record(self) -> list:
        return [self.count, self.total, self.low, self.high, self.unit, self.samples, self.seen]

    @classmethod
    def from_record(cls, fields: list) -> Bucket:
        count, total, low, high, unit, samples, seen = fields
        return cls(count, total, low, high, unit, list(samples), seen)


class Metrics:
    """Every metric of one emulator: recorded in memory, read back, written to the store."""

    def __init__(self, store: Store, clock: Clock, enabled: bool = True) -> None:
        """`enabled=False` records no invocation metrics (what the benchmark compares with)."""
        self.store = store
        self.clock = clock
        self.enabled = enabled
        self._lock = threading.Lock()
        self._buckets: dict[MetricKey, dict[int, Bucket]] = {}
        self._dirty: set[tuple[MetricKey, int]] = set()  # minutes PutMetricData wrote
        self._flushed = 0  # the clock's time at the last flush
        self._invocation_keys: dict[tuple[str, str], tuple[MetricKey, ...]] = {}
        for record in store.all(KIND):
            key = MetricKey(record["Namespace"], record["MetricName"], _pairs(record))
            bucket = Bucket.from_record(record["Bucket"])
            self._buckets.setdefault(key, {})[int(record["Minute"])] = bucket

    # --- recording -------------------------------------------------------------------------

    def record_invocation(
        self,
        endpoint: str,
        variant: str,
        model_seconds: float,
        overhead_seconds: float,
        instances: int,
        status: int = 200,
    ) -> None:
        """One InvokeEndpoint's metrics, as SageMaker publishes them for the variant: the
        error counts are published as 0 for a success, so rates over them have data."""
        if not self.enabled:
            return
        keys = self._invocation_keys.get((endpoint, variant))
        if keys is None:
            dims = (("EndpointName", endpoint), ("VariantName", variant))
            keys = tuple(MetricKey(SAGEMAKER, name, dims) for name in INVOCATION_METRICS)
            self._invocation_keys[(endpoint, variant)] = keys
        invocations, per_instance, four, five, model, overhead = keys
        error = status >= 400
        values = (
            (invocations, 1.0),
            (per_instance, 1.0 / max(1, instances)),
            (four, 1.0 if 400 <= status < 500 else 0.0),
            (five, 1.0 if status >= 500 else 0.0),
        )
        minute = int(self.clock.now()) // RESOLUTION * RESOLUTION
        with self._lock:
            for key, value in values:
                # Counts: statistics without samples (a percentile of a count is not kept),
                # written out here rather than through `add`: this runs on every invocation.
                bucket = self._bucket(key, minute, "None")
                bucket.count += 1.0
                bucket.total += value
                if value < bucket.low:
                    bucket.low = value
                if value > bucket.high:
                    bucket.high = value
            if not error:  # a failed invocation has no model latency to report
                self._bucket(model, minute, "Microseconds").add(model_seconds * 1e6)
                self._bucket(overhead, minute, "Microseconds").add(overhead_seconds * 1e6)

    def put(
        self,
        key: MetricKey,
        when: float,
        values: list[tuple[float, float]],
        unit: str = "None",
        statistics: dict | None = None,
    ) -> None:
        """PutMetricData's values (value, count) or StatisticValues at time `when`."""
        minute = int(when) // RESOLUTION * RESOLUTION
        with self._lock:
            bucket = self._bucket(key, minute, unit)
            self._dirty.add((key, minute))  # any minute, however old
            for value, count in values:
                bucket.add(value, count)
            if statistics:
                bucket.add_statistics(
                    statistics["SampleCount"],
                    statistics["Sum"],
                    statistics["Minimum"],
                    statistics["Maximum"],
                )

    def _bucket(self, key: MetricKey, minute: int, unit: str) -> Bucket:
        minutes = self._buckets.get(key)
        if minutes is None:
            minutes = self._buckets[key] = {}
        bucket = minutes.get(minute)
        if bucket is None:
            bucket = minutes[minute] = Bucket(unit=unit)
        return bucket

    # --- reading ---------------------------------------------------------------------------

    def keys(self) -> list[MetricKey]:
        with self._lock:
            return sorted(self._buckets, key=lambda k: (k.namespace, k.name, k.dimensions))

    def statistics(
        self, key: MetricKey, start: float, end: float, period: int
    ) -> dict[int, Bucket]:
        """The buckets of `key` combined per `period` seconds (a multiple of a minute), by
        each period's start, for periods starting in [start, end)."""
        period = max(RESOLUTION, period // RESOLUTION * RESOLUTION)
        found: dict[int, Bucket] = {}
        with self._lock:
            minutes = dict(self._buckets.get(key, {}))
        for minute, bucket in minutes.items():
            slot = minute // period * period
            if not start <= slot < end or bucket.count == 0 and not bucket.samples:
                continue
            combined = found.get(slot)
            if combined is None:
                combined = found[slot] = Bucket(unit=bucket.unit)
            combined.count += bucket.count
            combined.total += bucket.total
            combined.low = min(combined.low, bucket.low)
            combined.high = max(combined.high, bucket.high)
            combined.samples.extend(bucket.samples)
            combined.seen += bucket.seen
        return found

    # --- persistence -----------------------------------------------------------------------

    def flush(self) -> None:
        """Write the minutes changed since the last flush to the store (one record a metric
        and minute, so a flush writes only what changed); forget minutes past RETENTION."""
        now = int(self.clock.now())
        horizon = now - RETENTION * RESOLUTION
        with self._lock:
            # What changed: minutes PutMetricData wrote into, and every minute from the one
            # before the last flush on (recording marks nothing, to stay cheap).
            recent = self._flushed // RESOLUTION * RESOLUTION - RESOLUTION
            changed = set(self._dirty)
            expired = []
            for key, minutes in self._buckets.items():
                for minute in [m for m in minutes if m < horizon]:
                    del minutes[minute]
                    expired.append((key, minute))
                changed.update((key, m) for m in minutes if m >= recent)
            self._dirty = set()
            self._flushed = now
            snapshot = [
                (key, minute, self._buckets[key][minute].as_record())
                for key, minute in changed
                if minute in self._buckets.get(key, {})
            ]
        for key, minute, bucket in snapshot:
            record = {**key.as_metric(), "Minute": minute, "Bucket": bucket}
            self.store.put(KIND, f"{key.store_name}@{minute}", record, float(minute))
        for key, minute in expired:
            self.store.delete(KIND, f"{key.store_name}@{minute}")
        self.store.put(*CLOCK, {"Now": self.clock.now()}, 0.0)


def clock_for(store: Store, scale: float) -> Clock:
    """The metrics' clock, sped up `scale` times, starting no earlier than where the last run
    of the emulator had got to (a sped-up clock runs ahead of the wall clock)."""
    record = store.get(*CLOCK) or {}
    return Clock(scale, since=float(record.get("Now", 0.0)))


def _pairs(record: dict) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((d["Name"], d["Value"]) for d in record.get("Dimensions", [])))


def statistic(bucket: Bucket, name: str) -> float | None:
    """One statistic of a bucket: SampleCount, Sum, Average, Minimum, Maximum, or pNN(.N)."""
    if name == "SampleCount":
        return bucket.count
    if name == "Sum":
        return bucket.total
    if name == "Average":
        return bucket.total / bucket.count if bucket.count else None
    if name == "Minimum":
        return bucket.low if bucket.count else None
    if name == "Maximum":
        return bucket.high if bucket.count else None
    percent = percentile_of(name)
    if percent is not None and bucket.samples:
        ordered = sorted(bucket.samples)
        # Nearest rank, as CloudWatch's percentiles over raw values.
        rank = max(1, math.ceil(percent / 100 * len(ordered)))
        return ordered[rank - 1]
    return None


def percentile_of(name: str) -> float | None:
    """The percent of an extended statistic `p99`, `p99.9`; None for any other name."""
    if len(name) > 1 and name[0] == "p":
        try:
            value = float(name[1:])
        except ValueError:
            return None
        if 0 <= value <= 100 and name[1:].replace(".", "", 1).isdigit():
            return value
    return None
