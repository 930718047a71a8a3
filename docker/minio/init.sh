#!/bin/sh
# What `fraudlake up` provisions in MinIO (src/fraudlake/platform/minio.py; tests/test_docker_compose.py
# keeps the policies equal): the buckets, and one user per service with exactly its policy.
set -eu
mc alias set lake http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD"
mc mb --ignore-existing lake/bronze lake/flink
add() {
  mc admin policy create lake "$1" "/init/$1.json"
  mc admin user add lake "$1" "$2"
  if ! out=$(mc admin policy attach lake "$1" --user "$1" 2>&1); then
    case "$out" in
      *"already"*) ;;  # a second run: attached before
      *) echo "$out" >&2; exit 1 ;;
    esac
  fi
}
add fraudlake-flink "$MINIO_FLINK_PASSWORD"
add fraudlake-sink "$MINIO_SINK_PASSWORD"
add fraudlake-lake "$MINIO_LAKE_PASSWORD"
