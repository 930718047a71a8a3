"""The lakehouse: the Kafka-to-MinIO Bronze sink, the Bronze loader into PostgreSQL, the refresh steps."""
