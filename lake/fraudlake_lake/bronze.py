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
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from fraudlake.contract import (
    ALERT,
    CHARGEBACK,
    DEAD_LETTER,
    DECISION,
    GROUND_TRUTH,
    PAYMENT,
    RecordType,
    Rejection,
)
from fraudlake.topics import CHARGEBACKS, FRAUD_ALERTS, PAYMENT_SCORES, PAYMENTS, PAYMENTS_DLQ
from fraudlake.topics import GROUND_TRUTH as GROUND_TRUTH_TOPIC

BUCKET = "bronze"
BATCHES = "_batches"
HOUR_MS = 3_600_000
ROW_GROUP_ROWS = 250_000
READ_BLOCK_ROWS = 2_000
STORABLE_MS = (0, 253_402_300_799_999)
"""Times from 1970 to 9999-12-31, which Python's datetime (the loader) and PostgreSQL both hold; a
record with a time outside is unreadable here, kept as its raw bytes and the contract's reason."""

RECORDS: dict[str, RecordType[Any]] = {
    PAYMENTS.name: PAYMENT,
    PAYMENT_SCORES.name: DECISION,
    FRAUD_ALERTS.name: ALERT,
    CHARGEBACKS.name: CHARGEBACK,
    PAYMENTS_DLQ.name: DEAD_LETTER,
    GROUND_TRUTH_TOPIC.name: GROUND_TRUTH,
}
"""The contract record of each landed topic."""

EVENT_TIME: dict[str, str | None] = {
    PAYMENTS.name: "event_time",
    PAYMENT_SCORES.name: "event_time",
    FRAUD_ALERTS.name: "event_time",
    CHARGEBACKS.name: "reported_at",
    PAYMENTS_DLQ.name: None,  # the Kafka timestamp: the DLQ keeps the input's
    GROUND_TRUTH_TOPIC.name: "event_time",
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


def remove_topics(client: Any, bucket: str, topics: Iterable[str]) -> None:
    """Every object of `topics` in `bucket`, their Parquet files and their batch files: how the
    tests and benchmarks clean up the private topics they land in `bronze`."""
    for topic in topics:
        for prefix in (f"{topic}/", f"{BATCHES}/{topic}/"):
            for entry in client.list_objects(bucket, prefix=prefix, recursive=True):
                client.remove_object(bucket, entry.object_name)


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
    `kind`, as Arrow tables, one per event hour; each message is one row, readable or not."""
    import pyarrow as pa
    import pyarrow.compute as pc

    assert messages, "a batch has records"
    record = RECORDS[kind]
    target = schema(kind)
    typed, errors = _typed(record, messages)
    rejected = pa.array([e is not None for e in errors])
    columns = [
        _null_where(rejected, typed.column(f.name)).cast(target.field(f.name).type) for f in typed.schema
    ]
    count = len(messages)
    kafka_times = pa.array([m.timestamp_ms for m in messages], pa.int64())
    columns += [
        pa.array([topic] * count, pa.string()),
        pa.array([m.partition for m in messages], pa.int32()),
        pa.array([m.offset for m in messages], pa.int64()),
        pa.array([m.key for m in messages], pa.binary()),
        kafka_times.cast(pa.timestamp("ms", tz="UTC")),
        pa.array([ingested_at] * count, pa.timestamp("ms", tz="UTC")),
        pa.array(errors, pa.string()),
        pa.array(
            [m.value if e is not None else None for m, e in zip(messages, errors, strict=True)], pa.binary()
        ),
    ]
    table = pa.Table.from_arrays(columns, schema=target)
    event_time = EVENT_TIME[kind]
    when = kafka_times
    if event_time is not None:
        when = pc.coalesce(_null_where(rejected, typed.column(event_time)), kafka_times)
    hours = pc.divide(when, HOUR_MS)
    distinct = sorted(pc.unique(hours).to_pylist())
    if len(distinct) == 1:
        return {distinct[0]: table}
    return {hour: table.filter(pc.equal(hours, hour)) for hour in distinct}


def _null_where(mask: Any, column: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.if_else(mask, pa.scalar(None, column.type), column)


def _json_schema(record: RecordType[Any]) -> Any:
    """The contract's Arrow schema as Arrow's JSON reader reads it: times are epoch-ms numbers."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field(f.name, pa.int64() if pa.types.is_timestamp(f.type) else f.type)
            for f in record.arrow_schema()
        ]
    )


def _typed(record: RecordType[Any], messages: list[Message]) -> tuple[Any, list[str | None]]:
    """The values in the contract's types, read by Arrow's JSON reader (~5x faster than the
    contract's Python parse), one row per message, and per message why it could not be read (None:
    read); those are worded by the contract's own parse."""
    import pyarrow as pa
    import pyarrow.compute as pc

    json_schema = _json_schema(record)
    required = [f.name for f in record.arrow_schema() if not f.nullable]
    values: list[bytes] = []
    errors: list[str | None] = [None] * len(messages)
    for index, message in enumerate(messages):
        value = message.value
        if value is None or not _arrow_safe(value):
            value = _rewritten(record, value)
            if value is None:
                errors[index] = _reason(record, message)
                value = b"{}"
        values.append(value)
    no_row = pa.table({f.name: pa.nulls(1, f.type) for f in json_schema})

    def read_one(index: int) -> Any:
        table = _read_lines([values[index]], json_schema)
        if table is None and (rewritten := _rewritten(record, values[index])) is not None:
            table = _read_lines([rewritten], json_schema)  # e.g. an unknown field Arrow cannot read
        if table is None:
            errors[index] = errors[index] or _reason(record, messages[index])
            return no_row
        return table

    def read_block(low: int, high: int) -> Any:
        table = _read_lines(values[low:high], json_schema)
        if table is not None:
            return table
        # Some line is unreadable: the contract's parse names suspects (what it refuses), Arrow reads
        # the others at once and each suspect alone (a refused amount or currency is still typed).
        suspects = {i for i in range(low, high) if isinstance(record.parse_values(values[i]), Rejection)}
        clean = [i for i in range(low, high) if i not in suspects]
        rest = _read_lines([values[i] for i in clean], json_schema) if clean else json_schema.empty_table()
        if rest is None:
            return pa.concat_tables([read_one(i) for i in range(low, high)])
        ordered = sorted(suspects)
        position = {index: n for n, index in enumerate(clean + ordered)}
        parts = pa.concat_tables([rest, *(read_one(i) for i in ordered)])
        return parts.take(pa.array([position[i] for i in range(low, high)]))

    pieces = [
        read_block(start, min(start + READ_BLOCK_ROWS, len(values)))
        for start in range(0, len(values), READ_BLOCK_ROWS)
    ]
    typed = pa.concat_tables(pieces)
    refused = [typed.column(name).is_null() for name in required]
    for column in record.columns:  # e.g. year 292 million: no datetime can hold it, nor place the row
        if column.timestamp_ms:
            times = typed.column(column.name)
            outside = pc.or_(pc.less(times, STORABLE_MS[0]), pc.greater(times, STORABLE_MS[1]))
            refused.append(pc.fill_null(outside, False))
    for mask in refused:
        for index in pc.indices_nonzero(mask.combine_chunks()).to_pylist():
            errors[index] = errors[index] or _reason(record, messages[index])
    return typed, errors


def _arrow_safe(value: bytes) -> bool:
    """Whether Arrow's JSON reader may read `value` as one line and type it as the contract would;
    any other value is read by the contract first. Each case was found by fuzzing
    (tests/unit/test_fuzzing.py): Arrow reads one record per line, crashes the process (SIGSEGV,
    pyarrow 26) on a document whose first line is `null`, passes invalid UTF-8 into string columns
    (the loader then cannot decode them) and unescapes NUL, which PostgreSQL's text refuses."""
    if b"\n" in value or b"\r" in value or b"\\u0000" in value or not value.lstrip().startswith(b"{"):
        return False
    if value.isascii():
        return True
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _rewritten(record: RecordType[Any], value: bytes | None) -> bytes | None:
    """A value the contract reads, in the contract's own JSON (one line, UTF-8, only its fields),
    which Arrow reads as the contract did; None if the contract refuses it."""
    if value is None:
        return None
    parsed = record.parse(value)
    return None if isinstance(parsed, Rejection) else record.to_json(parsed)


def _read_lines(lines: list[bytes], json_schema: Any) -> Any:
    import pyarrow as pa
    import pyarrow.json as pj

    try:
        table = pj.read_json(
            io.BytesIO(b"\n".join(lines)),
            read_options=pj.ReadOptions(use_threads=False),
            parse_options=pj.ParseOptions(explicit_schema=json_schema, unexpected_field_behavior="ignore"),
        )
    except pa.ArrowInvalid:
        return None
    return table.select(json_schema.names) if table.num_rows == len(lines) else None


def _reason(record: RecordType[Any], message: Message) -> str:
    if message.value is None:
        return "empty value (tombstone)"
    parsed = record.parse_values(message.value, now_ms=message.timestamp_ms)
    if isinstance(parsed, Rejection):
        return parsed.reason
    return "not readable as the contract's columns"


def parquet_bytes(table: Any) -> bytes:
    """zstd, row groups sized for scans (one per object at the default flush size)."""
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", row_group_size=ROW_GROUP_ROWS)
    return buffer.getvalue()


def read_parquet(data: bytes) -> Any:
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(data))
