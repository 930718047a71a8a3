"""Bronze objects into PostgreSQL schema `bronze`: each object once, each record once.

The first step of the lakehouse refresh (the DAG calls `load_new`). Only objects of *complete*
batch files are loaded (a pending batch is not yet Bronze, see lake/sink.py). The manifest
`bronze.load_manifest` holds each loaded object's name and etag and its batch file. Per partition,
only batch files after the last one loaded are read (their keys sort by offset), so a refresh costs
what is new, not the whole history. A batch's objects are loaded in one transaction with their
manifest rows, so a half-loaded batch is rolled back; rows are keyed by their Kafka coordinates, so
loading twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from psycopg import Connection, sql

from fraudlake.contract import Rejection
from fraudlake.platform.minio import read_object, read_object_and_etag
from fraudlake.topics import BRONZE_SCHEMA, bronze_table
from fraudlake_lake import bronze
from fraudlake_lake.bronze import Batch

MANIFEST = "load_manifest"
FETCHERS = 4
"""Objects of one batch fetched from MinIO at once (a backfill batch spans many event hours)."""
KAFKA_SQL = {
    "kafka_topic": "text not null",
    "kafka_partition": "integer not null",
    "kafka_offset": "bigint not null",
    "kafka_key": "bytea",
    "kafka_timestamp": "timestamptz not null",
    "ingested_at": "timestamptz not null",
    "contract_error": "text",
    "raw_value": "bytea",
}
KEY = ("kafka_topic", "kafka_partition", "kafka_offset")


def columns(kind: str) -> dict[str, str]:
    """The Bronze table of a platform topic: the contract's columns, nullable (rejected records
    have none), then the Kafka columns."""
    contract = {
        name: kind_sql.removesuffix(" not null")
        for name, kind_sql in bronze.RECORDS[kind].sql_columns().items()
    }
    assert tuple(KAFKA_SQL) == bronze.KAFKA_COLUMNS
    return {**contract, **KAFKA_SQL}


LOADED_AT = "timestamptz not null default now()"
"""When a row was (re)loaded: Silver's incremental runs pick up rows loaded since their last run."""
ADDED_COLUMNS = {
    # manifests from before batch_key: their objects are read again once (upserts change nothing)
    MANIFEST: {"batch_key": "text not null default ''"},
    "*": {"loaded_at": LOADED_AT},
}
"""Columns added after tables first existed, per table (`*`: every Bronze table)."""


def ensure_tables(conn: Connection[Any], kind: str, schema: str = BRONZE_SCHEMA) -> None:
    """Create the schema, the manifest and the topic's table, and add what an older version lacks.
    DDL runs only for what is missing: an ALTER takes an exclusive lock even when it changes
    nothing, and would queue behind every reader of the table (dbt, dashboards) and block them."""
    table = bronze_table(kind)
    conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    conn.execute(
        sql.SQL(
            "create table if not exists {} (object_name text primary key, etag text not null, "
            "table_name text not null, rows bigint not null, loaded_at timestamptz not null default now(), "
            "batch_key text not null default '')"
        ).format(sql.Identifier(schema, MANIFEST))
    )
    conn.execute(
        sql.SQL("create table if not exists {} ({}, loaded_at " + LOADED_AT + ", primary key ({}))").format(
            sql.Identifier(schema, table),
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in columns(kind).items()
            ),
            sql.SQL(", ").join(map(sql.Identifier, KEY)),
        )
    )
    for name, added in ((MANIFEST, ADDED_COLUMNS[MANIFEST]), (table, ADDED_COLUMNS["*"])):
        present = {
            row[0]
            for row in conn.execute(
                "select column_name from information_schema.columns "
                "where table_schema = %s and table_name = %s",
                (schema, name),
            )
        }
        for column, definition in added.items():
            if column not in present:
                conn.execute(
                    sql.SQL("alter table {} add column {} " + definition).format(
                        sql.Identifier(schema, name), sql.Identifier(column)
                    )
                )
    for column in ("loaded_at", "payment_id"):
        index = f"{table}_{column}"
        if column in {*columns(kind), "loaded_at"} and conn.execute(
            "select to_regclass(%s) is null", (f'"{schema}"."{index}"',)
        ).fetchone() == (True,):
            conn.execute(
                sql.SQL("create index {} on {} ({})").format(
                    sql.Identifier(index), sql.Identifier(schema, table), sql.Identifier(column)
                )
            )


@dataclass(frozen=True)
class Loaded:
    objects: int
    rows: int
    skipped: int
    """objects of these topics loaded by earlier runs"""


def load_new(
    conn: Connection[Any],
    client: Any,
    topics: Mapping[str, str] | None = None,
    bucket: str = bronze.BUCKET,
    schema: str = BRONZE_SCHEMA,
) -> Loaded:
    """Load every object of a complete batch that the manifest does not hold with its etag; each
    object in its own transaction (so `conn` must be in autocommit mode). A topic's rows go to the
    table of the platform topic it carries (`topics`: topic read -> platform topic)."""
    assert conn.autocommit, "each object commits on its own: open the connection with autocommit"
    kinds = dict(topics or {topic: topic for topic in bronze.RECORDS})
    for kind in set(kinds.values()):
        with conn.transaction():
            ensure_tables(conn, kind, schema)
    manifest = sql.Identifier(schema, MANIFEST)
    objects = rows = 0
    for topic, kind in kinds.items():
        for batch in _new_batches(conn, client, bucket, manifest, topic):
            with ThreadPoolExecutor(FETCHERS) as pool:
                fetched = list(
                    pool.map(lambda name: read_object_and_etag(client, bucket, name), batch.objects)
                )
            with conn.transaction():
                for name, (data, etag) in zip(batch.objects, fetched, strict=True):
                    rows += _load_object(conn, schema, kind, batch, name, etag, data)
                    objects += 1
    tables = list({bronze_table(kind) for kind in kinds.values()})
    in_manifest = conn.execute(
        sql.SQL("select count(*) from {} where table_name = any(%s)").format(manifest), (tables,)
    ).fetchone()
    return Loaded(objects, rows, skipped=(in_manifest[0] if in_manifest else 0) - objects)


def _new_batches(
    conn: Connection[Any], client: Any, bucket: str, manifest: sql.Identifier, topic: str
) -> list[Batch]:
    """The complete batch files of `topic` after the last one loaded, per partition, in order (the
    sink writes a partition's batches one after the other, so a pending one is the last)."""
    found: list[Batch] = []
    root = f"{bronze.BATCHES}/{topic}/"
    for folder in client.list_objects(bucket, prefix=root):
        partition = int(folder.object_name[len(root) :].strip("/"))
        prefix = bronze.batch_prefix(topic, partition)
        last = conn.execute(
            sql.SQL("select max(batch_key) from {} where starts_with(batch_key, %s)").format(manifest),
            (prefix,),
        ).fetchone()
        for entry in client.list_objects(bucket, prefix=prefix, start_after=last[0] if last else None):
            batch = Batch.from_json(read_object(client, bucket, entry.object_name))
            if batch.state != "complete":
                break
            found.append(batch)
    return found


def contract_errors(kind: str, table: Any) -> list[str | None]:
    """Bronze's `contract_error` (unreadable records) completed with what the contract refuses in a
    readable record's values (a negative amount, an unknown currency, a time in the future), checked
    by the contract itself: Silver keeps only records the contract accepts. The sink leaves this out
    to stay fast; the loader runs every few minutes, off the hot path."""
    record = bronze.RECORDS[kind]
    errors: list[str | None] = table.column("contract_error").to_pylist()
    received = [int(t.timestamp() * 1000) for t in table.column("kafka_timestamp").to_pylist()]
    rows = zip(*(table.column(n).to_pylist() for n in record.names), strict=True)
    for index, row in enumerate(rows):
        if errors[index] is None:
            fields = {
                c.name: int(v.timestamp() * 1000) if c.timestamp_ms and v is not None else v
                for c, v in zip(record.columns, row, strict=True)
            }
            verdict = record.from_dict(fields, now_ms=received[index])
            if isinstance(verdict, Rejection):
                errors[index] = verdict.reason
    return errors


def _load_object(
    conn: Connection[Any], schema: str, kind: str, batch: Batch, name: str, etag: str, data: bytes
) -> int:
    """One object's rows and its manifest row, inside the caller's (the batch's) transaction."""
    table = bronze.read_parquet(data)
    names = list(columns(kind))
    values = [table.column(n).to_pylist() for n in names]
    values[names.index("contract_error")] = contract_errors(kind, table)
    target = sql.Identifier(schema, bronze_table(kind))
    column_list = sql.SQL(", ").join(map(sql.Identifier, names))
    updates = sql.SQL(", ").join(
        [sql.SQL("{0} = excluded.{0}").format(sql.Identifier(n)) for n in names if n not in KEY]
        + [sql.SQL("loaded_at = now()")]
    )
    conn.execute(sql.SQL("create temporary table incoming (like {} including defaults)").format(target))
    with conn.cursor().copy(sql.SQL("copy incoming ({}) from stdin").format(column_list)) as copy:
        for row in zip(*values, strict=True):
            copy.write_row(row)
    conn.execute(
        sql.SQL("insert into {} ({}) select {} from incoming on conflict ({}) do update set {}").format(
            target, column_list, column_list, sql.SQL(", ").join(map(sql.Identifier, KEY)), updates
        )
    )
    conn.execute("drop table incoming")
    conn.execute(
        sql.SQL(
            "insert into {} (object_name, etag, batch_key, table_name, rows) values (%s, %s, %s, %s, %s) "
            "on conflict (object_name) do update set etag = excluded.etag, batch_key = excluded.batch_key, "
            "rows = excluded.rows, "
            "loaded_at = now()"
        ).format(sql.Identifier(schema, MANIFEST)),
        (name, etag, batch.key, bronze_table(kind), table.num_rows),
    )
    return int(table.num_rows)
