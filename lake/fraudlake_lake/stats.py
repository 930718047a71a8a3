"""`fraudlake lake stats`: per topic, what Bronze holds beside what Kafka holds.

Bronze figures come from the complete batch files (no Parquet is read); Kafka's from the
partitions' low and high watermarks. For topics written in Kafka transactions (payment-scores,
payments-dlq) each commit also takes an offset, so Kafka's offset span exceeds its records there.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import Consumer, TopicPartition
from minio import Minio as MinioClient

from fraudlake.platform.context import Context
from fraudlake.platform.minio import LAKE, Minio, read_object
from fraudlake_lake import bronze
from fraudlake_lake.bronze import Batch


def lake_stats(
    ctx: Context,
    topics: tuple[str, ...] = tuple(bronze.RECORDS),
    bucket: str = bronze.BUCKET,
    client: MinioClient | None = None,
) -> dict[str, Any]:
    """Per topic and partition, Kafka's offsets beside Bronze's batches (read as the lake's
    read-only MinIO user unless `client` is given)."""
    client = client or Minio(ctx).client(LAKE)
    settings = ctx.settings
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "fraudlake-stats"})
    report: dict[str, Any] = {}
    try:
        metadata = consumer.list_topics(timeout=10)
        for topic in topics:
            partitions: dict[str, Any] = {}
            for partition in sorted(metadata.topics[topic].partitions):
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
                batches = [
                    Batch.from_json(read_object(client, bucket, o.object_name))
                    for o in client.list_objects(bucket, prefix=bronze.batch_prefix(topic, partition))
                ]
                complete = sorted((b for b in batches if b.state == "complete"), key=lambda b: b.first)
                last = complete[-1].last if complete else None
                partitions[str(partition)] = {
                    "bronze_rows": sum(b.rows for b in complete),
                    "bronze_batches": len(complete),
                    "bronze_first_offset": complete[0].first if complete else None,
                    "bronze_last_offset": last,
                    "kafka_start_offset": low,
                    "kafka_end_offset": high,
                    "offsets_not_in_bronze": high - (last + 1 if last is not None else low),
                }
            report[topic] = {
                "bronze_rows": sum(p["bronze_rows"] for p in partitions.values()),
                "kafka_offsets": sum(
                    p["kafka_end_offset"] - p["kafka_start_offset"] for p in partitions.values()
                ),
                "offsets_not_in_bronze": sum(p["offsets_not_in_bronze"] for p in partitions.values()),
                "partitions": partitions,
            }
    finally:
        consumer.close()
    return report


def render(report: dict[str, Any]) -> str:
    lines = [f"{'topic':16} {'bronze rows':>12} {'kafka offsets':>14} {'not yet in bronze':>18}"]
    for topic, entry in report.items():
        lines.append(
            f"{topic:16} {entry['bronze_rows']:>12,} {entry['kafka_offsets']:>14,} "
            f"{entry['offsets_not_in_bronze']:>18,}"
        )
    return "\n".join(lines)
