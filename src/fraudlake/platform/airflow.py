"""Airflow 3: API server and UI, scheduler, DAG processor and triggerer, each a process of its own.

Airflow pins its own libraries, so it runs from a venv of its own, keyed by its pins and the
project's runtime dependencies (the DAGs import fraudlake's packages from the checkout). Metadata
lives in PostgreSQL (database `airflow`, role fraudlake_airflow); the DAGs reach the platform
through connections given as AIRFLOW_CONN_* variables, never through the UI; the admin password
is generated with the platform's other secrets.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from fraudlake import retry
from fraudlake.config import PROJECT_ROOT, SOURCE_ROOTS
from fraudlake.platform import artifacts, dbt, process
from fraudlake.platform.errors import PlatformError
from fraudlake.platform.flink import Flink
from fraudlake.platform.minio import LAKE, Minio
from fraudlake.platform.postgres import AIRFLOW_ROLE, APP_ROLE, SUPERUSER, TRANSFORM_ROLE, Postgres
from fraudlake.platform.service import Port, Service
from fraudlake.platform.versions import AIRFLOW_VERSION

PINS = (
    f"apache-airflow=={AIRFLOW_VERSION}",
    "apache-airflow-providers-postgres==7.1.1",
    "apache-airflow-providers-standard==1.21.0",
)
DATABASE = "airflow"
ADMIN = "admin"
DAGS = PROJECT_ROOT / "dags"
DAG_IDS = ("lakehouse_refresh", "flink_savepoints", "rules_deploy", "rules_backtest")


def requirements() -> list[str]:
    """Airflow's pins and the project's own runtime dependencies (pyproject.toml)."""
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    return [*PINS, *project["dependencies"]]


@dataclass(frozen=True)
class Run:
    state: str
    seconds: float
    failures: dict[str, list[str]]
    """Failed task -> the error lines of its log."""


TASK_HEARTBEAT_TIMEOUT_S = 60

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
"""Airflow's components, each a process of its own: `airflow standalone` runs them as children and
does not restart one that exits (its scheduler, DAG processor and triggerer all exit when
PostgreSQL goes away), so a supervisor watching its one pid saw Airflow up with nothing scheduling."""


class Airflow(Service):
    name = "airflow"
    processes = tuple(f"airflow-{component}" for component in COMPONENTS)

    @property
    def venv(self) -> Path:
        key = hashlib.sha256("\n".join(requirements()).encode()).hexdigest()[:10]
        return self.ctx.cache("venvs", f"airflow-{AIRFLOW_VERSION}-{key}")

    @property
    def home(self) -> Path:
        return self.ctx.data("airflow")

    @property
    def url(self) -> str:
        return f"http://{self.settings.reach('airflow')}:{self.settings.airflow_port}"

    def ports(self) -> list[Port]:
        return [Port("FRAUDLAKE_AIRFLOW_PORT", self.settings.airflow_port)]

    def install(self) -> bool:
        """Airflow's venv, and dbt's for the lakehouse DAG: everything a task runs is in place
        before Airflow starts, so no task installs anything."""
        built = artifacts.ensure_dir(
            self.venv, lambda dest: artifacts.python_venv(self.name, dest, requirements()), in_place=True
        )
        return dbt.install(self.ctx) or built

    def env(self) -> dict[str, str]:
        """Airflow's configuration and connections, for the daemon and for `airflow` commands."""
        pg = Postgres(self.ctx)
        meta = pg.endpoint(AIRFLOW_ROLE, DATABASE)
        app, transform = pg.endpoint(APP_ROLE), pg.endpoint(TRANSFORM_ROLE)
        secrets = self.ctx.secrets
        postgres = {
            name: {
                "conn_type": "postgres",
                "host": endpoint.host,
                "port": endpoint.port,
                "login": endpoint.user,
                "password": endpoint.password,
                "schema": endpoint.database,
            }
            for name, endpoint in (("FRAUDLAKE_POSTGRES", app), ("FRAUDLAKE_TRANSFORM", transform))
        }
        connections = {
            **postgres,
            "FRAUDLAKE_MINIO": {
                "conn_type": "generic",
                "host": Minio(self.ctx).endpoint,
                "login": LAKE.user,
                "password": secrets[LAKE.secret],
            },
            "FRAUDLAKE_FLINK": {"conn_type": "generic", "host": Flink(self.ctx).rest_url},
        }
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(self.home),
            # what Airflow runs by name comes from its venv
            "PATH": f"{self.venv / 'bin'}:{os.environ.get('PATH', '')}",
            "PYTHONPATH": ":".join(map(str, SOURCE_ROOTS)),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(self.settings.airflow_parallelism),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.passwords_file),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": (
                f"postgresql+psycopg2://{meta.user}:{meta.password}@{meta.host}:{meta.port}/{meta.database}"
            ),
            "AIRFLOW__API__HOST": self.settings.bind_host,
            "AIRFLOW__API__PORT": str(self.settings.airflow_port),
            # the address a browser opens (published there by compose too), and the one the
            # scheduler's task processes report to (the API server's, from beside or another container)
            "AIRFLOW__API__BASE_URL": f"http://{self.settings.local_host}:{self.settings.airflow_port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            # a task whose process died with the scheduler is failed (and retried) after 60 s of
            # silence, not the default 300 s; a live task heartbeats every few seconds
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(TASK_HEARTBEAT_TIMEOUT_S),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.settings.log_dir / "airflow"),
        }
        env |= {f"AIRFLOW_CONN_{name}": json.dumps(conn) for name, conn in connections.items()}
        return env

    @property
    def passwords_file(self) -> Path:
        return self.home / "simple_auth_manager_passwords.json"

    def command(self, *args: str) -> list[str]:
        return [str(self.venv / "bin" / "airflow"), *args]

    def start(self) -> None:
        """Start the components that are not running; the database, its migrations and the admin's
        password first when none is."""
        running = self.running()
        missing = [c for c in COMPONENTS if running[f"airflow-{c}"] is None]
        if running["airflow-api-server"] is None:
            self.check_ports_free()
        env = self.env()
        if len(missing) == len(COMPONENTS):
            self._database()
            self.migrate(env)
        for component in missing:
            process.start_detached(
                self.command(component),
                pid_file=self.pid_file(f"airflow-{component}"),
                log_file=self.log_file(f"airflow-{component}"),
                env=env,
                cwd=self.home,
            )
        self.wait_until("airflow", self.probe)

    def migrate(self, env: dict[str, str]) -> None:
        """The admin's password file and the metadata schema at this version (idempotent)."""
        self.write_passwords()
        artifacts.run(
            self.name,
            self.command("db", "migrate"),
            fix="read the output above; `fraudlake logs postgres` if the database refused",
            env=env,
        )

    def write_passwords(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.passwords_file.write_text(json.dumps({ADMIN: self.ctx.secrets["airflow_admin_password"]}))
        self.passwords_file.chmod(0o600)

    def run_component(self, component: str) -> None:
        """Replace this process by one Airflow component in the foreground (a container's main
        process: its orchestrator restarts it), configured as `up` configures it."""
        self.write_passwords()
        os.chdir(self.home)
        command = self.command(component)
        os.execve(command[0], command, self.env())  # noqa: S606 (our venv's airflow, no shell)

    def _database(self) -> None:
        """Role and database for Airflow's metadata; idempotent."""
        pg = Postgres(self.ctx)
        with pg.connect(SUPERUSER, "postgres") as conn:
            conn.autocommit = True
            pg.ensure_role_and_database(conn, AIRFLOW_ROLE, DATABASE)

    def health_report(self) -> dict[str, dict[str, Any]]:
        """Component -> its status and latest heartbeat, as the API server reports them."""
        return self._get("/api/v2/monitor/health")

    def probe(self) -> str | None:
        try:
            health = self.health_report()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return f"{self.url}: {exc}"
        sick = [part for part, state in health.items() if state.get("status") not in {"healthy", None}]
        return f"unhealthy: {', '.join(sick)}" if sick else None

    def provision(self) -> None:
        """Wait until the DAG processor has parsed our DAGs; an import error stops `up` with its text."""
        self.wait_until("the DAGs", self._dags_parsed)

    def _dags_parsed(self) -> str | None:
        errors = self.api("GET", "/api/v2/importErrors")["import_errors"]
        if errors:
            raise PlatformError(
                self.name,
                "DAG import errors:\n    " + "\n    ".join(e["stack_trace"][-600:] for e in errors),
                f"fix the DAG files in {DAGS}; they are re-read every 30 s",
            )
        listed = {d["dag_id"] for d in self.api("GET", "/api/v2/dags")["dags"]}
        missing = [dag for dag in DAG_IDS if dag not in listed]
        return f"not parsed yet: {', '.join(missing)}" if missing else None

    def _get(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + path, timeout=5) as response:  # noqa: S310 (localhost)
            answer: dict[str, Any] = json.load(response)
            return answer

    @cached_property
    def token(self) -> str:
        """The admin's REST token, fetched once per client (valid for hours; a CLI call is short)."""
        body = {"username": ADMIN, "password": self.ctx.secrets["airflow_admin_password"]}
        request = urllib.request.Request(  # noqa: S310 (http to localhost)
            self.url + "/auth/token",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return str(json.load(response)["access_token"])

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One call of the REST API v2, authenticated as the admin."""
        request = urllib.request.Request(  # noqa: S310 (http to localhost)
            self.url + path,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
            method=method,
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                answer: dict[str, Any] = json.load(response)
                return answer
        except urllib.error.HTTPError as exc:
            raise PlatformError(
                self.name,
                f"{method} {path} answered {exc.code}: {exc.read().decode(errors='replace')[:500]}",
                "see `fraudlake logs airflow`",
            ) from exc

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """Start a run of `dag_id` now (REST API); its run id. A paused DAG would queue the run
        forever, so that is refused by name instead."""
        if self.api("GET", f"/api/v2/dags/{dag_id}")["is_paused"]:
            raise PlatformError(
                self.name,
                f"{dag_id} is paused: a triggered run would wait until it is unpaused",
                f"unpause it in the UI ({self.url}/dags/{dag_id}) or with "
                f'PATCH /api/v2/dags/{dag_id} {{"is_paused": false}}',
            )
        body = {"logical_date": None, "conf": conf or {}}
        return str(self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"])

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 1800) -> Run:
        """Poll the run until it ends; failed tasks come with the error lines of their logs."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}"
        started = time.monotonic()
        state = retry.poll(
            lambda: str(self.api("GET", path)["state"]),
            done=lambda state: state in {"success", "failed"},
            deadline_s=timeout,
            interval_s=2,
        )
        if state not in {"success", "failed"}:
            raise PlatformError(self.name, f"{dag_id} run {run_id} still {state} after {timeout:.0f}s", "")
        failures = {}
        for ti in self.api("GET", f"{path}/taskInstances")["task_instances"]:
            if ti["state"] in {"failed", "upstream_failed"}:
                failures[ti["task_id"]] = self._error_lines(f"{path}/taskInstances/{ti['task_id']}", ti)
        return Run(state, time.monotonic() - started, failures)

    def _error_lines(self, path: str, ti: dict[str, Any]) -> list[str]:
        if ti["state"] == "upstream_failed" or not ti.get("try_number"):
            return [ti["state"]]
        content = self.api("GET", f"{path}/logs/{ti['try_number']}?full_content=true")["content"]
        lines = []
        for entry in content:
            if not isinstance(entry, dict) or entry.get("level") not in {"error", "critical"}:
                continue
            lines.append(str(entry.get("event")))
            for detail in entry.get("error_detail") or []:
                message = str(detail.get("exc_value", "")).splitlines()[:3]
                lines.append(f"{detail.get('exc_type')}: " + " / ".join(message))
        return lines[-12:]

    def connection(self, show_secrets: bool) -> dict[str, Any]:
        details: dict[str, Any] = {"url": self.url, "user": ADMIN, "dags": list(DAG_IDS)}
        if show_secrets:
            details["password"] = self.ctx.secrets["airflow_admin_password"]
        return details
