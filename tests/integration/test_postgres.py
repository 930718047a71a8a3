"""PostgreSQL: each platform role connects; the streaming role reads ops data and writes nothing."""

from __future__ import annotations

import os
import pwd
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from fraudlake.platform import state_folder
from fraudlake.platform.postgres import (
    AIRFLOW_ROLE,
    APP_ROLE,
    DATA_ROOT,
    OPS_SCHEMA,
    STREAM_ROLE,
    SUPERSET_ROLE,
    SUPERUSER,
    TRANSFORM_ROLE,
    Postgres,
    hand_over,
)


@pytest.mark.parametrize("role", [SUPERUSER, APP_ROLE, STREAM_ROLE, TRANSFORM_ROLE])
def test_each_role_connects_to_the_platform_database(postgres: Postgres, role: str) -> None:
    with postgres.connect(role) as conn:
        row = conn.execute("select current_user, current_database()").fetchone()
    assert row == (role, postgres.settings.pg_database)


@pytest.fixture
def ops_table(postgres: Postgres) -> Iterator[sql.Composed]:
    """A table the app role creates in `ops`, like customer profiles; dropped afterwards."""
    table = sql.Identifier(OPS_SCHEMA, f"probe_{uuid.uuid4().hex[:8]}")
    with postgres.connect(APP_ROLE) as conn:
        conn.execute(sql.SQL("create table {} (customer_id text primary key, country text)").format(table))
        conn.execute(sql.SQL("insert into {} values ('c-1', 'DE')").format(table))
    yield sql.SQL("{}").format(table)
    with postgres.connect(APP_ROLE) as conn:
        conn.execute(sql.SQL("drop table {}").format(table))


def test_stream_role_reads_ops_tables(postgres: Postgres, ops_table: sql.Composed) -> None:
    with postgres.connect(STREAM_ROLE) as conn:
        rows = conn.execute(sql.SQL("select customer_id, country from {}").format(ops_table)).fetchall()
    assert rows == [("c-1", "DE")]


@pytest.mark.parametrize(
    "statement",
    [
        "insert into {table} values ('c-2', 'FR')",
        "update {table} set country = 'FR'",
        "delete from {table}",
        "create table ops.stream_owned (x int)",
        "create table public.stream_owned (x int)",
    ],
)
def test_stream_role_cannot_write(postgres: Postgres, ops_table: sql.Composed, statement: str) -> None:
    with postgres.connect(STREAM_ROLE) as conn, pytest.raises(psycopg.Error) as raised:
        conn.execute(sql.SQL(statement).format(table=ops_table))
    assert isinstance(
        raised.value, psycopg.errors.InsufficientPrivilege | psycopg.errors.ReadOnlySqlTransaction
    )
    with postgres.connect(APP_ROLE) as conn:
        rows = conn.execute(sql.SQL("select customer_id, country from {}").format(ops_table)).fetchall()
    assert rows == [("c-1", "DE")]


def test_stream_role_cannot_write_even_outside_read_only_default(
    postgres: Postgres, ops_table: sql.Composed
) -> None:
    """Privileges, not just the read-only session default, keep the streaming role out."""
    with postgres.connect(STREAM_ROLE) as conn:
        conn.execute("set default_transaction_read_only = off")
        conn.commit()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(sql.SQL("insert into {} values ('c-3', 'PL')").format(ops_table))


def test_server_runs_as_dedicated_non_root_user_and_group(postgres: Postgres) -> None:
    pid = postgres.running()["postgres"]
    assert pid is not None
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    uid = next(int(line.split()[1]) for line in status if line.startswith("Uid:"))
    gid = next(int(line.split()[1]) for line in status if line.startswith("Gid:"))
    groups = next(line.split()[1:] for line in status if line.startswith("Groups:"))
    assert uid != 0
    assert gid != 0 and "0" not in groups, "no root group either"


def test_the_data_folder_is_the_server_users_own_and_under_root_outside_the_checkout(
    postgres: Postgres,
) -> None:
    """Under root, reaching a folder in the checkout would need search permission for everyone on
    each parent: the dedicated user's folder lives below DATA_ROOT. Run as anyone else, the server
    runs as that user, its data in the state folder."""
    folder = postgres.datadir
    assert (folder / "PG_VERSION").is_file()
    if os.geteuid() != 0:
        assert folder == postgres.ctx.data("postgres") and postgres.owned_paths() == []
        info = folder.stat()
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (os.geteuid(), 0o700)
        return
    assert folder.parent.parent == DATA_ROOT and folder.parent == postgres.owned_folder
    owner = pwd.getpwnam(postgres.settings.pg_os_user).pw_uid
    for path in (folder, folder.parent):
        info = path.stat()
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (owner, 0o700), path
    info = DATA_ROOT.stat()
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o755)
    assert (folder / "PG_VERSION").is_file()
    assert postgres.ctx.data("postgres").resolve() == folder, "the state folder links to it"
    home = postgres.settings.home
    assert (folder.parent / "STATE_FOLDER").read_text().split() == [str(home), state_folder.install_id(home)]


def test_the_transform_role_reads_bronze_and_ops_and_builds_only_its_own_schemas(
    postgres: Postgres, ops_table: sql.Composed
) -> None:
    """dbt's role: reads what the app role writes (now and later), builds a schema of its own that
    the app role reads back, and is refused writing Bronze or ops."""
    suffix = uuid.uuid4().hex[:8]
    bronze, built = sql.Identifier(f"test_bronze_{suffix}"), sql.Identifier(f"t{suffix}_gold")
    with postgres.connect(APP_ROLE) as conn:  # as the loader makes a private Bronze
        conn.execute(sql.SQL("create schema {}").format(bronze))
        conn.execute(sql.SQL("create table {}.payments as select 'p-1' as payment_id").format(bronze))
        conn.commit()
    try:
        with postgres.connect(TRANSFORM_ROLE) as conn:
            assert conn.execute(sql.SQL("select count(*) from {}").format(ops_table)).fetchone() == (1,)
            conn.execute(sql.SQL("create schema {}").format(built))
            conn.execute(
                sql.SQL("create table {}.kpis as select count(*) as n from {}.payments").format(built, bronze)
            )
            conn.commit()
            for forbidden in (
                sql.SQL("insert into {}.payments values ('p-2')").format(bronze),
                sql.SQL("create table {}.intruder (n int)").format(bronze),
                sql.SQL("delete from {}").format(ops_table),
                sql.SQL("create table ops.intruder (n int)"),
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(forbidden)
                conn.rollback()
        with postgres.connect(APP_ROLE) as conn:
            assert conn.execute(sql.SQL("select n from {}.kpis").format(built)).fetchone() == (1,)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL("drop table {}.kpis").format(built))
    finally:
        with postgres.connect(SUPERUSER) as conn:
            for schema in (bronze, built):
                conn.execute(sql.SQL("drop schema if exists {} cascade").format(schema))
            conn.commit()


def test_schemas_dbt_built_as_the_app_role_are_handed_to_the_transform_role(postgres: Postgres) -> None:
    """An install from before the transform role: its Gold, and what it holds, change owner."""
    schema = f"t{uuid.uuid4().hex[:8]}_gold"
    name = sql.Identifier(schema)
    with postgres.connect(APP_ROLE) as conn:
        conn.execute(sql.SQL("create schema {}").format(name))
        conn.execute(sql.SQL("create table {}.kpis as select 1 as n").format(name))
        conn.execute(sql.SQL("create view {}.kpis_view as select n from {}.kpis").format(name, name))
        conn.commit()
    try:
        with postgres.connect(SUPERUSER) as conn:
            conn.autocommit = True
            hand_over(conn, (schema,), APP_ROLE, TRANSFORM_ROLE)
            hand_over(conn, (schema,), APP_ROLE, TRANSFORM_ROLE)  # again: nothing left to change
            owners = conn.execute(
                "select c.relname, pg_get_userbyid(c.relowner) from pg_class c "
                "join pg_namespace n on n.oid = c.relnamespace where n.nspname = %s order by 1",
                [schema],
            ).fetchall()
            [schema_owner] = conn.execute(
                "select pg_get_userbyid(nspowner) from pg_namespace where nspname = %s", [schema]
            ).fetchone() or [None]
        assert owners == [("kpis", TRANSFORM_ROLE), ("kpis_view", TRANSFORM_ROLE)]
        assert schema_owner == TRANSFORM_ROLE
        with postgres.connect(APP_ROLE) as conn:
            assert conn.execute(sql.SQL("select n from {}.kpis_view").format(name)).fetchone() == (1,)
    finally:
        with postgres.connect(SUPERUSER) as conn:
            conn.execute(sql.SQL("drop schema if exists {} cascade").format(name))
            conn.commit()


@pytest.mark.parametrize("role", [AIRFLOW_ROLE, SUPERSET_ROLE])
def test_the_metadata_roles_reach_their_own_database_and_not_the_platforms(
    postgres: Postgres, role: str
) -> None:
    own = {AIRFLOW_ROLE: "airflow", SUPERSET_ROLE: "superset"}[role]
    with postgres.connect(role, own) as conn:
        assert conn.execute("select current_user, current_database()").fetchone() == (role, own)
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        postgres.connect(role).close()
