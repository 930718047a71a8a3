"""Bronze batches written as the sink writes them, under private topics in the `bronze` bucket (the
lake's MinIO user reads that bucket only), loaded into a private schema."""

from __future__ import annotations

import io
import uuid
from typing import Any

from psycopg import sql

from fraudlake.platform.airflow import Airflow, Run
from fraudlake.platform.context import Context
from fraudlake.platform.minio import Minio
from fraudlake.platform.postgres import APP_ROLE, SUPERUSER, Postgres
from fraudlake_lake import bronze, loader
from fraudlake_lake.bronze import Batch, Message


class Landed:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        suffix = uuid.uuid4().hex[:8]
        self.topics = {kind: f"test-{kind}-{suffix}" for kind in bronze.RECORDS}
        """platform topic -> the private topic standing in for it"""
        self.bucket = bronze.BUCKET
        self.schema = f"test_bronze_{suffix}"
        self.client = Minio(ctx).client()

    def batch(
        self,
        kind: str,
        partition: int,
        first: int,
        values: list[bytes],
        at: int,
        state: str = "complete",
        ingested_at: int | None = None,
    ) -> Batch:
        """Records with Kafka timestamp `at`, landed at `ingested_at` (default: `at` too)."""
        topic = self.topics[kind]
        messages = [Message(partition, first + n, b"k", at, value) for n, value in enumerate(values)]
        tables = bronze.tables_by_hour(kind, topic, messages, at if ingested_at is None else ingested_at)
        last = messages[-1].offset
        names = {bronze.object_key(topic, partition, first, last, h): t for h, t in tables.items()}
        batch = Batch(topic, partition, first, last, len(messages), tuple(names), at, state)
        for name, table in names.items():
            self.put(name, bronze.parquet_bytes(table))
        self.put(batch.key, batch.to_json())
        return batch

    def put(self, name: str, data: bytes) -> None:
        self.client.put_object(self.bucket, name, io.BytesIO(data), len(data))

    def load(self) -> loader.Loaded:
        with Postgres(self.ctx).connect(APP_ROLE) as conn:
            conn.autocommit = True
            kinds = {topic: kind for kind, topic in self.topics.items()}
            return loader.load_new(conn, self.client, kinds, bucket=self.bucket, schema=self.schema)

    def query(self, statement: sql.Composable, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with Postgres(self.ctx).connect(APP_ROLE) as conn:
            return conn.execute(statement, params).fetchall()

    def drop(self, *schemas: str) -> None:
        with Postgres(self.ctx).connect(SUPERUSER) as conn:  # dbt's schemas are its role's
            for schema in (self.schema, *schemas):
                conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
            conn.commit()
        bronze.remove_topics(self.client, self.bucket, self.topics.values())


def refresh(ctx: Context, landed: Landed, **conf: Any) -> tuple[Run, str]:
    """One lakehouse_refresh run through Airflow's REST API, scoped to the private Bronze."""
    prefix = f"t{landed.schema.rsplit('_', 1)[1]}_"
    conf = {
        "topics": {topic: kind for kind, topic in landed.topics.items()},
        "bucket": landed.bucket,
        "bronze_schema": landed.schema,
        "schema_prefix": prefix,
        **conf,
    }
    airflow = Airflow(ctx)
    run = airflow.wait_for_run("lakehouse_refresh", airflow.trigger("lakehouse_refresh", conf), timeout=900)
    return run, prefix + "gold"
