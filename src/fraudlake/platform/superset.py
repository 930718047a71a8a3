"""Superset 6.1: the fraud KPI dashboards over Gold, as one gunicorn worker.

Superset pins its own libraries, so it runs from a venv of its own, keyed by its pins. Metadata
lives in PostgreSQL (database `superset`, role fraudlake_superset); its connection to the
warehouse is the read-only role fraudlake_dashboards (schema `gold` only), whose password is given
at import time and never written into `superset/`. `provision` imports the dashboards kept as
code in `superset/` (see `fraudlake.dashboards`).
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from psycopg import sql

from fraudlake.platform import artifacts, process
from fraudlake.platform.postgres import DASHBOARDS_ROLE, SUPERSET_ROLE, SUPERUSER, Postgres
from fraudlake.platform.service import Port, Service
from fraudlake.platform.versions import SUPERSET_VERSION

if TYPE_CHECKING:
    from fraudlake.dashboards.bundle import Warehouse
    from fraudlake.dashboards.client import SupersetClient
    from fraudlake.dashboards.importer import Imported

PINS = (
    f"apache-superset=={SUPERSET_VERSION}",
    "psycopg2-binary==2.9.13",
    # Superset 6.1 imports rich without declaring it, breaks with flask-caching 2.5, and its
    # PostgreSQL engine spec needs cachetools (measured, ../shared/ENGINES.md).
    "rich==15.0.0",
    "flask-caching==2.4.1",
    "cachetools==8.0.2",
)
DATABASE = "superset"
DASHBOARDS = ("fraud-overview", "detection-quality", "rules", "operations")
"""The slugs of the dashboards in superset/, in the order `up` lists them."""
ADMIN = "admin"
CONFIG = Path(__file__).with_name("resources") / "superset_config.py"


class Superset(Service):
    name = "superset"
    processes = ("superset",)

    @property
    def venv(self) -> Path:
        key = hashlib.sha256("\n".join(PINS).encode()).hexdigest()[:10]
        return self.ctx.cache("venvs", f"superset-{SUPERSET_VERSION}-{key}")

    @property
    def home(self) -> Path:
        return self.ctx.data("superset")

    @property
    def url(self) -> str:
        return f"http://{self.settings.local_host}:{self.settings.superset_port}"

    def ports(self) -> list[Port]:
        return [Port("FRAUDLAKE_SUPERSET_PORT", self.settings.superset_port)]

    def install(self) -> bool:
        return artifacts.ensure_dir(
            self.venv, lambda dest: artifacts.python_venv(self.name, dest, list(PINS)), in_place=True
        )

    def env(self) -> dict[str, str]:
        meta = Postgres(self.ctx).endpoint(SUPERSET_ROLE, DATABASE)
        return {
            **os.environ,
            "PATH": f"{self.venv / 'bin'}:{os.environ.get('PATH', '')}",
            "SUPERSET_HOME": str(self.home),
            "SUPERSET_CONFIG_PATH": str(CONFIG),
            "FLASK_APP": "superset",
            "FRAUDLAKE_SUPERSET_SECRET_KEY": self.ctx.secrets["superset_secret_key"],
            "FRAUDLAKE_SUPERSET_METADATA_URI": (
                f"postgresql+psycopg2://{meta.user}:{meta.password}@{meta.host}:{meta.port}/{meta.database}"
            ),
        }

    def command(self, *args: str) -> list[str]:
        return [str(self.venv / "bin" / "superset"), *args]

    def start(self) -> None:
        if self.running()["superset"] is None:
            self.check_ports_free()
            self._database()
            self.home.mkdir(parents=True, exist_ok=True)
            self._initialise()
            threads = self.settings.superset_threads
            process.start_detached(
                [
                    str(self.venv / "bin" / "gunicorn"),
                    "--workers=1",
                    "--worker-class=gthread",
                    f"--threads={threads}",
                    "--timeout=120",
                    f"--bind={self.settings.bind_host}:{self.settings.superset_port}",
                    "--limit-request-line=0",
                    "--limit-request-field_size=0",
                    "superset.app:create_app()",
                ],
                pid_file=self.pid_file("superset"),
                log_file=self.log_file("superset"),
                env=self.env(),
                cwd=self.home,
            )
        self.wait_until("superset", self.probe)

    def _database(self) -> None:
        """Role and database for Superset's metadata; idempotent."""
        pg = Postgres(self.ctx)
        with pg.connect(SUPERUSER, "postgres") as conn:
            conn.autocommit = True
            pg.ensure_role_and_database(conn, SUPERSET_ROLE, DATABASE)
            conn.execute(sql.SQL("revoke all on database {} from public").format(sql.Identifier(DATABASE)))

    def _initialise(self) -> None:
        """Migrate the metadata, create the admin and the default roles; once per version (~30 s),
        marked in the state folder, since a second `superset init` only costs time."""
        stamp = self.home / f".initialised-{SUPERSET_VERSION}"
        if stamp.exists():
            return
        env, fix = self.env(), "read the output above; `fraudlake logs postgres` if the database refused"
        artifacts.run(self.name, self.command("db", "upgrade"), fix=fix, env=env, cwd=self.home)
        password = self.ctx.secrets["superset_admin_password"]
        artifacts.run(
            self.name,
            self.command(
                "fab",
                "create-admin",
                "--username",
                ADMIN,
                "--firstname",
                "fraudlake",
                "--lastname",
                "admin",
                "--email",
                "admin@fraudlake.local",
                "--password",
                password,
            ),
            fix=fix,
            env=env,
            cwd=self.home,
        )
        artifacts.run(
            self.name,
            self.command("fab", "reset-password", "--username", ADMIN, "--password", password),
            fix=fix,
            env=env,
            cwd=self.home,
        )
        artifacts.run(self.name, self.command("init"), fix=fix, env=env, cwd=self.home)
        stamp.touch()

    def probe(self) -> str | None:
        url = f"{self.url}/health"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (http to localhost)
                body = response.read().decode(errors="replace").strip()
                return None if body == "OK" else f"{url} answered {body[:80]!r}"
        except (urllib.error.URLError, OSError) as exc:
            return f"{url}: {exc}"

    def provision(self) -> None:
        self.import_dashboards()

    def import_dashboards(self) -> Imported:
        """superset/ into this Superset, over the platform's Gold (see fraudlake.dashboards)."""
        from fraudlake.dashboards import importer

        return importer.import_tree(self.client(), self.warehouse(), self.home / "imported-assets.json")

    def warehouse(self) -> Warehouse:
        from fraudlake.dashboards.bundle import Warehouse

        reader = Postgres(self.ctx).endpoint(DASHBOARDS_ROLE)
        return Warehouse(reader.user, reader.password, reader.host, reader.port, reader.database)

    def client(self) -> SupersetClient:
        from fraudlake.dashboards.client import SupersetClient

        return SupersetClient(self.url, ADMIN, self.ctx.secrets["superset_admin_password"])

    def connection(self, show_secrets: bool) -> dict[str, Any]:
        details: dict[str, Any] = {"url": self.url, "user": ADMIN}
        if show_secrets:
            details["password"] = self.ctx.secrets["superset_admin_password"]
        return details
