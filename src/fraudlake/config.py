"""All configuration of fraudlake, read from environment variables in one place.

Every variable has a local default that works on a developer machine; a bad value stops with a
message naming the variable. Secrets never live here: they are generated on first `up` and kept in
the state folder (see `fraudlake.platform.secrets`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = tuple(PROJECT_ROOT / room for room in ("src", "flink", "lake"))
"""Where fraudlake's packages live in a checkout: the PYTHONPATH of the engines that import them."""


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the variable."""


@dataclass(frozen=True)
class Variable:
    """One documented environment variable and its default."""

    name: str
    default: str
    help: str


VARIABLES: tuple[Variable, ...] = (
    Variable("FRAUDLAKE_HOME", "<checkout>/.fraudlake", "State folder: data, logs, pid files, secrets"),
    Variable("FRAUDLAKE_CACHE_DIR", "~/.cache/fraudlake", "Shared cache of jars, binaries, venvs"),
    Variable("FRAUDLAKE_BIND_HOST", "127.0.0.1", "Address every service listens on"),
    Variable("FRAUDLAKE_JAVA_HOME", "(a Java 17 JDK found on the machine)", "JDK for Kafka/Flink"),
    Variable("FRAUDLAKE_PG_PORT", "15432", "PostgreSQL port"),
    Variable("FRAUDLAKE_PG_OS_USER", "fraudlake", "OS user that runs PostgreSQL when run as root"),
    Variable("FRAUDLAKE_PG_BIN_DIR", "/usr/lib/postgresql/15/bin", "PostgreSQL server binaries"),
    Variable("FRAUDLAKE_PG_DATABASE", "fraudlake", "Platform database"),
    Variable("FRAUDLAKE_KAFKA_PORT", "19092", "Kafka client (PLAINTEXT) port"),
    Variable("FRAUDLAKE_KAFKA_CONTROLLER_PORT", "19093", "Kafka KRaft controller port"),
    Variable("FRAUDLAKE_KAFKA_HEAP", "512m", "Kafka broker JVM heap (-Xmx)"),
    Variable("FRAUDLAKE_MINIO_PORT", "19000", "MinIO S3 API port"),
    Variable("FRAUDLAKE_MINIO_CONSOLE_PORT", "19001", "MinIO web console port"),
    Variable("FRAUDLAKE_FLINK_REST_PORT", "18081", "Flink REST API and Web UI port"),
    Variable("FRAUDLAKE_FLINK_RPC_PORT", "16123", "Flink JobManager RPC port"),
    Variable("FRAUDLAKE_FLINK_BLOB_PORT", "16124", "Flink blob server port"),
    Variable("FRAUDLAKE_FLINK_TM_RPC_PORT", "16125", "Flink TaskManager RPC port"),
    Variable("FRAUDLAKE_FLINK_TM_DATA_PORT", "16126", "Flink TaskManager data port"),
    Variable("FRAUDLAKE_FLINK_TASK_SLOTS", "4", "Slots of the TaskManager"),
    Variable("FRAUDLAKE_FLINK_JM_MEMORY", "1024m", "JobManager total process memory"),
    Variable("FRAUDLAKE_FLINK_TM_MEMORY", "1536m", "TaskManager total process memory"),
    Variable("FRAUDLAKE_FLINK_STATE_STORAGE", "s3", "Checkpoints/savepoints: s3 (MinIO) or local"),
    Variable("FRAUDLAKE_AIRFLOW_PORT", "18080", "Airflow UI and REST API port"),
    Variable("FRAUDLAKE_AIRFLOW_PARALLELISM", "2", "Airflow task slots (each a pre-forked worker)"),
    Variable("FRAUDLAKE_SUPERSET_PORT", "18088", "Superset dashboards (UI and REST API) port"),
    Variable(
        "FRAUDLAKE_SUPERSET_THREADS", "4", "Superset web server threads (one gunicorn worker: ~300 MB idle)"
    ),
    Variable(
        "FRAUDLAKE_LAKEHOUSE_INTERVAL_MINUTES",
        "3",
        "lakehouse_refresh runs every this many minutes (3: alert -> Gold within 5 min, decision 0007)",
    ),
    Variable("FRAUDLAKE_START_TIMEOUT", "120", "Seconds to wait for one service to become ready"),
    Variable("FRAUDLAKE_JOB_RULES", "(the packaged rules v1)", "Rules file the scoring job starts with"),
    Variable("FRAUDLAKE_JOB_PARALLELISM", "1", "Parallelism of the scoring job (<= payments partitions)"),
    Variable("FRAUDLAKE_JOB_GROUP_ID", "fraudlake-scoring", "Kafka consumer group of the scoring job"),
    Variable("FRAUDLAKE_JOB_WATERMARK_DELAY_MS", "200", "Out-of-order bound; later payments go to the DLQ"),
    Variable(
        "FRAUDLAKE_JOB_IDLE_TIMEOUT_MS", "30000", "A partition silent this long stops holding event time back"
    ),
    Variable(
        "FRAUDLAKE_JOB_CHECKPOINT_INTERVAL_MS",
        "20000",
        "Checkpoints = Kafka transaction commits (decision 0004: the alerts' p99 against read_committed lag)",
    ),
    Variable("FRAUDLAKE_JOB_STATE_TTL_DAYS", "90", "Customer history idle this long is forgotten"),
    Variable("FRAUDLAKE_JOB_PROFILE_CACHE_S", "600", "How long a looked-up customer profile is cached"),
    Variable(
        "FRAUDLAKE_JOB_ALERTS_DELIVERY", "at-least-once", "fraud-alerts sink: at-least-once or exactly-once"
    ),
    Variable(
        "FRAUDLAKE_SAVEPOINT_INTERVAL_MINUTES",
        "60",
        "flink_savepoints takes a savepoint every this many minutes",
    ),
    Variable("FRAUDLAKE_SAVEPOINT_KEEP", "10", "Savepoints kept at least (the newest completed ones)"),
    Variable("FRAUDLAKE_SAVEPOINT_MAX_AGE_HOURS", "24", "... and every savepoint younger than this"),
    Variable(
        "FRAUDLAKE_DEPLOY_GATE_TIMEOUT_S",
        "300",
        "rules_deploy: seconds the new rules have to prove healthy before the deploy rolls back",
    ),
    Variable("FRAUDLAKE_DEMO_RATE", "20", "Payments/s of the demo traffic `up` starts (0: none)"),
    Variable(
        "FRAUDLAKE_SINK_GROUP_ID", "fraudlake-bronze", "Kafka group whose offsets the Bronze sink commits"
    ),
    Variable(
        "FRAUDLAKE_SINK_FLUSH_ROWS", "50000", "Bronze sink: write a partition's batch at this many rows"
    ),
    Variable(
        "FRAUDLAKE_SINK_FLUSH_SECONDS", "60", "Bronze sink: ... or when its oldest record waited this long"
    ),
    Variable(
        "FRAUDLAKE_SINK_CRASH_AT",
        "(none)",
        "Tests only: kill the sink at before-upload, mid-upload or after-upload",
    ),
)


@dataclass(frozen=True)
class Settings:
    """Resolved configuration. Build it with `Settings.from_env()`."""

    home: Path
    cache_dir: Path
    bind_host: str
    java_home: Path | None
    pg_port: int
    pg_os_user: str
    pg_bin_dir: Path
    pg_database: str
    kafka_port: int
    kafka_controller_port: int
    kafka_heap: str
    minio_port: int
    minio_console_port: int
    flink_rest_port: int
    flink_rpc_port: int
    flink_blob_port: int
    flink_tm_rpc_port: int
    flink_tm_data_port: int
    flink_task_slots: int
    flink_jm_memory: str
    flink_tm_memory: str
    flink_state_storage: str
    airflow_port: int
    airflow_parallelism: int
    superset_port: int
    superset_threads: int
    lakehouse_interval_minutes: int
    start_timeout: int
    job_rules: Path | None
    job_parallelism: int
    job_group_id: str
    job_watermark_delay_ms: int
    job_idle_timeout_ms: int
    job_checkpoint_interval_ms: int
    job_state_ttl_days: int
    job_profile_cache_s: int
    job_alerts_delivery: str
    savepoint_interval_minutes: int
    savepoint_keep: int
    savepoint_max_age_hours: int
    deploy_gate_timeout_s: int
    demo_rate: int
    sink_group_id: str
    sink_flush_rows: int
    sink_flush_seconds: int
    sink_crash_at: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        reader = _Reader(env)
        settings = cls(
            home=reader.path("FRAUDLAKE_HOME", PROJECT_ROOT / ".fraudlake"),
            cache_dir=reader.path("FRAUDLAKE_CACHE_DIR", _default_cache(env)),
            bind_host=reader.text("FRAUDLAKE_BIND_HOST"),
            java_home=reader.optional_path("FRAUDLAKE_JAVA_HOME"),
            pg_port=reader.port("FRAUDLAKE_PG_PORT"),
            pg_os_user=reader.text("FRAUDLAKE_PG_OS_USER"),
            pg_bin_dir=reader.path("FRAUDLAKE_PG_BIN_DIR"),
            pg_database=reader.identifier("FRAUDLAKE_PG_DATABASE"),
            kafka_port=reader.port("FRAUDLAKE_KAFKA_PORT"),
            kafka_controller_port=reader.port("FRAUDLAKE_KAFKA_CONTROLLER_PORT"),
            kafka_heap=reader.memory("FRAUDLAKE_KAFKA_HEAP"),
            minio_port=reader.port("FRAUDLAKE_MINIO_PORT"),
            minio_console_port=reader.port("FRAUDLAKE_MINIO_CONSOLE_PORT"),
            flink_rest_port=reader.port("FRAUDLAKE_FLINK_REST_PORT"),
            flink_rpc_port=reader.port("FRAUDLAKE_FLINK_RPC_PORT"),
            flink_blob_port=reader.port("FRAUDLAKE_FLINK_BLOB_PORT"),
            flink_tm_rpc_port=reader.port("FRAUDLAKE_FLINK_TM_RPC_PORT"),
            flink_tm_data_port=reader.port("FRAUDLAKE_FLINK_TM_DATA_PORT"),
            flink_task_slots=reader.integer("FRAUDLAKE_FLINK_TASK_SLOTS", low=1, high=64),
            flink_jm_memory=reader.memory("FRAUDLAKE_FLINK_JM_MEMORY"),
            flink_tm_memory=reader.memory("FRAUDLAKE_FLINK_TM_MEMORY"),
            flink_state_storage=reader.choice("FRAUDLAKE_FLINK_STATE_STORAGE", ("s3", "local")),
            airflow_port=reader.port("FRAUDLAKE_AIRFLOW_PORT"),
            airflow_parallelism=reader.integer("FRAUDLAKE_AIRFLOW_PARALLELISM", low=1, high=64),
            superset_port=reader.port("FRAUDLAKE_SUPERSET_PORT"),
            superset_threads=reader.integer("FRAUDLAKE_SUPERSET_THREADS", low=1, high=64),
            lakehouse_interval_minutes=reader.integer(
                "FRAUDLAKE_LAKEHOUSE_INTERVAL_MINUTES", low=1, high=1440
            ),
            start_timeout=reader.integer("FRAUDLAKE_START_TIMEOUT", low=5, high=3600),
            job_rules=reader.optional_path("FRAUDLAKE_JOB_RULES"),
            job_parallelism=reader.integer("FRAUDLAKE_JOB_PARALLELISM", low=1, high=64),
            job_group_id=reader.text("FRAUDLAKE_JOB_GROUP_ID"),
            job_watermark_delay_ms=reader.integer("FRAUDLAKE_JOB_WATERMARK_DELAY_MS", low=0, high=3_600_000),
            job_idle_timeout_ms=reader.integer("FRAUDLAKE_JOB_IDLE_TIMEOUT_MS", low=1, high=3_600_000),
            job_checkpoint_interval_ms=reader.integer(
                "FRAUDLAKE_JOB_CHECKPOINT_INTERVAL_MS", low=100, high=3_600_000
            ),
            job_state_ttl_days=reader.integer("FRAUDLAKE_JOB_STATE_TTL_DAYS", low=1, high=3650),
            job_profile_cache_s=reader.integer("FRAUDLAKE_JOB_PROFILE_CACHE_S", low=0, high=86_400),
            job_alerts_delivery=reader.choice(
                "FRAUDLAKE_JOB_ALERTS_DELIVERY", ("at-least-once", "exactly-once")
            ),
            savepoint_interval_minutes=reader.integer(
                "FRAUDLAKE_SAVEPOINT_INTERVAL_MINUTES", low=1, high=10_080
            ),
            savepoint_keep=reader.integer("FRAUDLAKE_SAVEPOINT_KEEP", low=1, high=1000),
            savepoint_max_age_hours=reader.integer("FRAUDLAKE_SAVEPOINT_MAX_AGE_HOURS", low=0, high=8760),
            deploy_gate_timeout_s=reader.integer("FRAUDLAKE_DEPLOY_GATE_TIMEOUT_S", low=1, high=3600),
            demo_rate=reader.integer("FRAUDLAKE_DEMO_RATE", low=0, high=100_000),
            sink_group_id=reader.text("FRAUDLAKE_SINK_GROUP_ID"),
            sink_flush_rows=reader.integer("FRAUDLAKE_SINK_FLUSH_ROWS", low=1, high=10_000_000),
            sink_flush_seconds=reader.integer("FRAUDLAKE_SINK_FLUSH_SECONDS", low=1, high=86_400),
            sink_crash_at=reader.choice(
                "FRAUDLAKE_SINK_CRASH_AT", ("", "before-upload", "mid-upload", "after-upload"), default=""
            ),
        )
        settings.check_ports_distinct()
        return settings

    def check_ports_distinct(self) -> None:
        seen: dict[int, str] = {}
        for field in fields(self):
            if not field.name.endswith("_port"):
                continue
            port = getattr(self, field.name)
            variable = "FRAUDLAKE_" + field.name.upper()
            if port in seen:
                raise ConfigError(f"{variable}: port {port} is already used by {seen[port]}")
            seen[port] = variable

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"


def _default_cache(env: Mapping[str, str]) -> Path:
    xdg = env.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path(env.get("HOME", str(Path.home()))) / ".cache"
    return base / "fraudlake"


class _Reader:
    """Parses typed values out of the environment, naming the variable on error. A variable that is
    not set takes its documented default from VARIABLES, parsed and checked the same way, so each
    default is written once."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self._documented = {v.name: v.default for v in VARIABLES}

    def _raw(self, name: str) -> str | None:
        value = self._env.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def text(self, name: str) -> str:
        return self._raw(name) or self._documented[name]

    def identifier(self, name: str) -> str:
        value = self.text(name)
        if not value.replace("_", "").isalnum() or not value[0].isalpha():
            raise ConfigError(f"{name}: expected letters, digits and '_' (a SQL name), got {value!r}")
        return value

    def path(self, name: str, default: Path | None = None) -> Path:
        raw = self._raw(name)
        if raw is None and default is not None:
            return default
        return Path(raw or self._documented[name]).expanduser().resolve()

    def optional_path(self, name: str) -> Path | None:
        raw = self._raw(name)
        return Path(raw).expanduser() if raw else None

    def integer(self, name: str, *, low: int, high: int) -> int:
        raw = self.text(name)
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name}: expected an integer, got {raw!r}") from None
        if not low <= value <= high:
            raise ConfigError(f"{name}: expected {low}..{high}, got {value}")
        return value

    def port(self, name: str) -> int:
        return self.integer(name, low=1, high=65535)

    def memory(self, name: str) -> str:
        value = self.text(name).lower()
        number, unit = value[:-1], value[-1:]
        if unit not in ("m", "g") or not number.isdigit() or int(number) == 0:
            raise ConfigError(f"{name}: expected a size such as 512m or 2g, got {value!r}")
        return value

    def choice(self, name: str, allowed: tuple[str, ...], default: str | None = None) -> str:
        value = (self._raw(name) or (self._documented[name] if default is None else default)).lower()
        if value not in allowed:
            raise ConfigError(f"{name}: expected one of {', '.join(allowed)}, got {value!r}")
        return value
