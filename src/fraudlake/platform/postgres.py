"""PostgreSQL from Debian's packages, run by a dedicated OS user with its data in the state folder.

Roles follow least privilege: `fraudlake_app` owns the platform database and writes operational
data and Bronze; `fraudlake_transform` (dbt) reads those and builds staging, silver and gold;
`fraudlake_stream` (the streaming job) can connect and read the `ops` schema, nothing else;
`fraudlake_dashboards` (Superset's warehouse connection) reads the `gold` schema, nothing else.
"""

from __future__ import annotations

import errno
import hashlib
import os
import pwd
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from fraudlake import ops
from fraudlake.platform import artifacts, process, state_folder
from fraudlake.platform.errors import PlatformError
from fraudlake.platform.service import Port, Service
from fraudlake.platform.versions import POSTGRES_MAJOR
from fraudlake.topics import BRONZE_SCHEMA

SUPERUSER = "postgres"
APP_ROLE = "fraudlake_app"
STREAM_ROLE = "fraudlake_stream"
AIRFLOW_ROLE = "fraudlake_airflow"
"""Owns the `airflow` database (Airflow's metadata); no access to the platform database."""
SUPERSET_ROLE = "fraudlake_superset"
"""Owns the `superset` database (Superset's metadata); no access to the platform database."""
DASHBOARDS_ROLE = "fraudlake_dashboards"
"""Superset's connection to the warehouse: read-only, schema `gold` only."""
TRANSFORM_ROLE = "fraudlake_transform"
"""dbt's: reads Bronze and `ops`, owns the schemas it builds (staging, silver, gold and the tests'
prefixed ones); it cannot write Bronze or `ops`."""
TRANSFORMED = ("staging", "silver", "gold")
"""The platform's schemas dbt builds."""
DATA_ROOT = Path("/var/lib/fraudlake")
"""Under root, where the dedicated OS user keeps the data folders (one per state folder)."""
OPS_SCHEMA = "ops"
GOLD_SCHEMA = "gold"


NAMES = {
    "ops": OPS_SCHEMA,
    "bronze": BRONZE_SCHEMA,
    "gold": GOLD_SCHEMA,
    "app": APP_ROLE,
    "stream": STREAM_ROLE,
    "dashboards": DASHBOARDS_ROLE,
    "transform": TRANSFORM_ROLE,
}
SCHEMA_GRANTS = (
    "revoke create on schema public from public",
    "create schema if not exists {ops} authorization {app}",
    "revoke all on schema {ops} from public",
    "grant usage on schema {ops} to {stream}",
    "grant select on all tables in schema {ops} to {stream}",
    "alter default privileges for role {app} in schema {ops} grant select on tables to {stream}",
    # the transform reads what the app role writes (Bronze, ops, the tests' private Bronze
    # schemas), now and later
    "create schema if not exists {bronze} authorization {app}",
    "grant usage on schema {ops}, {bronze} to {transform}",
    "grant select on all tables in schema {ops}, {bronze} to {transform}",
    "alter default privileges for role {app} grant usage on schemas to {transform}",
    "alter default privileges for role {app} grant select on tables to {transform}",
    # ... and the app role (tests, the CLI) reads what dbt builds
    "alter default privileges for role {transform} grant usage on schemas to {app}",
    "alter default privileges for role {transform} grant select on tables to {app}",
    # dbt rebuilds Gold's tables on every run: default privileges give each new table to the
    # dashboards' reader
    "create schema if not exists {gold} authorization {transform}",
    "revoke all on schema {gold} from public",
    "grant usage on schema {gold} to {dashboards}",
    "grant select on all tables in schema {gold} to {dashboards}",
    "alter default privileges for role {transform} in schema {gold} grant select on tables to {dashboards}",
)
"""What the platform database grants, in order, with NAMES filled in; docker/postgres's script runs
the same statements (a test compares them)."""


@dataclass(frozen=True)
class Endpoint:
    """Where and as whom to connect: from the platform's secrets, or from an Airflow connection."""

    host: str
    port: int
    user: str
    password: str
    database: str

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=self.database,
            connect_timeout=3,
        )


class Postgres(Service):
    name = "postgres"
    processes = ("postgres",)
    stop_signal = signal.SIGINT  # "fast" shutdown: roll back clients, checkpoint, exit

    @property
    def datadir(self) -> Path:
        """In the state folder, or under root in a folder of the dedicated user's own below
        DATA_ROOT: reaching one in the checkout would take search permission on each of its parent
        folders (a home folder among them) for everyone."""
        if self.os_user is None:
            return self.ctx.data("postgres")
        return self.owned_folder / "postgres"

    @property
    def owned_folder(self) -> Path:
        """Under root: the dedicated user's folder for this state folder (`reset` deletes it)."""
        digest = hashlib.sha256(str(self.settings.home).encode()).hexdigest()[:16]
        return DATA_ROOT / digest

    @property
    def os_user(self) -> str | None:
        """The OS user that runs the server: a dedicated one under root, else ourselves."""
        return self.settings.pg_os_user if os.geteuid() == 0 else None

    def ports(self) -> list[Port]:
        return [Port("FRAUDLAKE_PG_PORT", self.settings.pg_port)]

    def install(self) -> bool:
        if (self.settings.pg_bin_dir / "postgres").exists():
            return False
        artifacts.apt_install(self.name, [f"postgresql-{POSTGRES_MAJOR}"])
        if not (self.settings.pg_bin_dir / "postgres").exists():
            raise PlatformError(
                self.name,
                f"no postgres binary in {self.settings.pg_bin_dir} after installing",
                "set FRAUDLAKE_PG_BIN_DIR to the folder holding `postgres` and `initdb`",
            )
        return True

    def start(self) -> None:
        if self.running()["postgres"] is None:
            self._prepare_datadir()
            self.check_ports_free()
            host, port = self.settings.bind_host, self.settings.pg_port
            process.start_detached(
                [
                    str(self.settings.pg_bin_dir / "postgres"),
                    "-D",
                    str(self.datadir),
                    "-c",
                    f"listen_addresses={host}",
                    "-c",
                    f"port={port}",
                    "-c",
                    "unix_socket_directories=",
                    "-c",
                    "shared_buffers=128MB",
                    "-c",
                    "max_connections=100",
                ],
                pid_file=self.pid_file("postgres"),
                log_file=self.log_file("postgres"),
                cwd=self.datadir,
                user=self.os_user,
            )
        self.wait_until("postgres", self.probe)

    def probe(self) -> str | None:
        try:
            with self.connect(SUPERUSER, "postgres"):
                return None
        except psycopg.Error as exc:
            return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

    def connect(self, role: str, dbname: str | None = None) -> psycopg.Connection[Any]:
        return self.endpoint(role, dbname).connect()

    def endpoint(self, role: str, dbname: str | None = None) -> Endpoint:
        host, port = self.settings.reach("pg"), self.settings.pg_port
        return Endpoint(host, port, role, self.password(role), dbname or self.settings.pg_database)

    def password(self, role: str) -> str:
        key = {
            SUPERUSER: "pg_superuser_password",
            APP_ROLE: "pg_app_password",
            STREAM_ROLE: "pg_stream_password",
            AIRFLOW_ROLE: "pg_airflow_password",
            SUPERSET_ROLE: "pg_superset_password",
            DASHBOARDS_ROLE: "pg_dashboards_password",
            TRANSFORM_ROLE: "pg_transform_password",
        }[role]
        return self.ctx.secrets[key]

    def provision(self) -> None:
        database = self.settings.pg_database
        with self.connect(SUPERUSER, "postgres") as conn:
            conn.autocommit = True
            self.ensure_role_and_database(conn, APP_ROLE, database)
            conn.execute(sql.SQL("revoke all on database {} from public").format(sql.Identifier(database)))
            for reader in (STREAM_ROLE, DASHBOARDS_ROLE):
                self.ensure_role_and_database(conn, reader)
                conn.execute(
                    sql.SQL("alter role {} set default_transaction_read_only = on").format(
                        sql.Identifier(reader)
                    )
                )
                conn.execute(
                    sql.SQL("grant connect on database {} to {}").format(
                        sql.Identifier(database), sql.Identifier(reader)
                    )
                )
            self.ensure_role_and_database(conn, TRANSFORM_ROLE)
            conn.execute(
                sql.SQL("grant connect, create, temporary on database {} to {}").format(
                    sql.Identifier(database), sql.Identifier(TRANSFORM_ROLE)
                )
            )
        with self.connect(SUPERUSER, database) as conn:
            conn.autocommit = True
            names = {key: sql.Identifier(name) for key, name in NAMES.items()}
            for statement in SCHEMA_GRANTS:
                conn.execute(sql.SQL(statement).format(**names))
            hand_over(conn, TRANSFORMED, APP_ROLE, TRANSFORM_ROLE)
            # until the transform role, dbt's Gold tables were the app role's
            conn.execute(
                sql.SQL("alter default privileges for role {app} in schema {gold} ").format(**names)
                + sql.SQL("revoke select on tables from {dashboards}").format(**names)
            )
        self.migrate_ops()

    def migrate_ops(self) -> None:
        """The ops schema's tables and views at this version, as their owner (idempotent)."""
        with self.connect(APP_ROLE) as conn:
            for ddl in ops.statements():
                conn.execute(ddl)

    def ensure_role_and_database(self, conn: psycopg.Connection[Any], role: str, database: str = "") -> None:
        """Login role with its current password, and (if named) a database it owns; idempotent.
        `conn`: a superuser's, in autocommit mode (CREATE DATABASE cannot run in a transaction)."""
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
        conn.execute(
            sql.SQL(("alter" if exists else "create") + " role {} with login password {}").format(
                sql.Identifier(role), sql.Literal(self.password(role))
            )
        )
        if (
            database
            and not conn.execute("select 1 from pg_database where datname = %s", (database,)).fetchone()
        ):
            conn.execute(
                sql.SQL("create database {} owner {}").format(sql.Identifier(database), sql.Identifier(role))
            )

    def connection(self, show_secrets: bool) -> dict[str, Any]:
        host, port, db = self.settings.reach("pg"), self.settings.pg_port, self.settings.pg_database
        roles = {}
        for role, purpose in (
            (APP_ROLE, "read/write: ops and bronze (the loader, the CLI); reads what dbt builds"),
            (TRANSFORM_ROLE, "dbt: reads bronze and ops, builds staging, silver and gold"),
            (STREAM_ROLE, "read-only: ops schema"),
            (DASHBOARDS_ROLE, "read-only: gold schema (Superset)"),
            (SUPERUSER, "admin"),
        ):
            entry: dict[str, Any] = {"user": role, "purpose": purpose}
            if show_secrets:
                entry["password"] = self.password(role)
                entry["dsn"] = f"postgresql://{role}:{self.password(role)}@{host}:{port}/{db}"
            else:
                entry["dsn"] = f"postgresql://{role}@{host}:{port}/{db}"
            roles[role] = entry
        return {"host": host, "port": port, "database": db, "roles": roles}

    def _prepare_datadir(self) -> None:
        """Create the OS user and its folder, and run initdb once."""
        user = self.os_user
        if user is not None:
            _ensure_os_user(user)
            self._own_folder(user)
        else:
            self.datadir.parent.mkdir(parents=True, exist_ok=True)
        if (self.datadir / "PG_VERSION").exists():
            return
        self.datadir.mkdir(mode=0o700, exist_ok=True)
        pwfile = self.datadir.parent / "initdb.pw"
        pwfile.write_text(self.ctx.secrets["pg_superuser_password"] + "\n")
        pwfile.chmod(0o600)
        try:
            if user is not None:
                entry = pwd.getpwnam(user)
                os.chown(self.datadir, entry.pw_uid, entry.pw_gid)
                os.chown(pwfile, entry.pw_uid, entry.pw_gid)
            artifacts.run(
                self.name,
                [
                    str(self.settings.pg_bin_dir / "initdb"),
                    "-D",
                    str(self.datadir),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-locale",
                ],
                fix=f"remove {self.datadir} (fraudlake reset) and run `fraudlake up` again",
                user=user,
                cwd=self.datadir,
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def _own_folder(self, user: str) -> None:
        """DATA_ROOT (root's, 0755) holds one 0700 folder of `user` per state folder; the state
        folder's `data/postgres` links to it, and a data folder an earlier version kept there moves
        in (the server is stopped: `start` calls this only then)."""
        entry = pwd.getpwnam(user)
        DATA_ROOT.mkdir(mode=0o755, parents=True, exist_ok=True)
        folder = self.owned_folder
        folder.mkdir(mode=0o700, exist_ok=True)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        home, install = self.settings.home, state_folder.install_id(self.settings.home)
        record = folder / "STATE_FOLDER"
        kept = record.read_text().split() if record.exists() else []
        if len(kept) == 2 and kept[1] != install and self.datadir.exists():
            # an earlier state folder at this path was deleted, and its passwords with it: its data
            # went with it too when it lived in the state folder, and goes now
            shutil.rmtree(self.datadir)
            with self.log_file("postgres").open("a") as log:
                log.write(f"\n--- removed {self.datadir}: the data of a deleted state folder at {home}\n")
        record.write_text(f"{home}\n{install}\n")
        link = self.ctx.data("postgres")
        if link.is_dir() and not link.is_symlink():
            if self.datadir.exists():
                raise PlatformError(
                    self.name,
                    f"two data folders: {link} (an earlier version's) and {self.datadir}",
                    "keep the one you want: move the other away, then run `fraudlake up` again",
                )
            _move(link, self.datadir, entry.pw_uid, entry.pw_gid)
        if not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(self.datadir)

    def owned_paths(self) -> list[Path]:
        return [self.owned_folder] if self.os_user is not None else []


def hand_over(conn: psycopg.Connection[Any], schemas: tuple[str, ...], before: str, after: str) -> None:
    """Schemas dbt built as `before` (versions before the transform role), and what they hold,
    now owned by `after`, who reads them to the app role as its default privileges do for new ones."""
    for schema in schemas:
        owner = conn.execute(
            "select pg_get_userbyid(nspowner) from pg_namespace where nspname = %s", [schema]
        ).fetchone()
        if owner is None:
            continue
        name = sql.Identifier(schema)
        if owner[0] == before:
            conn.execute(sql.SQL("alter schema {} owner to {}").format(name, sql.Identifier(after)))
        owned = conn.execute(
            "select c.relname, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = %s and c.relkind in ('r', 'v', 'm', 'p') and pg_get_userbyid(c.relowner) = %s",
            [schema, before],
        ).fetchall()
        for relation, kind in owned:
            what = {"v": "view", "m": "materialized view"}.get(kind, "table")
            conn.execute(
                sql.SQL("alter {} {}.{} owner to {}").format(
                    sql.SQL(what), name, sql.Identifier(relation), sql.Identifier(after)
                )
            )
        conn.execute(sql.SQL("grant usage on schema {} to {}").format(name, sql.Identifier(before)))
        conn.execute(
            sql.SQL("grant select on all tables in schema {} to {}").format(name, sql.Identifier(before))
        )


def _move(source: Path, target: Path, uid: int, gid: int) -> None:
    """Move a stopped server's data folder; across file systems a copy, owned as before (a plain
    copy as root would leave root's files the server cannot open), then the original removed."""
    try:
        source.rename(target)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    shutil.copytree(source, target, symlinks=True)
    for folder, _, files in os.walk(target):
        os.lchown(folder, uid, gid)
        for name in files:
            os.lchown(Path(folder) / name, uid, gid)
    shutil.rmtree(source)


def _ensure_os_user(user: str) -> None:
    try:
        pwd.getpwnam(user)
    except KeyError:
        artifacts.run(
            "postgres",
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                user,
            ],
            fix=f"create the OS user yourself (useradd --system {user}) or set FRAUDLAKE_PG_OS_USER",
        )
