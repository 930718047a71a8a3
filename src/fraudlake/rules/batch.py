"""`fraudlake score`: re-score payment history from Parquet, in event-time order, as the stream would."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fraudlake.contract import CUSTOMER_PROFILE, DECISION, PAYMENT, CustomerProfile
from fraudlake.ops import HISTORY_TABLE, PROFILES_MS_VIEW
from fraudlake.parquet import ParquetSink
from fraudlake.rules.history import PriorActivity, score_stream
from fraudlake.rules.ruleset import RuleSet


def read_profiles(path: Path) -> dict[str, CustomerProfile]:
    import pyarrow.parquet as pq

    return {p.customer_id: p for p in CUSTOMER_PROFILE.from_arrow(pq.read_table(path))}


def profiles_from_postgres(conn: Any) -> dict[str, CustomerProfile]:
    """All customer profiles in one query: the batch scorer's equivalent of the job's cached lookup."""
    from psycopg import sql

    names = sql.SQL(", ").join(map(sql.Identifier, CUSTOMER_PROFILE.names))
    view = sql.Identifier(*PROFILES_MS_VIEW.split("."))
    rows = conn.execute(sql.SQL("select {} from {}").format(names, view)).fetchall()
    return {row[0]: CustomerProfile(*row) for row in rows}


def prior_from_postgres(conn: Any, job_name: str) -> list[PriorActivity]:
    """The earlier history the named job started from (fraudlake_flink/prior.py wrote it)."""
    from psycopg import sql

    table = sql.Identifier(*HISTORY_TABLE.split("."))
    query = sql.SQL(
        "select customer_id, device_fingerprint, payments, successes, success_sum from {} where job_name = %s"
    ).format(table)
    return [PriorActivity(*row) for row in conn.execute(query, [job_name]).fetchall()]


def score_file(
    input_path: Path,
    output_path: Path,
    rules: RuleSet,
    profiles: dict[str, CustomerProfile],
    prior: list[PriorActivity] | None = None,
) -> int:
    """Score every payment of `input_path` into `output_path`, the customers' history starting
    from `prior`; returns the number of decisions."""
    import pyarrow.parquet as pq

    table = pq.read_table(input_path).sort_by([("event_time", "ascending"), ("payment_id", "ascending")])
    payments = PAYMENT.from_arrow(table)
    sink = ParquetSink(output_path, DECISION)
    for decision in score_stream(payments, profiles, rules, int(time.time() * 1000), prior or ()):
        sink.add(decision)
    sink.close()
    return sink.written
