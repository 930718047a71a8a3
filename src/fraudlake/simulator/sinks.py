"""Where simulated traffic goes: Kafka topics, Parquet files, and the customer table in PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from psycopg import Connection, sql

from fraudlake.contract import CUSTOMER_PROFILE, RecordType
from fraudlake.simulator.population import Customer


class KafkaSink:
    """An idempotent, batching producer (librdkafka): replay mode is limited by Kafka, not by us."""

    def __init__(self, bootstrap: str) -> None:
        from confluent_kafka import Producer

        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 20,
                "batch.size": 1_000_000,
                "compression.type": "lz4",
                "queue.buffering.max.messages": 500_000,
                "client.id": "fraudlake-simulator",
                "delivery.report.only.error": True,
                "on_delivery": self._on_delivery,
            }
        )
        self.errors: list[str] = []
        self._unpolled = 0

    def _on_delivery(self, error: Any, _message: Any) -> None:
        """Called for failed records only (delivery.report.only.error): a Python call per record
        costs a fifth of the producer's throughput."""
        if error is not None:
            self.errors.append(str(error))

    def send(self, topic: str, key: str, value: bytes, timestamp_ms: int) -> None:
        while True:
            try:
                self._producer.produce(
                    topic,
                    value=value,
                    key=key.encode(),
                    timestamp=timestamp_ms,
                    on_delivery=self._on_delivery,
                )
                break
            except BufferError:
                self._producer.poll(0.05)
        self._producer.poll(0)

    def close(self) -> None:
        remaining = self._producer.flush(60)
        if remaining:
            self.errors.append(f"{remaining} records still undelivered after 60 s")
        if self.errors:
            raise RuntimeError(f"Kafka delivery failed for {len(self.errors)} records: {self.errors[0]}")


class ParquetSink:
    """Rows of one record type, written in row groups as they come (bounded memory)."""

    def __init__(self, path: Path, record_type: RecordType[Any], batch: int = 100_000) -> None:
        import pyarrow.parquet as pq

        path.parent.mkdir(parents=True, exist_ok=True)
        self._type = record_type
        self._writer = pq.ParquetWriter(str(path), record_type.arrow_schema(), compression="zstd")
        self._rows: list[Any] = []
        self._batch = batch
        self.written = 0

    def add(self, record: Any) -> None:
        self._rows.append(record)
        if len(self._rows) >= self._batch:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            self._writer.write_table(self._type.to_arrow(self._rows))
            self.written += len(self._rows)
            self._rows = []

    def close(self) -> None:
        self._flush()
        self._writer.close()


TRUTH_COLUMNS = ("payment_id", "customer_id", "is_fraud", "scenario", "event_time")


class TruthSink:
    """Ground truth per payment: is it fraud, and which scenario or legitimate persona made it."""

    def __init__(self, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        path.parent.mkdir(parents=True, exist_ok=True)
        self._schema = pa.schema(
            [
                pa.field("payment_id", pa.string(), nullable=False),
                pa.field("customer_id", pa.string(), nullable=False),
                pa.field("is_fraud", pa.bool_(), nullable=False),
                pa.field("scenario", pa.string(), nullable=False),
                pa.field("event_time", pa.timestamp("ms", tz="UTC"), nullable=False),
            ]
        )
        self._writer = pq.ParquetWriter(str(path), self._schema, compression="zstd")
        self._columns: dict[str, list[Any]] = {name: [] for name in TRUTH_COLUMNS}

    def add(self, payment_id: str, customer_id: str, is_fraud: bool, scenario: str, event_time: int) -> None:
        for name, value in zip(
            TRUTH_COLUMNS, (payment_id, customer_id, is_fraud, scenario, event_time), strict=True
        ):
            self._columns[name].append(value)
        if len(self._columns["payment_id"]) >= 100_000:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self._columns["payment_id"]:
            self._writer.write_table(pa.Table.from_pydict(self._columns, schema=self._schema))
            self._columns = {name: [] for name in TRUTH_COLUMNS}

    def close(self) -> None:
        self._flush()
        self._writer.close()


def customer_table_ddl() -> sql.Composed:
    schema, table = CUSTOMER_PROFILE.cls.TABLE.split(".")
    columns = [
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind))
        for name, kind in CUSTOMER_PROFILE.sql_columns().items()
    ]
    return sql.SQL("create table if not exists {} ({}, primary key ({}))").format(
        sql.Identifier(schema, table), sql.SQL(", ").join(columns), sql.Identifier(CUSTOMER_PROFILE.cls.KEY)
    )


def write_customers(conn: Connection[Any], customers: list[Customer]) -> int:
    """Upsert the customer base into `ops.customer_profiles` (idempotent for a given seed)."""
    schema, table = CUSTOMER_PROFILE.cls.TABLE.split(".")
    target = sql.Identifier(schema, table)
    names = CUSTOMER_PROFILE.names
    timestamps = {c.name for c in CUSTOMER_PROFILE.columns if c.timestamp_ms}
    with conn.transaction():
        conn.execute(customer_table_ddl())
        conn.execute(sql.SQL("create temporary table incoming (like {}) on commit drop").format(target))
        with conn.cursor().copy(
            sql.SQL("copy incoming ({}) from stdin").format(sql.SQL(", ").join(map(sql.Identifier, names)))
        ) as copy:
            for customer in customers:
                profile = customer.profile
                copy.write_row(
                    [
                        datetime.fromtimestamp(getattr(profile, n) / 1000, UTC)
                        if n in timestamps
                        else getattr(profile, n)
                        for n in names
                    ]
                )
        updates = sql.SQL(", ").join(
            sql.SQL("{} = excluded.{}").format(sql.Identifier(n), sql.Identifier(n)) for n in names[1:]
        )
        conn.execute(
            sql.SQL("insert into {} select * from incoming on conflict ({}) do update set {}").format(
                target, sql.Identifier(CUSTOMER_PROFILE.cls.KEY), updates
            )
        )
    return len(customers)
