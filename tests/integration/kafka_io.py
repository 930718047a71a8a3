"""Reading and writing test records on the real Kafka with confluent-kafka, the project's one client."""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, Producer, TopicPartition

from fraudlake.platform.kafka import Kafka, high_watermarks


def end_offsets(kafka: Kafka, topic: str) -> dict[int, int]:
    """Partition -> its end (high watermark) offset now."""
    return high_watermarks(kafka.bootstrap, topic)


def read(
    kafka: Kafka, topic: str, since: dict[int, int] | None = None, *, read_committed: bool = False
) -> list[Message]:
    """Every record of `topic` from `since` (default: the beginning) up to the end it has now."""
    until = end_offsets(kafka, topic)
    since = since or dict.fromkeys(until, 0)
    pending = {p for p in until if until[p] > since.get(p, 0)}
    config = {"bootstrap.servers": kafka.bootstrap, "group.id": "t-read", "enable.auto.commit": False}
    if read_committed:
        config["isolation.level"] = "read_committed"
    consumer = Consumer(config)
    records: list[Message] = []
    try:
        consumer.assign([TopicPartition(topic, p, since.get(p, 0)) for p in pending])
        idle = 0
        while pending and idle < 10:  # 10 s of nothing: the rest are transaction markers
            batch = consumer.consume(num_messages=10_000, timeout=1.0)
            idle = 0 if batch else idle + 1
            for message in batch:
                if message.error() is not None:
                    continue
                partition, offset = message.partition(), message.offset()
                assert partition is not None and offset is not None
                if offset < until[partition]:
                    records.append(message)
                if offset + 1 >= until[partition]:
                    pending.discard(partition)
    finally:
        consumer.close()
    return records


def produce(
    kafka: Kafka, topic: str, records: Iterable[tuple[bytes | None, bytes]], partition: int | None = None
) -> None:
    """Each (key, value) to `topic`, acknowledged by the broker before this returns."""
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "acks": "all", "linger.ms": 5})
    for key, value in records:
        if partition is None:
            producer.produce(topic, key=key, value=value)
        else:
            producer.produce(topic, key=key, value=value, partition=partition)
        producer.poll(0)
    assert producer.flush(60) == 0, "every record acknowledged"


def collect(
    kafka: Kafka, topic: str, expected: int, *, timeout_s: float = 60, read_committed: bool = False
) -> list[Message]:
    """Records of `topic` from the beginning as they arrive, until `expected` of them or until
    nothing new came for `timeout_s`."""
    config = {
        "bootstrap.servers": kafka.bootstrap,
        "group.id": "t-collect",
        "enable.auto.commit": False,
        "isolation.level": "read_committed" if read_committed else "read_uncommitted",
    }
    consumer = Consumer(config)
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    records: list[Message] = []
    waited = 0.0
    try:
        while len(records) < expected and waited < timeout_s:
            batch = [m for m in consumer.consume(num_messages=10_000, timeout=1.0) if m.error() is None]
            waited = 0.0 if batch else waited + 1.0
            records += batch
    finally:
        consumer.close()
    return records
