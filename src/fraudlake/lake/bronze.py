"""Bronze: how Kafka records become Parquet objects in MinIO (layout, columns, batches).

Pure functions, shared by the sink, `fraudlake lake stats`, the tests and the lakehouse loader.

Layout in the `bronze` bucket:
    <topic>/dt=YYYY-MM-DD/hour=HH/<topic>-<partition>-<first offset>-<last offset>.parquet
    _batches/<topic>/<partition>/<first offset>-<last offset>.json

A batch is a run of one partition's records, [first, last]; it is written as one object per event
hour it touches, all with the same file name, so the names are a pure function of (topic, partition,
first, last) and a replay of the batch rewrites the same objects. The batch file is written before
the objects (state "pending") and after them ("complete"): a restarted sink redoes pending batches
exactly, and `lake stats` counts complete ones.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from fraudlake.contract import (
    ALERT,
    CHARGEBACK,
    DEAD_LETTER,
    DECISION,
    PAYMENT,
    RecordType,
    Rejection,
)
from fraudlake.topics import CHARGEBACKS, FRAUD_ALERTS, PAYMENT_SCORES, PAYMENTS, PAYMENTS_DLQ

BUCKET = "bronze"
BATCHES = "_batches"
HOUR_MS = 3_600_000
ROW_GROUP_ROWS = 250_000

RECORDS: dict[str, RecordType[Any]] = {
    PAYMENTS.name: PAYMENT,
    PAYMENT_SCORES.name: DECISION,
    FRAUD_ALERTS.name: ALERT,
    CHARGEBACKS.name: CHARGEBACK,
    PAYMENTS_DLQ.name: DEAD_LETTER,
}
"""The contract record of each landed topic."""

EVENT_TIME: dict[str, str | None] = {
    PAYMENTS.name: "event_time",
    PAYMENT_SCORES.name: "event_time",
    FRAUD_ALERTS.name: "event_time",
    CHARGEBACKS.name: "reported_at",
    PAYMENTS_DLQ.name: None,  # the Kafka timestamp: the DLQ keeps the input's
}
"""The column that places a record in dt/hour; the Kafka timestamp when None or unreadable."""

KAFKA_COLUMNS = (
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
    "kafka_key",
    "kafka_timestamp",
    "ingested_at",
    "contract_error",
    "raw_value",
)


class Message(NamedTuple):
    """One Kafka record as the sink keeps it."""

    partition: int
    offset: int
    key: bytes | None
    timestamp_ms: int
    value: bytes | None


@dataclass(frozen=True)
class Batch:
    """The batch file: what a run of one partition's records was written as."""

    topic: str
    partition: int
    first: int
    last: int
    rows: int
    objects: tuple[str, ...]
    ingested_at: int
    state: str = "pending"

    @property
    def key(self) -> str:
        return batch_key(self.topic, self.partition, self.first, self.last)

    def to_json(self) -> bytes:
        return json.dumps({**asdict(self), "objects": list(self.objects)}, indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Batch:
        fields = json.loads(data)
        return cls(**{**fields, "objects": tuple(fields["objects"])})


def batch_prefix(topic: str, partition: int) -> str:
    return f"{BATCHES}/{topic}/{partition}/"


def batch_key(topic: str, partition: int, first: int, last: int) -> str:
    return f"{batch_prefix(topic, partition)}{first:020d}-{last:020d}.json"


def object_key(topic: str, partition: int, first: int, last: int, hour: int) -> str:
    """The object of a batch's records in event hour `hour` (hours since the epoch)."""
    when = datetime.fromtimestamp(hour * 3600, UTC)
    return f"{topic}/dt={when:%Y-%m-%d}/hour={when:%H}/{topic}-{partition}-{first:020d}-{last:020d}.parquet"


def schema(kind: str) -> Any:
    """The contract's columns (nullable: a record the contract rejects keeps only its Kafka
    columns, its raw value and the reason) followed by the Kafka columns."""
    import pyarrow as pa

    contract = RECORDS[kind].arrow_schema()
    kafka = [
        pa.field("kafka_topic", pa.string(), nullable=False),
        pa.field("kafka_partition", pa.int32(), nullable=False),
        pa.field("kafka_offset", pa.int64(), nullable=False),
        pa.field("kafka_key", pa.binary()),
        pa.field("kafka_timestamp", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("ingested_at", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("contract_error", pa.string(), metadata={"doc": "why the contract rejected it"}),
        pa.field("raw_value", pa.binary(), metadata={"doc": "the value's bytes, when rejected"}),
    ]
    assert tuple(f.name for f in kafka) == KAFKA_COLUMNS
    return pa.schema(
        [f.with_nullable(True) for f in contract] + kafka,
        metadata={**contract.metadata, b"topic": kind.encode()},
    )


def tables_by_hour(kind: str, topic: str, messages: list[Message], ingested_at: int) -> dict[int, Any]:
    """The messages (at least one) of `topic`, which carries the records of the platform topic
    `kind`, as Arrow tables, one per event hour; each message is one row, valid or not."""
    import pyarrow as pa

    assert messages, "a batch has records"
    record = RECORDS[kind]
    target = schema(kind)
    event_time = EVENT_TIME[kind]
    time_index = record.names.index(event_time) if event_time else None
    empty = (None,) * len(record.names)
    rows: list[tuple[Any, ...]] = []
    errors: list[str | None] = []
    raws: list[bytes | None] = []
    hours: list[int] = []
    for message in messages:
        parsed: tuple[Any, ...] | Rejection = (
            record.parse_values(message.value, now_ms=message.timestamp_ms)
            if message.value is not None
            else Rejection("empty value (tombstone)", b"")
        )
        if isinstance(parsed, Rejection):
            rows.append(empty)
            errors.append(parsed.reason)
            raws.append(message.value)
            hours.append(message.timestamp_ms // HOUR_MS)
        else:
            rows.append(parsed)
            errors.append(None)
            raws.append(None)
            at = parsed[time_index] if time_index is not None else message.timestamp_ms
            hours.append(at // HOUR_MS)
    columns: list[Any] = [
        pa.array(values, type=target.field(i).type) for i, values in enumerate(zip(*rows, strict=True))
    ]
    count = len(messages)
    columns += [
        pa.array([topic] * count, pa.string()),
        pa.array([m.partition for m in messages], pa.int32()),
        pa.array([m.offset for m in messages], pa.int64()),
        pa.array([m.key for m in messages], pa.binary()),
        pa.array([m.timestamp_ms for m in messages], pa.timestamp("ms", tz="UTC")),
        pa.array([ingested_at] * count, pa.timestamp("ms", tz="UTC")),
        pa.array(errors, pa.string()),
        pa.array(raws, pa.binary()),
    ]
    table = pa.Table.from_arrays(columns, schema=target)
    groups: dict[int, list[int]] = {}
    for index, hour in enumerate(hours):
        groups.setdefault(hour, []).append(index)
    if len(groups) == 1:
        return {hours[0]: table}
    return {hour: table.take(pa.array(indices)) for hour, indices in sorted(groups.items())}


def parquet_bytes(table: Any) -> bytes:
    """zstd, row groups sized for scans (one per object at the default flush size)."""
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", row_group_size=ROW_GROUP_ROWS)
    return buffer.getvalue()


def read_parquet(data: bytes) -> Any:
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(data))
