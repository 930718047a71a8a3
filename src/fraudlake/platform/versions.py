"""Pinned versions of every engine the local platform installs.

Changing one of these changes the cache key, so the next `up` installs the new version beside the
old one instead of mixing them.
"""

from __future__ import annotations

KAFKA_VERSION = "4.1.1"
FLINK_VERSION = "2.2.0"
FLINK_KAFKA_CONNECTOR_VERSION = "5.0.0-2.2"
FLINK_JDBC_CONNECTOR_VERSION = "4.0.0-2.0"
POSTGRES_JDBC_DRIVER_VERSION = "42.7.8"
POSTGRES_MAJOR = "15"
MINIO_MODULE = "github.com/minio/minio"
MINIO_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"
AIRFLOW_VERSION = "3.3.2"
SUPERSET_VERSION = "6.1.0"
