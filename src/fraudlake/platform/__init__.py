"""The local platform: installs and runs Kafka, PostgreSQL, MinIO and Flink as plain processes."""
