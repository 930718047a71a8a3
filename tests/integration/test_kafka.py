"""Kafka: every platform topic exists with its partitions and retention, and carries keyed records."""

from __future__ import annotations

import base64
import json
import threading
import uuid

import pytest
from confluent_kafka import Consumer, Message, Producer, TopicPartition
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

from fraudlake.cli import watch
from fraudlake.platform.context import Context
from fraudlake.platform.kafka import Kafka
from fraudlake.topics import TOPICS, TopicSpec


@pytest.mark.parametrize("spec", TOPICS, ids=lambda spec: spec.name)
def test_topic_has_configured_partitions_and_retention(kafka: Kafka, spec: TopicSpec) -> None:
    assert kafka.topics()[spec.name] == spec.partitions
    assert kafka.topic_config(spec.name)["retention.ms"] == str(spec.retention_ms)


@pytest.mark.parametrize("spec", TOPICS, ids=lambda spec: spec.name)
def test_keyed_record_round_trips(kafka: Kafka, spec: TopicSpec) -> None:
    key = f"customer-{uuid.uuid4()}".encode()
    value = f'{{"probe": "{uuid.uuid4()}"}}'.encode()
    delivered: list[Message] = []
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "acks": "all"})
    producer.produce(spec.name, key=key, value=value, on_delivery=lambda _err, msg: delivered.append(msg))
    assert producer.flush(30) == 0
    [metadata] = delivered
    # read_uncommitted: the probe is not transactional, but the scoring job's open transaction on a
    # partition (until its next checkpoint, 20 s by default) holds read_committed readers back
    consumer = Consumer(
        {"bootstrap.servers": kafka.bootstrap, "group.id": "t-probe", "enable.auto.commit": False,
         "isolation.level": "read_uncommitted"}
    )  # fmt: skip
    try:
        consumer.assign([TopicPartition(spec.name, metadata.partition(), metadata.offset())])
        record = consumer.poll(10)
    finally:
        consumer.close()
    assert record is not None and record.error() is None
    assert (record.key(), record.value(), record.offset()) == (key, value, metadata.offset())


def test_same_key_lands_on_same_partition(kafka: Kafka) -> None:
    partitions: set[int] = set()
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "acks": "all"})
    for _ in range(5):
        producer.produce(
            "payments",
            key=b"customer-42",
            value=b"{}",
            on_delivery=lambda _e, m: partitions.add(m.partition()),
        )
    assert producer.flush(30) == 0
    assert len(partitions) == 1


def test_provision_restores_drifted_retention(kafka: Kafka) -> None:
    spec = TOPICS[-1]
    drift = ConfigResource(
        ConfigResource.Type.TOPIC,
        spec.name,
        incremental_configs=[
            ConfigEntry("retention.ms", "1000", incremental_operation=AlterConfigOpType.SET)
        ],
    )
    admin = kafka.admin()
    for future in admin.incremental_alter_configs([drift]).values():
        future.result(timeout=30)
    assert kafka.topic_config(spec.name)["retention.ms"] == "1000"
    kafka.provision()
    assert kafka.topic_config(spec.name)["retention.ms"] == str(spec.retention_ms)


def test_watch_without_follow_stops_at_the_end_it_saw_while_traffic_flows(
    ctx: Context, kafka: Kafka, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    topic = f"t-watch-{uuid.uuid4().hex[:8]}"
    kafka.create_topics({topic: 2})
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
        kafka.delete_topics(topic)
    shown = [int(line.rsplit(" ", 1)[1]) for line in capsys.readouterr().out.splitlines() if "probe" in line]
    assert sorted(n % 2 for n in shown) == [0, 0, 1, 1], f"2 per partition, then it stops: {shown}"
