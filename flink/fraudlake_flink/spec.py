"""What one scoring job instance reads, writes and how: everything its SQL is generated from.

The CLI builds a JobSpec from Settings and hands it to the PyFlink program as JSON (no secrets:
the JDBC password travels in the client's environment only).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from fraudlake import topics
from fraudlake.config import Settings
from fraudlake.rules.ruleset import DEFAULT_RULES

JOB_NAME = "fraudlake-scoring"
PASSWORD_ENV = "FRAUDLAKE_JOB_JDBC_PASSWORD"


@dataclass(frozen=True)
class JobSpec:
    name: str
    bootstrap: str
    payments_topic: str
    scores_topic: str
    alerts_topic: str
    dlq_topic: str
    group_id: str
    jdbc_url: str
    jdbc_user: str
    profiles_table: str
    history_view: str
    rules_path: str
    parallelism: int
    watermark_delay_ms: int
    idle_timeout_ms: int
    checkpoint_interval_ms: int
    state_ttl_days: int
    profile_cache_s: int
    alerts_delivery: str
    watermark_alignment_ms: int = 0
    """0: off (runs recorded before the setting have none)"""
    context_view: str = ""
    """The one lookup of plan 5: profile and history by (job, customer)"""
    plan: int = 0
    """0: this version's plan (sql.PLAN_VERSION); another: a candidate plan, for benchmarks"""

    @classmethod
    def from_settings(cls, settings: Settings, rules_path: Path | None = None, **changes: Any) -> JobSpec:
        from fraudlake.ops import CONTEXT_VIEW, HISTORY_VIEW, PROFILES_MS_VIEW
        from fraudlake.platform.postgres import STREAM_ROLE

        spec = cls(
            name=JOB_NAME,
            bootstrap=settings.kafka_bootstrap,
            payments_topic=topics.PAYMENTS.name,
            scores_topic=topics.PAYMENT_SCORES.name,
            alerts_topic=topics.FRAUD_ALERTS.name,
            dlq_topic=topics.PAYMENTS_DLQ.name,
            group_id=settings.job_group_id,
            jdbc_url=f"jdbc:postgresql://{settings.reach('pg')}:{settings.pg_port}/{settings.pg_database}",
            jdbc_user=STREAM_ROLE,
            profiles_table=PROFILES_MS_VIEW,
            history_view=HISTORY_VIEW,
            context_view=CONTEXT_VIEW,
            rules_path=str((rules_path or settings.job_rules or DEFAULT_RULES).resolve()),
            parallelism=settings.job_parallelism,
            watermark_delay_ms=settings.job_watermark_delay_ms,
            idle_timeout_ms=settings.job_idle_timeout_ms,
            checkpoint_interval_ms=settings.job_checkpoint_interval_ms,
            state_ttl_days=settings.job_state_ttl_days,
            profile_cache_s=settings.job_profile_cache_s,
            alerts_delivery=settings.job_alerts_delivery,
            watermark_alignment_ms=settings.job_watermark_alignment_ms,
        )
        return replace(spec, **changes)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> JobSpec:
        return cls(**json.loads(text))

    @property
    def transactional_prefix(self) -> str:
        """Kafka transactional ids of this job's sinks: stable across restarts of the same job."""
        return f"{self.name}-{self.group_id}"
