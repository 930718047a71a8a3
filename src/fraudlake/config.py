"""All configuration of fraudlake, read from environment variables in one place.

Each variable is declared once, as a field of `Settings` (its type, default and doc); the parsing,
the error messages, the README's table and `.env.example` all come from that declaration
(`python -m fraudlake.config readme|env` prints the generated parts; a test keeps them equal).
It is plain pydantic over the mapping it is given rather than pydantic-settings' own env source:
tests pass environments as mappings, and the cache folder's default reads XDG_CACHE_HOME from it.
Every variable has a local default that works on a developer machine; a bad value stops with a
message naming the variable. Secrets never live here: they are generated on first `up` and kept in
the state folder (see `fraudlake.platform.secrets`).
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from fraudlake.validation import between, message, refuse

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = tuple(PROJECT_ROOT / room for room in ("src", "flink", "lake"))
"""Where fraudlake's packages live in a checkout: the PYTHONPATH of the engines that import them."""
PREFIX = "FRAUDLAKE_"


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the variable."""


def _memory(value: str) -> str:
    value = value.lower()
    number, unit = value[:-1], value[-1:]
    if unit not in ("m", "g") or not number.isdigit() or int(number) == 0:
        raise refuse("a size such as 512m or 2g", value)
    return value


def _identifier(value: str) -> str:
    if not value.replace("_", "").isalnum() or not value[0].isalpha():
        raise refuse("letters, digits and '_' (a SQL name)", value)
    return value


def _choice(*allowed: str) -> BeforeValidator:
    def check(value: Any) -> str:
        chosen = str(value).lower()
        if chosen not in allowed:
            raise refuse(f"one of {', '.join(a or '(none)' for a in allowed)}", chosen)
        return chosen

    return BeforeValidator(check)


def _resolved(path: Path) -> Path:
    return path.expanduser().resolve()


def _expanded(path: Path | None) -> Path | None:
    return path.expanduser() if path else None


def _ipv4_or_name(host: str) -> str:
    if ":" in host:
        raise refuse("an IPv4 address or a host name (URLs are built as host:port)", host)
    return host


Port = Annotated[int, between(1, 65535)]
Host = Annotated[str, AfterValidator(_ipv4_or_name)]
_BESIDE = "(FRAUDLAKE_BIND_HOST)"
Memory = Annotated[str, AfterValidator(_memory)]
Folder = Annotated[Path, AfterValidator(_resolved)]
OptionalPath = Annotated[Path | None, AfterValidator(_expanded)]


def setting(default: Any, doc: str, *, shown: str | None = None, section: str = "platform") -> Any:
    """A variable's declaration: its default, what it sets, how the docs show the default
    (`shown`, when the default is computed) and its `.env.example` section."""
    return Field(default, description=doc, json_schema_extra={"shown": shown, "section": section})


class Settings(BaseModel):
    """Resolved configuration: field `pg_port` is variable FRAUDLAKE_PG_PORT. Build it with
    `Settings.from_env()`."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True, validate_default=True)

    home: Folder = setting(
        PROJECT_ROOT / ".fraudlake",
        "State folder: data, logs, pid files, secrets",
        shown="<checkout>/.fraudlake",
    )
    cache_dir: Folder = setting(None, "Shared cache of jars, binaries, venvs", shown="~/.cache/fraudlake")
    bind_host: Host = setting(
        "127.0.0.1", "Address every service listens on (loopback only, unless the next is true)"
    )
    allow_remote_bind: bool = setting(
        False,
        "Allow a FRAUDLAKE_BIND_HOST others reach (Kafka and Flink's REST API ask no password)",
        shown="false",
    )
    pg_host: Host = setting("", "Host clients reach PostgreSQL at", shown=_BESIDE)
    kafka_host: Host = setting(
        "",
        "Host(s) clients reach Kafka at, comma-separated (each: a broker on FRAUDLAKE_KAFKA_PORT)",
        shown=_BESIDE,
    )
    minio_host: Host = setting("", "Host clients reach MinIO at", shown=_BESIDE)
    flink_host: Host = setting("", "Host clients reach Flink's JobManager at", shown=_BESIDE)
    airflow_host: Host = setting("", "Host clients reach Airflow's API at", shown=_BESIDE)
    secrets_source: Annotated[str, _choice("file", "env")] = setting(
        "file",
        "Secrets: file (generated into the state folder) or env (FRAUDLAKE_<NAME> variables, e.g. "
        "FRAUDLAKE_PG_APP_PASSWORD, as containers get them; a missing one stops naming it)",
    )
    java_home: OptionalPath = setting(
        None, "JDK for Kafka/Flink", shown="(a Java 17 JDK found on the machine)"
    )
    pg_port: Port = setting(15432, "PostgreSQL port")
    pg_os_user: str = setting("fraudlake", "OS user that runs PostgreSQL when run as root")
    pg_bin_dir: Folder = setting(Path("/usr/lib/postgresql/15/bin"), "PostgreSQL server binaries")
    pg_database: Annotated[str, AfterValidator(_identifier)] = setting("fraudlake", "Platform database")
    kafka_port: Port = setting(19092, "Kafka client (PLAINTEXT) port")
    kafka_controller_port: Port = setting(19093, "Kafka KRaft controller port")
    kafka_heap: Memory = setting("512m", "Kafka broker JVM heap (-Xmx)")
    minio_port: Port = setting(19000, "MinIO S3 API port")
    minio_console_port: Port = setting(19001, "MinIO web console port")
    flink_rest_port: Port = setting(18081, "Flink REST API and Web UI port")
    flink_rpc_port: Port = setting(16123, "Flink JobManager RPC port")
    flink_blob_port: Port = setting(16124, "Flink blob server port")
    flink_tm_data_port: Port = setting(16126, "Flink TaskManager data port")
    flink_task_slots: Annotated[int, between(1, 64)] = setting(4, "Slots of the TaskManager")
    flink_jm_memory: Memory = setting("1024m", "JobManager total process memory")
    flink_tm_memory: Memory = setting("1536m", "TaskManager total process memory")
    flink_python: OptionalPath = setting(
        None,
        "Python the TaskManagers run the job's UDFs with (a cluster's own; compose: its image's)",
        shown="(the local PyFlink venv's)",
    )
    flink_state_storage: Annotated[str, _choice("s3", "local")] = setting(
        "s3", "Checkpoints/savepoints: s3 (MinIO) or local"
    )
    airflow_port: Port = setting(18080, "Airflow UI and REST API port")
    airflow_parallelism: Annotated[int, between(1, 64)] = setting(
        2, "Airflow task slots (each a pre-forked worker)"
    )
    superset_port: Port = setting(18088, "Superset dashboards (UI and REST API) port")
    superset_threads: Annotated[int, between(1, 64)] = setting(
        4, "Superset web server threads (one gunicorn worker: ~300 MB idle)"
    )
    lakehouse_interval_minutes: Annotated[int, between(1, 1440)] = setting(
        3, "lakehouse_refresh runs every this many minutes (3: alert -> Gold within 5 min, decision 0007)"
    )
    start_timeout: Annotated[int, between(5, 3600)] = setting(
        120, "Seconds to wait for one service to become ready"
    )
    job_rules: OptionalPath = setting(
        None, "Rules file the scoring job starts with", shown="(the packaged rules v1)", section="job"
    )
    job_parallelism: Annotated[int, between(1, 64)] = setting(
        1, "Parallelism of the scoring job (<= payments partitions)", section="job"
    )
    job_group_id: str = setting("fraudlake-scoring", "Kafka consumer group of the scoring job", section="job")
    job_watermark_delay_ms: Annotated[int, between(0, 3_600_000)] = setting(
        200, "Out-of-order bound; later payments go to the DLQ", section="job"
    )
    job_idle_timeout_ms: Annotated[int, between(1, 3_600_000)] = setting(
        30000, "A partition silent this long stops holding event time back", section="job"
    )
    job_watermark_alignment_ms: Annotated[int, between(0, 3_600_000)] = setting(
        0,
        "A partition this far ahead in event time waits for the others (0: off), so a backlog is read evenly",
        section="job",
    )
    job_checkpoint_interval_ms: Annotated[int, between(100, 3_600_000)] = setting(
        20000,
        "Checkpoints = Kafka transaction commits (decision 0004: the alerts' p99 against read_committed lag)",
        section="job",
    )
    job_state_ttl_days: Annotated[int, between(1, 3650)] = setting(
        90, "Customer history idle this long is forgotten", section="job"
    )
    job_profile_cache_s: Annotated[int, between(0, 86_400)] = setting(
        600, "How long a looked-up customer profile is cached", section="job"
    )
    job_alerts_delivery: Annotated[str, _choice("at-least-once", "exactly-once")] = setting(
        "at-least-once", "fraud-alerts sink: at-least-once or exactly-once", section="job"
    )
    savepoint_interval_minutes: Annotated[int, between(1, 10_080)] = setting(
        60, "flink_savepoints takes a savepoint every this many minutes", section="job"
    )
    savepoint_keep: Annotated[int, between(1, 1000)] = setting(
        10, "Savepoints kept at least (the newest completed ones)", section="job"
    )
    savepoint_max_age_hours: Annotated[int, between(0, 8760)] = setting(
        24, "... and every savepoint younger than this", section="job"
    )
    deploy_gate_timeout_s: Annotated[int, between(1, 3600)] = setting(
        300,
        "rules_deploy: seconds the new rules have to prove healthy before the deploy rolls back",
        section="job",
    )
    demo_rate: Annotated[int, between(0, 100_000)] = setting(
        20, "Payments/s of the demo traffic `up` starts (0: none)", section="job"
    )
    sink_group_id: str = setting(
        "fraudlake-bronze", "Kafka group whose offsets the Bronze sink commits", section="job"
    )
    sink_flush_rows: Annotated[int, between(1, 10_000_000)] = setting(
        50000, "Bronze sink: write a partition's batch at this many rows", section="job"
    )
    sink_flush_seconds: Annotated[int, between(1, 86_400)] = setting(
        60, "Bronze sink: ... or when its oldest record waited this long", section="job"
    )
    sink_crash_at: Annotated[str, _choice("", "before-upload", "mid-upload", "after-upload")] = setting(
        "",
        "Tests only: kill the sink at before-upload, mid-upload or after-upload",
        shown="(none)",
        section="job",
    )

    @field_validator("cache_dir", mode="before")
    @classmethod
    def _cache_default(cls, value: Any, info: ValidationInfo) -> Any:
        """Unset: under XDG_CACHE_HOME, else ~/.cache, of the environment read."""
        if value is not None:
            return value
        env: Mapping[str, str] = (info.context or {}).get("env", {})
        xdg = env.get("XDG_CACHE_HOME")
        base = Path(xdg) if xdg else Path(env.get("HOME", str(Path.home()))) / ".cache"
        return base / "fraudlake"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        given = {
            name: env[variable(name)]
            for name in cls.model_fields
            if env.get(variable(name), "").strip() != ""
        }
        try:
            settings = cls.model_validate(given, context={"env": env})
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            raise ConfigError(f"{variable(str(error['loc'][0]))}: {message(error)}") from None
        settings.check_ports_distinct()
        settings.check_bind_host()
        return settings

    def check_bind_host(self) -> None:
        """Beyond loopback, what has no authentication is open to everyone who reaches the address:
        refused unless the operator says so."""
        if self.allow_remote_bind or _loopback(self.bind_host):
            return
        raise ConfigError(
            f"{variable('bind_host')}: {self.bind_host} is not a loopback address, and there Kafka "
            "(PLAINTEXT, no authentication: anyone can read payments and write decisions) and Flink's "
            "REST API (job uploads: anyone can run code) would serve everyone who reaches it; bind to "
            f"127.0.0.1, or set {variable('allow_remote_bind')}=true behind a firewall that admits only "
            "trusted hosts"
        )

    def check_ports_distinct(self) -> None:
        seen: dict[int, str] = {}
        for name in type(self).model_fields:
            if not name.endswith("_port"):
                continue
            port = getattr(self, name)
            if port in seen:
                raise ConfigError(f"{variable(name)}: port {port} is already used by {seen[port]}")
            seen[port] = variable(name)

    def reach(self, service: str) -> str:
        """The host clients reach `service` at: its FRAUDLAKE_<SERVICE>_HOST (another container or
        machine), else where this machine's own services are reached (`local_host`)."""
        return getattr(self, f"{service}_host") or self.local_host

    @property
    def local_host(self) -> str:
        """The bind host as reached from beside it: 0.0.0.0 (every address) at 127.0.0.1."""
        return "127.0.0.1" if self.bind_host == "0.0.0.0" else self.bind_host  # noqa: S104 (a comparison)

    @property
    def kafka_bootstrap(self) -> str:
        return ",".join(f"{host}:{self.kafka_port}" for host in self.reach("kafka").split(","))

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"


def _loopback(host: str) -> bool:
    """127.0.0.0/8 or localhost (an IPv6 literal is refused before: URLs are built as host:port)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def variable(field: str) -> str:
    return PREFIX + field.upper()


@dataclass(frozen=True)
class Variable:
    """One documented environment variable, as the README and .env.example show it."""

    name: str
    default: str
    help: str
    section: str


def _variables() -> tuple[Variable, ...]:
    found = []
    for name, info in Settings.model_fields.items():
        extra = info.json_schema_extra
        assert isinstance(extra, dict)
        shown = extra["shown"] or str(info.default)
        found.append(Variable(variable(name), str(shown), info.description or "", str(extra["section"])))
    return tuple(found)


VARIABLES = _variables()
SECTIONS = {
    "platform": "local platform (./fraudlake up)",
    "job": "the scoring job (fraudlake job start), the Bronze sink and the demo traffic of `up`",
}


def readme_table() -> str:
    rows = ["| variable | default | what it sets |", "|---|---|---|"]
    rows += [f"| `{v.name}` | `{v.default}` | {v.help} |" for v in VARIABLES]
    return "\n".join(rows) + "\n"


def env_example() -> str:
    lines = []
    for section, title in SECTIONS.items():
        lines += ["", f"# --- {title} ---"]
        for v in (v for v in VARIABLES if v.section == section):
            computed = v.default.startswith(("<", "~", "("))
            lines += [f"# {v.help}" + (f"; default: {v.default}" if computed else ""), f"{v.name}="]
            if not computed:
                lines[-1] += v.default
    return "\n".join(lines[1:]) + "\n"


if __name__ == "__main__":
    print({"readme": readme_table, "env": env_example}[sys.argv[1]](), end="")
