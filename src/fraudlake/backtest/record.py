"""Backtest runs kept in PostgreSQL (`ops.backtest_*`), which Gold publishes (`backtest_runs`,
`backtest_rule_metrics`): one row per run, its figures per (rules version, period), and its
per-rule figures. The figures' columns are `metrics.Figures`' fields, declared once there."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from psycopg import sql

from fraudlake.backtest.figures import Figures

RUNS_TABLE = "ops.backtest_runs"
FIGURES_TABLE = "ops.backtest_figures"
RULES_TABLE = "ops.backtest_rule_metrics"
RUN_COLUMNS = {
    "run_id": "text primary key",
    "kind": "text not null check (kind in ('backtest', 'tuning'))",
    "recorded_at": "timestamptz not null default now()",
    "requested_by": "text not null",
    "labels": "text not null",
    "period_from": "date not null",
    "period_to": "date not null",
    "budget": "text",
    "objective": "text",
    "live_version": "text not null",
    "tested_version": "text not null",
    "candidate_version": "text",
    "holdout_from": "date",
    "folder": "text not null",
}
FIGURE_COLUMNS = {f.name: "bigint" if f.type == "int" else "double precision" for f in fields(Figures)}
RULE_COLUMNS = {
    "hits": "bigint",
    "in_alerts": "bigint",
    "fraud_hit": "double precision",
    "legit_hit": "double precision",
    "precision": "double precision",
}


def _table(name: str, columns: dict[str, str], key: str = "") -> sql.Composed:
    items = [sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in columns.items()]
    return sql.SQL("create table if not exists {} ({}{})").format(
        sql.Identifier(*name.split(".")), sql.SQL(", ").join(items), sql.SQL(key)
    )


def ddl() -> list[sql.Composed]:
    grain = {"run_id": "text not null", "rules_version": "text not null", "period": "text not null"}
    return [
        _table(RUNS_TABLE, RUN_COLUMNS),
        _table(FIGURES_TABLE, grain | FIGURE_COLUMNS, ", primary key (run_id, rules_version, period)"),
        _table(
            RULES_TABLE,
            grain | {"rule_id": "text not null"} | RULE_COLUMNS,
            ", primary key (run_id, rules_version, period, rule_id)",
        ),
    ]


def rows(result: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The run's figures and per-rule rows, keyed by (rules version, period)."""
    measured = [("all", result["live"]), ("all", result["tested"])]
    figures = {(m["version"], period): m["overall"] for period, m in measured}
    tuning = result.get("tuning")
    if tuning:
        holdout = tuning["holdout"]
        measured += [("holdout", holdout["live"]), ("holdout", holdout["candidate"])]
        figures |= {(holdout[r]["version"], "holdout"): holdout[r]["overall"] for r in ("live", "candidate")}
        figures |= {(holdout[r]["version"], "train"): tuning["train"][r] for r in ("live", "candidate")}
    rules = {
        (m["version"], period, r["rule"]): {name: r[name] for name in RULE_COLUMNS}
        for period, m in measured
        for r in m["per_rule"]
    }
    return (
        [{"rules_version": v, "period": p, **f} for (v, p), f in figures.items()],
        [{"rules_version": v, "period": p, "rule_id": r, **f} for (v, p, r), f in rules.items()],
    )


def _insert(conn: Any, table: str, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        conn.execute(
            sql.SQL("insert into {} ({}) values ({})").format(
                sql.Identifier(*table.split(".")),
                sql.SQL(", ").join(map(sql.Identifier, row)),
                sql.SQL(", ").join(sql.Placeholder() * len(row)),
            ),
            list(row.values()),
        )


def record(conn: Any, run: dict[str, Any], result: dict[str, Any]) -> None:
    """Write one run (`run`: RUN_COLUMNS' values) and its figures, in one transaction; a run
    recorded again (its Airflow task cleared and re-run) replaces its earlier rows."""
    figures, rules = rows(result)
    key = {"run_id": run["run_id"]}
    with conn.transaction():
        for statement in ddl():
            conn.execute(statement)
        for table in (RULES_TABLE, FIGURES_TABLE, RUNS_TABLE):
            conn.execute(
                sql.SQL("delete from {} where run_id = %s").format(sql.Identifier(*table.split("."))),
                [run["run_id"]],
            )
        _insert(conn, RUNS_TABLE, [run])
        _insert(conn, FIGURES_TABLE, [key | row for row in figures])
        _insert(conn, RULES_TABLE, [key | row for row in rules])
