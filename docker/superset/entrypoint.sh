#!/bin/bash
# What `fraudlake up` does for Superset, in a container: migrate the metadata, make the admin and
# the default roles, start one gunicorn worker, then import the dashboards (deleting what the YAML
# dropped since the last import) once Superset answers.
set -euo pipefail
superset db upgrade
superset fab create-admin --username admin --firstname fraudlake --lastname admin \
  --email admin@fraudlake.local --password "$SUPERSET_ADMIN_PASSWORD" || true
superset fab reset-password --username admin --password "$SUPERSET_ADMIN_PASSWORD"
superset init
gunicorn --workers=1 --worker-class=gthread --threads="${FRAUDLAKE_SUPERSET_THREADS:-4}" --timeout=120 \
  --bind=0.0.0.0:8088 --limit-request-line=0 --limit-request-field_size=0 "superset.app:create_app()" &
server=$!
trap 'kill -TERM "$server"; wait "$server"; exit 0' TERM INT
until curl -fs http://localhost:8088/health > /dev/null; do
  kill -0 "$server" 2>/dev/null || { echo "superset exited before it answered" >&2; exit 1; }
  sleep 2
done
SUPERSET_URL=http://localhost:8088 python -m fraudlake.dashboards
wait "$server"
