"""The PyFlink program of the scoring job: `flink run -py main.py --spec spec.json`.

It runs in the Flink venv (pyflink, orjson, PyYAML) with fraudlake's sources on its path; the
TaskManager's Python workers get the same sources from `-pyfs`. The JDBC password comes from the
environment (never from arguments, which `ps` shows).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pyflink.table import EnvironmentSettings, Row, TableEnvironment
from pyflink.table.udf import udf

from fraudlake.rules import ruleset
from fraudlake_flink.parse import parse_row
from fraudlake_flink.spec import PASSWORD_ENV, JobSpec
from fraudlake_flink.sql import PARSE_FUNCTION, job_sql, parsed_type


def parse_payment(raw: bytes | None, late_reason: str | None) -> Row:
    return Row(*parse_row(raw, late_reason))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", type=Path, required=True)
    args = parser.parse_args()
    spec = JobSpec.from_json(args.spec.read_text())
    statements = job_sql(spec, ruleset.load(Path(spec.rules_path)), os.environ[PASSWORD_ENV])
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    for key, value in statements.config.items():
        env.get_config().set(key, value)
    env.create_temporary_system_function(
        PARSE_FUNCTION, udf(parse_payment, result_type=parsed_type(), deterministic=True)
    )
    for statement in statements.tables + statements.views:
        env.execute_sql(statement)
    job = env.create_statement_set()
    for insert in statements.inserts:
        job.add_insert_sql(insert)
    job.execute()


if __name__ == "__main__":
    main()
