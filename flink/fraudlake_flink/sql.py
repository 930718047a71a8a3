"""The scoring job as Flink SQL, generated from a JobSpec, the contract and a RuleSet.

Pipeline (docs/decisions/0003-streaming-hot-path.md says why SQL):

    payments (Kafka, raw bytes; event-time watermark read from the JSON)
      -> parse_payment (Python UDF: the contract's parse)   -> rejected or late: payments-dlq
      -> one lookup join: the customer's profile and history before the job (JDBC, cached;
         ops.customer_context, fraudlake_flink/prior.py)
      -> one window, OVER customer ROWS UNBOUNDED: payments, successes and success sum before this
         one; velocity (EARLIER: the time since the payment N-1 payments back); device seen before
         (SEEN_BEFORE). EARLIER and SEEN_BEFORE are Java aggregates (flink/java).
      -> rules (rules/sql.py) -> payment-scores; alerts -> fraud-alerts

Plan 3, the previous one, stays buildable (JobSpec.plan) for benchmarks/scoring_job.py --plans.

Names of the stateful steps are fixed, so a rules change that keeps the plan's shape maps the
savepoint's operator state onto the new job (table.exec.uid.generation: ALWAYS). A change of the
stateful steps themselves bumps PLAN_VERSION, which is part of every uid: Flink then refuses an
older savepoint instead of restoring it into the wrong operator (control.py explains the way out).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fraudlake.contract import ALERT, DEAD_LETTER, DECISION, PAYMENT, SCHEMA_VERSION, Column, RecordType
from fraudlake.rules import sql as rules_sql
from fraudlake.rules.definition import literal
from fraudlake.rules.history import velocity_count
from fraudlake.rules.ruleset import RuleSet
from fraudlake.topics import TRANSACTION_MAX_TIMEOUT_MS
from fraudlake_flink.parse import PARSED_FIELDS
from fraudlake_flink.spec import JobSpec

PARSE_FUNCTION = "parse_payment"
PLAN_VERSION = 5
"""1: velocity as a 10-minute RANGE window; 2: velocity from the last min_payments payments (ROWS);
3: the windows add the customer's history from before the job (fraudlake_flink/prior.py), looked up; velocity
from LAG in a RANGE window (the ROWS window kept the last payments' whole rows: the heap ran out);
5: one lookup (profile and history) and one customer window for every feature (4 was a candidate)."""
ALERT_ID = "SUBSTRING(SHA256(CONCAT(payment_id, ':', rules_version)) FROM 1 FOR 32)"
"""contract.alert_id_of in SQL."""
MAX_FUTURE_MINUTES = 5
SEEN_BEFORE = "seen_before"
"""flink/java/io/fraudlake/flink/SeenBefore.java, an aggregate: was this value in an earlier row?"""
EARLIER = "earlier"
"""flink/java/io/fraudlake/flink/Earlier.java, an aggregate: LAG for a ROWS window."""


def flink_type(column: Column) -> str:
    if column.py_type is Decimal:
        return "DECIMAL(12, 2)"
    return {str: "STRING", int: "BIGINT", bool: "BOOLEAN", tuple: "ARRAY<STRING>"}[column.py_type]


def parsed_type() -> str:
    """The UDF's result: ROW<reason, raw_base64, payment fields...>."""
    fields = ["`reason` STRING", "`raw_base64` STRING"]
    fields += [f"`{c.name}` {flink_type(c)}" for c in PAYMENT.columns]
    assert [f.split("`")[1] for f in fields] == list(PARSED_FIELDS)
    return f"ROW<{', '.join(fields)}>"


def _options(options: dict[str, str]) -> str:
    return ",\n  ".join(f"{literal(k)} = {literal(v)}" for k, v in options.items())


def _alignment(spec: JobSpec) -> dict[str, str]:
    """Per-split watermark alignment: a partition that gets ahead of the slowest by more than the
    drift is paused until that one catches up, so a backlog is read evenly and no partition the
    consumer is too busy to fetch goes idle (its payments would all be late)."""
    if not spec.watermark_alignment_ms:
        return {}
    return {
        "scan.watermark.alignment.group": f"{spec.name}-payments",
        "scan.watermark.alignment.max-drift": f"{spec.watermark_alignment_ms} ms",
        "scan.watermark.alignment.update-interval": "1 s",
    }


def _kafka_sink(
    spec: JobSpec, table: str, topic: str, record: RecordType[Any], guarantee: str, extra: str = ""
) -> str:
    columns = [f"`{c.name}` {flink_type(c)}" for c in record.columns]
    options = {
        "connector": "kafka",
        "topic": topic,
        "properties.bootstrap.servers": spec.bootstrap,
        "key.format": "raw",
        "key.fields": "kafka_key",
        "value.format": "json",
        "value.fields-include": "EXCEPT_KEY",
        "value.json.encode.decimal-as-plain-number": "true",
        "sink.delivery-guarantee": guarantee,
        # A checkpoint's transactions wait for the job to resume after a crash (resume.py): the
        # broker aborts them after this, capped by its transaction.max.timeout.ms (platform/kafka.py).
        "properties.transaction.timeout.ms": str(TRANSACTION_MAX_TIMEOUT_MS),
    }
    if guarantee == "exactly-once":
        options["sink.transactional-id-prefix"] = f"{spec.transactional_prefix}-{table}"
    return (
        f"CREATE TEMPORARY TABLE {table} (\n  `kafka_key` BYTES,\n  "
        + ",\n  ".join(columns)
        + extra
        + f"\n) WITH (\n  {_options(options)}\n)"
    )


@dataclass(frozen=True)
class JobSql:
    config: dict[str, str]
    tables: list[str]
    views: list[str]
    inserts: list[str]

    def script(self) -> str:
        """All statements, for reading and for `fraudlake job sql`."""
        sets = [f"SET {literal(k)} = {literal(v)};" for k, v in self.config.items()]
        return "\n\n".join([*sets, *(s + ";" for s in self.tables + self.views + self.inserts)]) + "\n"


def job_sql(spec: JobSpec, rules: RuleSet, password: str = "***") -> JobSql:
    """The job's statements; the JDBC password is only filled in by the program that submits them."""
    delay_ms = spec.watermark_delay_ms
    config = {
        "pipeline.name": spec.name,
        "parallelism.default": str(spec.parallelism),
        "table.local-time-zone": "UTC",
        "table.exec.source.idle-timeout": f"{spec.idle_timeout_ms} ms",
        "table.exec.state.ttl": f"{spec.state_ttl_days} d",
        "table.exec.uid.generation": "ALWAYS",
        "table.exec.uid.format": f"plan{spec.plan or PLAN_VERSION}_<id>_<transformation>",
        "pipeline.object-reuse": "true",  # no copy between chained operators: +15% measured
        # Each decision waits for the watermark: emit it often and flush network buffers early
        # (defaults 200 ms and 100 ms per hop put p50 at ~465 ms with a 200 ms bound).
        "pipeline.auto-watermark-interval": "25 ms",
        "execution.buffer-timeout.interval": "10 ms",
        "execution.checkpointing.interval": f"{spec.checkpoint_interval_ms} ms",
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        # a job that fails or is cancelled keeps its last checkpoint: fraudlake_flink/resume.py restores it
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        # the parse UDF inside the TaskManager (pemja) instead of a Beam worker process
        "python.execution-mode": "thread",
    }
    # Plain string functions, not JSON_VALUE or REGEXP_EXTRACT: the expression runs several times per
    # record (watermark and projection), JSON_VALUE parses the whole document each time and
    # REGEXP_EXTRACT recompiled its pattern (both seen in thread dumps). For a valid payment this
    # reads the same number as the parse UDF; for anything else the UDF rejects the record anyway.
    after_key = "SPLIT_INDEX(CAST(`raw` AS STRING), '\"event_time\":', 1)"
    event_time = f"TRY_CAST(TRIM(SPLIT_INDEX(SPLIT_INDEX({after_key}, ',', 0), '}}', 0)) AS BIGINT)"
    source = f"""CREATE TEMPORARY TABLE payments_source (
  `kafka_key` BYTES,
  `raw` BYTES,
  `source_topic` STRING METADATA FROM 'topic' VIRTUAL,
  `source_partition` INT METADATA FROM 'partition' VIRTUAL,
  `source_offset` BIGINT METADATA FROM 'offset' VIRTUAL,
  `kafka_ts` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  -- event time from the JSON; unreadable or implausibly future times fall back to the Kafka time,
  -- so a malformed record (on its way to the DLQ) cannot drag the watermark anywhere
  `rowtime` AS CASE
    WHEN {event_time} IS NULL
      OR TO_TIMESTAMP_LTZ({event_time}, 3) > `kafka_ts` + INTERVAL '{MAX_FUTURE_MINUTES}' MINUTE
    THEN `kafka_ts` ELSE TO_TIMESTAMP_LTZ({event_time}, 3) END,
  `proctime` AS PROCTIME(),
  WATERMARK FOR `rowtime` AS `rowtime` - INTERVAL '{delay_ms / 1000:.3f}' SECOND
) WITH (
  {
        _options(
            {
                "connector": "kafka",
                "topic": spec.payments_topic,
                "properties.bootstrap.servers": spec.bootstrap,
                "properties.group.id": spec.group_id,
                "properties.isolation.level": "read_committed",
                "scan.startup.mode": "group-offsets",
                "properties.auto.offset.reset": "earliest",
                "key.format": "raw",
                "key.fields": "kafka_key",
                "value.format": "raw",
                "value.fields-include": "EXCEPT_KEY",
            }
            | _alignment(spec)
        )
    }
)"""
    jdbc = {"connector": "jdbc", "url": spec.jdbc_url, "username": spec.jdbc_user, "password": password}
    profile_cache = {
        "lookup.cache": "PARTIAL",
        "lookup.partial-cache.max-rows": "200000",
        "lookup.partial-cache.expire-after-write": f"{spec.profile_cache_s} s",
        "lookup.partial-cache.cache-missing-key": "false",
        "lookup.max-retries": "5",
    }
    profiles = f"""CREATE TEMPORARY TABLE customer_profiles (
  `customer_id` STRING, `country` STRING, `timezone` STRING, `registered_at` BIGINT,
  PRIMARY KEY (`customer_id`) NOT ENFORCED
) WITH (
  {_options(jdbc | {"table-name": spec.profiles_table} | profile_cache)}
)"""
    # The history before the job (prior.py) never changes while the job runs: a customer absent
    # from it stays absent, so misses are cached too, and each customer is queried about once.
    history_cache = {
        "lookup.cache": "PARTIAL",
        "lookup.partial-cache.max-rows": "200000",
        "lookup.partial-cache.expire-after-write": "1 d",
        "lookup.partial-cache.cache-missing-key": "true",
        "lookup.max-retries": "5",
    }
    history = f"""CREATE TEMPORARY TABLE customer_history (
  `job_name` STRING, `customer_id` STRING,
  `payments` BIGINT, `successes` BIGINT, `success_sum` DECIMAL(18, 2), `devices` STRING,
  PRIMARY KEY (`job_name`, `customer_id`) NOT ENFORCED
) WITH (
  {_options(jdbc | history_cache | {"table-name": spec.history_view})}
)"""
    functions = (
        [
            f"CREATE TEMPORARY SYSTEM FUNCTION {name} AS 'io.fraudlake.flink.{java}' LANGUAGE JAVA"
            for name, java in ((SEEN_BEFORE, "SeenBefore"), (EARLIER, "Earlier"))
        ]
        if (spec.plan or PLAN_VERSION) == 5
        else []
    )
    context = f"""CREATE TEMPORARY TABLE customer_context (
  `job_name` STRING, `customer_id` STRING, `has_profile` BOOLEAN,
  `country` STRING, `timezone` STRING, `registered_at` BIGINT,
  `payments` BIGINT, `successes` BIGINT, `success_sum` DECIMAL(18, 2), `devices` STRING,
  PRIMARY KEY (`job_name`, `customer_id`) NOT ENFORCED
) WITH (
  {_options(jdbc | {"table-name": spec.context_view} | profile_cache)}
)"""
    one_lookup = (spec.plan or PLAN_VERSION) == 5
    lookups = [context] if one_lookup else [profiles, history]
    tables = [
        *functions,
        source,
        *lookups,
        _kafka_sink(spec, "decisions_sink", spec.scores_topic, DECISION, "exactly-once"),
        _kafka_sink(spec, "alerts_sink", spec.alerts_topic, ALERT, spec.alerts_delivery),
        _kafka_sink(
            spec,
            "dead_letters_sink",
            spec.dlq_topic,
            DEAD_LETTER,
            "exactly-once",
            extra=",\n  `kafka_ts` TIMESTAMP_LTZ(3) METADATA FROM 'timestamp'",
        ),
    ]
    late = (
        f"'late: event_time more than {delay_ms} ms behind the job''s watermark "
        "(out-of-order bound FRAUDLAKE_JOB_WATERMARK_DELAY_MS)'"
    )
    payment_fields = ", ".join(f"x.p.`{name}` AS `{name}`" for name in PAYMENT.names)
    enriched = _enriched_view(spec.name, one_lookup)
    views = [
        f"""CREATE TEMPORARY VIEW parsed AS
SELECT `kafka_key`, `source_topic`, `source_partition`, `source_offset`, `kafka_ts`, `rowtime`, `proctime`,
  {PARSE_FUNCTION}(`raw`, CASE WHEN `rowtime` <= CURRENT_WATERMARK(`rowtime`) THEN {late} END) AS p
FROM payments_source""",
        f"""CREATE TEMPORARY VIEW payments_valid AS
SELECT {payment_fields}, x.`rowtime` AS `rowtime`, x.`proctime` AS `proctime`
FROM parsed AS x WHERE x.p.`reason` IS NULL""",
        enriched,
        *_feature_views(rules, spec.plan or PLAN_VERSION),
        "CREATE TEMPORARY VIEW fired AS\nSELECT *,\n  "
        + ",\n  ".join(rules_sql.fired_columns(rules))
        + "\nFROM features",
        _decisions_view(rules),
    ]
    decision_names = ", ".join(f"`{n}`" for n in DECISION.names)
    inserts = [
        f"INSERT INTO decisions_sink SELECT `kafka_key`, {decision_names} FROM decisions",
        f"INSERT INTO alerts_sink SELECT `kafka_key`, {decision_names}, "
        f"{ALERT_ID}, amount, currency, merchant_id FROM decisions WHERE is_alert",
        f"""INSERT INTO dead_letters_sink
SELECT `kafka_key`, x.p.`reason`, x.p.`raw_base64`, `source_topic`, CAST(`source_partition` AS BIGINT),
  `source_offset`, CAST({SCHEMA_VERSION} AS BIGINT), `kafka_ts`
FROM parsed AS x WHERE x.p.`reason` IS NOT NULL""",
    ]
    return JobSql(config, tables, views, inserts)


def _decisions_view(rules: RuleSet) -> str:
    """The decisions; `scored_at` reads the clock once per row (an inner select, which the planner
    does not merge into an expression that reads it twice)."""
    columns = rules_sql.decision_columns(rules)
    return f"""CREATE TEMPORARY VIEW decisions AS
SELECT CAST(customer_id AS BYTES) AS `kafka_key`, payment_id, customer_id,
  {columns["score"]} AS score,
  {columns["severity"]} AS severity,
  {columns["is_alert"]} AS is_alert,
  {columns["reasons"]} AS reasons,
  CAST({literal(rules.version)} AS STRING) AS rules_version,
  event_time,
  UNIX_TIMESTAMP(DATE_FORMAT(scored_ts, 'yyyy-MM-dd HH:mm:ss')) * 1000
    + EXTRACT(MILLISECOND FROM scored_ts) AS scored_at,
  CAST({SCHEMA_VERSION} AS BIGINT) AS schema_version,
  amount, currency, merchant_id
FROM (SELECT *, CAST(CURRENT_ROW_TIMESTAMP() AS TIMESTAMP(3)) AS scored_ts FROM fired)"""


_TOTALS = """COUNT(*) OVER w - 1 + history_payments AS prior_payments,
  SUM(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END) OVER w
    - CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END + history_successes AS prior_successes,
  SUM(CASE WHEN status = 'succeeded' THEN amount ELSE CAST(0 AS DECIMAL(12, 2)) END) OVER w
    - CASE WHEN status = 'succeeded' THEN amount ELSE CAST(0 AS DECIMAL(12, 2)) END
    + history_success_sum AS prior_success_sum"""
_CUSTOMER_ROWS = (
    "PARTITION BY customer_id ORDER BY `rowtime` ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
)


def _feature_views(rules: RuleSet, plan: int) -> list[str]:
    """From `enriched` to `features`: the per-customer features the rules read. Plan 3: totals,
    velocity and devices seen in three chained OVER windows (three keyed shuffles). Plan 5: all of
    them in one ROWS window keyed by customer, velocity from EARLIER and devices seen from
    SEEN_BEFORE (Java aggregates, flink/java): Calcite refuses LAG a frame, and a RANGE window
    would give payments at the same millisecond each other's counts."""
    earlier = max(velocity_count(rules) - 1, 0)
    if plan == 3:
        # velocity: the time since the payment `earlier` payments back; LAG keeps just those times
        # (a ROWS window of the last payments kept whole rows: ~1 KB per payment and customer)
        span = f"event_time - LAG(event_time, {earlier}) OVER w" if earlier else "CAST(0 AS BIGINT)"
        return [
            f"CREATE TEMPORARY VIEW customer_totals AS\nSELECT *,\n  {_TOTALS}\nFROM enriched\n"
            f"WINDOW w AS ({_CUSTOMER_ROWS})",
            f"CREATE TEMPORARY VIEW velocity AS\nSELECT *, {span}\n  AS velocity_span_ms\n"
            "FROM customer_totals\nWINDOW w AS (PARTITION BY customer_id ORDER BY `rowtime`)",
            f"""CREATE TEMPORARY VIEW features AS
SELECT *, (COUNT(*) OVER w > 1 OR history_device_seen IS TRUE) AS device_seen,
  {rules_sql.LOCAL_HOUR} AS local_hour
FROM velocity
WINDOW w AS (PARTITION BY customer_id, device_fingerprint ORDER BY `rowtime`
  ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)""",
        ]
    if plan == 5:
        span = f"event_time - {EARLIER}(event_time, {earlier}) OVER w" if earlier else "CAST(0 AS BIGINT)"
        return [
            f"CREATE TEMPORARY VIEW features AS\nSELECT *,\n  {_TOTALS},\n  {span} AS velocity_span_ms,\n"
            f"  ({SEEN_BEFORE}(device_fingerprint) OVER w OR history_device_seen IS TRUE) AS device_seen,\n"
            f"  {rules_sql.LOCAL_HOUR} AS local_hour\nFROM enriched\n"
            f"WINDOW w AS ({_CUSTOMER_ROWS})",
        ]
    raise ValueError(f"no job plan {plan} (plans: 3, 5)")


def _enriched_view(job_name: str, one_lookup: bool) -> str:
    """Each valid payment with its customer's profile and history from before the job: two lookups
    (plan 3), or one of `customer_context` (plan 5)."""
    history = (
        "COALESCE(h.`payments`, 0) AS history_payments, COALESCE(h.`successes`, 0) AS history_successes,\n"
        "  COALESCE(h.`success_sum`, 0) AS history_success_sum,\n"
        "  POSITION(CONCAT(',', v.`device_fingerprint`, ',') IN CONCAT(',', h.`devices`, ',')) > 0\n"
        "    AS history_device_seen"
    )
    if one_lookup:
        return f"""CREATE TEMPORARY VIEW enriched AS
SELECT v.*, CASE WHEN h.`has_profile` THEN h.`customer_id` END AS profile_customer_id,
  h.`country` AS profile_country, h.`timezone` AS profile_timezone,
  h.`registered_at` AS profile_registered_ms,
  {history}
FROM payments_valid AS v
LEFT JOIN customer_context FOR SYSTEM_TIME AS OF v.`proctime` AS h
  ON h.`job_name` = {literal(job_name)} AND h.`customer_id` = v.`customer_id`"""
    return f"""CREATE TEMPORARY VIEW enriched AS
SELECT v.*, c.`customer_id` AS profile_customer_id, c.`country` AS profile_country,
  c.`timezone` AS profile_timezone, c.`registered_at` AS profile_registered_ms,
  {history}
FROM payments_valid AS v
LEFT JOIN customer_profiles FOR SYSTEM_TIME AS OF v.`proctime` AS c ON v.`customer_id` = c.`customer_id`
LEFT JOIN customer_history FOR SYSTEM_TIME AS OF v.`proctime` AS h
  ON h.`job_name` = {literal(job_name)} AND h.`customer_id` = v.`customer_id`"""
