#!/bin/bash
# Roles of the platform database, as `fraudlake up` creates them locally
# (see src/fraudlake/platform/postgres.py): the streaming role only reads the ops schema.
set -euo pipefail
psql -v ON_ERROR_STOP=1 -U postgres -d postgres \
  -v app_pw="$PG_APP_PASSWORD" -v stream_pw="$PG_STREAM_PASSWORD" -v db="$FRAUDLAKE_PG_DATABASE" <<'SQL'
create role fraudlake_app with login password :'app_pw';
create role fraudlake_stream with login password :'stream_pw';
alter role fraudlake_stream set default_transaction_read_only = on;
create database :"db" owner fraudlake_app;
revoke all on database :"db" from public;
grant connect on database :"db" to fraudlake_stream;
\connect :"db"
revoke create on schema public from public;
create schema ops authorization fraudlake_app;
revoke all on schema ops from public;
grant usage on schema ops to fraudlake_stream;
alter default privileges for role fraudlake_app in schema ops grant select on tables to fraudlake_stream;
SQL
