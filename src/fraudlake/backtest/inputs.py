"""What a backtest reads: payments, customer profiles and labels, from the contract's Parquet files
(the simulator's `--out`, `--customers-out`, `--truth-out`, `--chargebacks-out`) or from the
platform (Bronze in PostgreSQL, `ops.customer_profiles`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psycopg import sql

from fraudlake.contract import (
    CHARGEBACK,
    GROUND_TRUTH,
    PAYMENT,
    SCHEMA_VERSION,
    Chargeback,
    CustomerProfile,
    GroundTruth,
    Payment,
    RecordType,
)
from fraudlake.rules.batch import read_profiles
from fraudlake.simulator.generator import SimConfig, Simulation, all_customers
from fraudlake.topics import BRONZE_SCHEMA, bronze_table


@dataclass
class History:
    payments: list[Payment]
    profiles: dict[str, CustomerProfile]
    truth: list[GroundTruth] | None = None
    chargebacks: list[Chargeback] = field(default_factory=list)


def _table(path: Path) -> object:
    import pyarrow.parquet as pq

    return pq.read_table(path)


def from_files(
    payments: Path, profiles: Path, truth: Path | None = None, chargebacks: Path | None = None
) -> History:
    return History(
        PAYMENT.from_arrow(_table(payments)),
        read_profiles(profiles),
        GROUND_TRUTH.from_arrow(_table(truth)) if truth else None,
        CHARGEBACK.from_arrow(_table(chargebacks)) if chargebacks else [],
    )


def _bronze(conn: Any, record: RecordType[Any], key: str, schema: str) -> list[Any]:
    """A Bronze table's records as the contract has them: the first landed copy of each `key`
    the contract accepted, times as UTC epoch milliseconds."""
    names = [
        sql.SQL("(extract(epoch from {0}) * 1000)::bigint" if c.timestamp_ms else "{0}").format(
            sql.Identifier(c.name)
        )
        for c in record.columns
    ]
    name = bronze_table(str(record.cls.TOPIC))
    if conn.execute("select to_regclass(%s)", [f'"{schema}"."{name}"']).fetchone()[0] is None:
        return []  # nothing landed yet
    table = sql.Identifier(schema, name)
    query = sql.SQL(
        "select distinct on ({key}) {names} from {table} where contract_error is null "
        "order by {key}, kafka_timestamp, kafka_partition, kafka_offset"
    ).format(key=sql.Identifier(key), names=sql.SQL(", ").join(names), table=table)
    return [record.cls(*row) for row in conn.execute(query).fetchall()]


def from_postgres(conn: Any, schema: str = BRONZE_SCHEMA) -> History:
    """The platform's history: Bronze's payments, chargebacks and simulator truth (as the lakehouse
    loaded them), and the customer profiles the job looks up."""
    from fraudlake.rules.batch import profiles_from_postgres

    truth = _bronze(conn, GROUND_TRUTH, "payment_id", schema)
    return History(
        _bronze(conn, PAYMENT, "payment_id", schema),
        profiles_from_postgres(conn),
        truth or None,
        _bronze(conn, CHARGEBACK, "payment_id", schema),
    )


def from_simulation(config: SimConfig) -> History:
    """A simulated history in memory, as the simulator's files would hold it (benchmarks, tests)."""
    payments, truth, chargebacks = [], [], []
    for item in Simulation(config).items():
        if item.payment is not None:
            p = item.payment
            payments.append(p)
            truth.append(
                GroundTruth(
                    p.payment_id,
                    p.customer_id,
                    item.is_fraud,
                    item.scenario or "",
                    p.event_time,
                    SCHEMA_VERSION,
                )
            )
        elif item.chargeback is not None:
            chargebacks.append(item.chargeback)
    profiles = {c.profile.customer_id: c.profile for c in all_customers(config)}
    return History(payments, profiles, truth, chargebacks)
