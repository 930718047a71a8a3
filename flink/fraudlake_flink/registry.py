"""The scoring job's lifecycle registry in PostgreSQL (ops.job_runs, ops.savepoints, ops.deployments).

Everything that decides or explains where a job resumes from lives here, in the platform's
database rather than in a file of one checkout: `job start`, `up` and the Airflow DAGs read and
write the same rows, and `fraudlake job history` and the Operations dashboard show them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from psycopg import Connection, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from fraudlake.ops import (
    DEPLOYMENTS_TABLE,
    JOB_RUNS_TABLE,
    SAVEPOINTS_TABLE,
    SCORING_JOBS_TABLE,
    record_rules_version,
)
from fraudlake.rules.ruleset import RuleSet

Row = TypeVar("Row")
Connect = Callable[[], AbstractContextManager[Connection[Any]]]
SAVEPOINT_KINDS = ("periodic", "stop", "pre-deploy")


def rules_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _table(dotted: str) -> sql.Identifier:
    return sql.Identifier(*dotted.split("."))


@dataclass(frozen=True)
class JobRun:
    """One submission of a job."""

    job_id: str
    job_name: str
    plan_version: int
    rules_version: str
    rules_sha256: str
    rules_path: str
    spec: dict[str, Any]
    started_from: str | None
    """The checkpoint or savepoint it restored; None for a fresh start (history from Bronze)."""
    started_by: str
    started_at: datetime | None = None
    """Set by the database when the run is recorded."""


@dataclass(frozen=True)
class Savepoint:
    id: int
    job_name: str
    job_id: str
    plan_version: int
    rules_version: str
    rules_sha256: str
    kind: str
    state: str
    path: str | None
    size_bytes: int | None
    triggered_at: datetime
    completed_at: datetime | None
    duration_ms: int | None
    error: str


@dataclass(frozen=True)
class Deployment:
    id: int
    job_name: str
    run_id: str
    requested_by: str
    rules_file: str
    rules_sha256: str
    """Of the file as it was when the deploy began ('' if it could not be read)."""
    rules_before: str | None
    rules_after: str | None
    """The new rules version, once the file is known to be valid."""
    job_before: str | None
    job_after: str | None
    savepoint: str | None
    started_at: datetime
    ended_at: datetime | None
    result: str
    detail: str


@dataclass(frozen=True)
class Outcome:
    """How a deployment ended."""

    result: str
    detail: str
    rules_after: str | None
    savepoint: str | None
    job_after: str | None


def _columns(kind: type) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(f.name) for f in fields(kind))


class Registry:
    def __init__(self, connect: Connect) -> None:
        self.connect = connect

    def _rows(self, query: sql.Composed, params: list[Any]) -> list[dict[str, Any]]:
        with self.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            return list(cur.execute(query, params).fetchall())

    def _select(self, kind: type[Row], table: str, column: str, value: str, order: str) -> list[Row]:
        """Rows of `table` whose `column` is `value`, as `kind` (a dataclass of its columns), by
        `order` (columns, each optionally `desc`)."""
        keys = [
            sql.SQL("{} desc").format(sql.Identifier(key.split()[0]))
            if key.endswith(" desc")
            else sql.Identifier(key)
            for key in (part.strip() for part in order.split(","))
        ]
        query = sql.SQL("select {} from {} where {} = %s order by {}").format(
            _columns(kind), _table(table), sql.Identifier(column), sql.SQL(", ").join(keys)
        )
        return [kind(**row) for row in self._rows(query, [value])]

    def _execute(self, query: sql.Composed, params: list[Any]) -> Any:
        """Run one statement and commit; the first column of its first row, if it returns rows."""
        with self.connect() as conn:
            cursor = conn.execute(query, params)
            row = cursor.fetchone() if cursor.description else None
            conn.commit()
            return row[0] if row else None

    # submissions

    def record_run(self, run: JobRun) -> None:
        names = [f.name for f in fields(JobRun) if f.name != "started_at"]
        values = [Jsonb(run.spec) if name == "spec" else getattr(run, name) for name in names]
        self._execute(
            sql.SQL("insert into {} ({}) values ({}) on conflict (job_id) do nothing").format(
                _table(JOB_RUNS_TABLE),
                sql.SQL(", ").join(map(sql.Identifier, names)),
                sql.SQL(", ").join(sql.Placeholder() * len(names)),
            ),
            values,
        )

    def register_job(self, job_name: str) -> None:
        """Before its first start: the job's rows of `customer_context` (its lookup) exist from then on."""
        self._execute(
            sql.SQL("insert into {} (job_name) values (%s) on conflict do nothing").format(
                _table(SCORING_JOBS_TABLE)
            ),
            [job_name],
        )

    def record_rules(self, rules: RuleSet) -> None:
        """The rules' version, bands and rule ids, which dbt checks decisions against."""
        self._execute(record_rules_version(rules), [])

    def runs(self, job_name: str) -> list[JobRun]:
        """Newest first."""
        return self._select(JobRun, JOB_RUNS_TABLE, "job_name", job_name, "started_at desc")

    def run(self, job_id: str) -> JobRun | None:
        return next(iter(self._select(JobRun, JOB_RUNS_TABLE, "job_id", job_id, "started_at")), None)

    # savepoints

    def savepoint_started(self, run: JobRun, kind: str) -> int:
        if kind not in SAVEPOINT_KINDS:
            raise ValueError(f"savepoint kind {kind!r}: one of {', '.join(SAVEPOINT_KINDS)}")
        return int(
            self._execute(
                sql.SQL(
                    "insert into {} (job_name, job_id, plan_version, rules_version, rules_sha256, kind, "
                    "state) values (%s, %s, %s, %s, %s, %s, 'in_progress') returning id"
                ).format(_table(SAVEPOINTS_TABLE)),
                [run.job_name, run.job_id, run.plan_version, run.rules_version, run.rules_sha256, kind],
            )
        )

    def savepoint_ended(self, savepoint_id: int, path: str | None, size: int | None, error: str = "") -> None:
        self._execute(
            sql.SQL(
                "update {} set state = %s, path = %s, size_bytes = %s, completed_at = now(), "
                "duration_ms = (extract(epoch from now() - triggered_at) * 1000)::bigint, error = %s "
                "where id = %s"
            ).format(_table(SAVEPOINTS_TABLE)),
            ["completed" if path else "failed", path, size, error[:2000], savepoint_id],
        )

    def savepoints(self, job_name: str) -> list[Savepoint]:
        """Newest first."""
        return self._select(Savepoint, SAVEPOINTS_TABLE, "job_name", job_name, "triggered_at desc, id desc")

    def forget_savepoint(self, savepoint_id: int) -> None:
        """Drop a row whose data is already deleted (prune: data first, then the row)."""
        self._execute(
            sql.SQL("delete from {} where id = %s").format(_table(SAVEPOINTS_TABLE)), [savepoint_id]
        )

    # deployments

    def deployment_started(
        self, job_name: str, run_id: str, requested_by: str, before: JobRun | None, rules_file: str, sha: str
    ) -> None:
        self._execute(
            sql.SQL(
                "insert into {} (job_name, run_id, requested_by, rules_before, rules_file, "
                "rules_sha256, job_before, result) values (%s, %s, %s, %s, %s, %s, %s, 'running') "
                "on conflict (run_id, job_name) do update set started_at = now(), ended_at = null, "
                "result = 'running', detail = ''"
            ).format(_table(DEPLOYMENTS_TABLE)),
            [
                job_name,
                run_id,
                requested_by,
                before.rules_version if before else None,
                rules_file,
                sha,
                before.job_id if before else None,
            ],
        )

    def deployment_ended(self, job_name: str, run_id: str, outcome: Outcome) -> None:
        """The outcome; an upsert, so a deploy that failed before it was recorded is recorded too."""
        self._execute(
            sql.SQL(
                "insert into {} (job_name, run_id, rules_file, rules_sha256, result, detail, rules_after, "
                "savepoint, job_after, ended_at) values (%s, %s, '', '', %s, %s, %s, %s, %s, now()) "
                "on conflict (run_id, job_name) do update set result = excluded.result, "
                "detail = excluded.detail, rules_after = excluded.rules_after, "
                "savepoint = excluded.savepoint, job_after = excluded.job_after, ended_at = excluded.ended_at"
            ).format(_table(DEPLOYMENTS_TABLE)),
            [
                job_name,
                run_id,
                outcome.result,
                outcome.detail[:2000],
                outcome.rules_after,
                outcome.savepoint,
                outcome.job_after,
            ],
        )

    def deployments(self, job_name: str) -> list[Deployment]:
        """Newest first."""
        return self._select(Deployment, DEPLOYMENTS_TABLE, "job_name", job_name, "started_at desc, id desc")
