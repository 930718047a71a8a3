#!/bin/bash
# Roles of the platform database, as `fraudlake up` creates them locally
# (src/fraudlake/platform/postgres.py; tests/test_docker_compose.py keeps the two equal): the app
# role writes ops and Bronze, dbt's transform role reads them and builds staging/silver/gold, the
# streaming role only reads ops, the dashboards' role only reads gold; Airflow and Superset keep
# their metadata in databases of their own.
set -euo pipefail
psql -v ON_ERROR_STOP=1 -U postgres -d postgres \
  -v app_pw="$PG_APP_PASSWORD" -v stream_pw="$PG_STREAM_PASSWORD" -v db="$FRAUDLAKE_PG_DATABASE" \
  -v transform_pw="$PG_TRANSFORM_PASSWORD" -v airflow_pw="$PG_AIRFLOW_PASSWORD" \
  -v superset_pw="$PG_SUPERSET_PASSWORD" -v dashboards_pw="$PG_DASHBOARDS_PASSWORD" <<'SQL'
create role fraudlake_app with login password :'app_pw';
create role fraudlake_stream with login password :'stream_pw';
alter role fraudlake_stream set default_transaction_read_only = on;
create role fraudlake_dashboards with login password :'dashboards_pw';
alter role fraudlake_dashboards set default_transaction_read_only = on;
create role fraudlake_transform with login password :'transform_pw';
create role fraudlake_airflow with login password :'airflow_pw';
create database airflow owner fraudlake_airflow;
revoke all on database airflow from public;
create role fraudlake_superset with login password :'superset_pw';
create database superset owner fraudlake_superset;
revoke all on database superset from public;
create database :"db" owner fraudlake_app;
revoke all on database :"db" from public;
grant connect on database :"db" to fraudlake_stream, fraudlake_dashboards;
grant connect, create, temporary on database :"db" to fraudlake_transform;
\connect :"db"
revoke create on schema public from public;
create schema if not exists ops authorization fraudlake_app;
revoke all on schema ops from public;
grant usage on schema ops to fraudlake_stream;
grant select on all tables in schema ops to fraudlake_stream;
alter default privileges for role fraudlake_app in schema ops grant select on tables to fraudlake_stream;
create schema if not exists bronze authorization fraudlake_app;
grant usage on schema ops, bronze to fraudlake_transform;
grant select on all tables in schema ops, bronze to fraudlake_transform;
alter default privileges for role fraudlake_app grant usage on schemas to fraudlake_transform;
alter default privileges for role fraudlake_app grant select on tables to fraudlake_transform;
alter default privileges for role fraudlake_transform grant usage on schemas to fraudlake_app;
alter default privileges for role fraudlake_transform grant select on tables to fraudlake_app;
create schema if not exists gold authorization fraudlake_transform;
revoke all on schema gold from public;
grant usage on schema gold to fraudlake_dashboards;
grant select on all tables in schema gold to fraudlake_dashboards;
alter default privileges for role fraudlake_transform in schema gold grant select on tables to fraudlake_dashboards;
SQL
