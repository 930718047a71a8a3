"""Kafka: every platform topic exists with its partitions and retention, and carries keyed records."""

from __future__ import annotations

import base64
import json
import threading
import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType

from fraudlake.cli import watch
from fraudlake.platform.context import Context
from fraudlake.platform.kafka import Kafka
from fraudlake.topics import TOPICS, TopicSpec


@pytest.mark.parametrize("spec", TOPICS, ids=lambda spec: spec.name)
def test_topic_has_configured_partitions_and_retention(kafka: Kafka, spec: TopicSpec) -> None:
    admin = kafka.admin()
    try:
        [described] = admin.describe_topics([spec.name])
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, spec.name)])
    finally:
        admin.close()
    assert len(described["partitions"]) == spec.partitions
    assert configs["topic"][spec.name]["retention.ms"]["value"] == str(spec.retention_ms)


@pytest.mark.parametrize("spec", TOPICS, ids=lambda spec: spec.name)
def test_keyed_record_round_trips(kafka: Kafka, spec: TopicSpec) -> None:
    key = f"customer-{uuid.uuid4()}".encode()
    value = f'{{"probe": "{uuid.uuid4()}"}}'.encode()
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    try:
        metadata = producer.send(spec.name, key=key, value=value).get(timeout=30)
    finally:
        producer.close()
    partition = TopicPartition(spec.name, metadata.partition)
    consumer = KafkaConsumer(
        bootstrap_servers=kafka.bootstrap, enable_auto_commit=False, consumer_timeout_ms=10_000
    )
    try:
        consumer.assign([partition])
        consumer.seek(partition, metadata.offset)
        record = next(iter(consumer))
    finally:
        consumer.close()
    assert (record.key, record.value, record.offset) == (key, value, metadata.offset)


def test_same_key_lands_on_same_partition(kafka: Kafka) -> None:
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    try:
        partitions = {
            producer.send("payments", key=b"customer-42", value=b"{}").get(timeout=30).partition
            for _ in range(5)
        }
    finally:
        producer.close()
    assert len(partitions) == 1


def test_provision_restores_drifted_retention(kafka: Kafka) -> None:
    spec = TOPICS[-1]
    admin = kafka.admin()
    try:
        admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, spec.name, configs={"retention.ms": "1000"})]
        )
        kafka.provision()
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, spec.name)])
    finally:
        admin.close()
    assert configs["topic"][spec.name]["retention.ms"]["value"] == str(spec.retention_ms)


def test_watch_without_follow_stops_at_the_end_it_saw_while_traffic_flows(
    ctx: Context, kafka: Kafka, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    topic = f"t-watch-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(timeout=30)
    producer = Producer({"bootstrap.servers": kafka.bootstrap})

    def dead_letter(n: int) -> bytes:
        return json.dumps({"reason": f"probe {n}", "raw_base64": base64.b64encode(b"x").decode()}).encode()

    for n in range(10):
        producer.produce(topic, dead_letter(n), partition=n % 2)
    producer.flush(30)
    stop = threading.Event()

    def traffic() -> None:  # keeps flowing while watch runs, as the demo's does
        n = 10
        while not stop.is_set():
            producer.produce(topic, dead_letter(n), partition=n % 2)
            producer.flush(5)
            n += 1

    monkeypatch.setitem(watch.TOPICS, "dlq", topic)
    flowing = threading.Thread(target=traffic)
    flowing.start()
    try:
        assert watch.watch(ctx, "dlq", last=2, follow=False) == 0
    finally:
        stop.set()
        flowing.join()
        admin.delete_topics([topic])
    shown = [int(line.rsplit(" ", 1)[1]) for line in capsys.readouterr().out.splitlines() if "probe" in line]
    assert sorted(n % 2 for n in shown) == [0, 0, 1, 1], f"2 per partition, then it stops: {shown}"
