#!/bin/bash
# Roles of the platform database, as `fraudlake up` creates them locally
# (see src/fraudlake/platform/postgres.py): the streaming role only reads the ops schema, the
# dashboards' role only reads gold; Superset keeps its metadata in a database of its own.
set -euo pipefail
psql -v ON_ERROR_STOP=1 -U postgres -d postgres \
  -v app_pw="$PG_APP_PASSWORD" -v stream_pw="$PG_STREAM_PASSWORD" -v db="$FRAUDLAKE_PG_DATABASE" \
  -v superset_pw="$PG_SUPERSET_PASSWORD" -v dashboards_pw="$PG_DASHBOARDS_PASSWORD" <<'SQL'
create role fraudlake_app with login password :'app_pw';
create role fraudlake_stream with login password :'stream_pw';
alter role fraudlake_stream set default_transaction_read_only = on;
create role fraudlake_dashboards with login password :'dashboards_pw';
alter role fraudlake_dashboards set default_transaction_read_only = on;
create role fraudlake_superset with login password :'superset_pw';
create database superset owner fraudlake_superset;
revoke all on database superset from public;
create database :"db" owner fraudlake_app;
revoke all on database :"db" from public;
grant connect on database :"db" to fraudlake_stream, fraudlake_dashboards;
\connect :"db"
revoke create on schema public from public;
create schema ops authorization fraudlake_app;
revoke all on schema ops from public;
grant usage on schema ops to fraudlake_stream;
alter default privileges for role fraudlake_app in schema ops grant select on tables to fraudlake_stream;
create schema gold authorization fraudlake_app;
revoke all on schema gold from public;
grant usage on schema gold to fraudlake_dashboards;
alter default privileges for role fraudlake_app in schema gold grant select on tables to fraudlake_dashboards;
SQL
