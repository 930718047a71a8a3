"""Apache Kafka in KRaft mode: one combined broker+controller node, run from Maven Central jars."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

from fraudlake.platform import artifacts, process
from fraudlake.platform.service import Port, Service
from fraudlake.platform.versions import KAFKA_VERSION
from fraudlake.topics import TOPICS, TRANSACTION_MAX_TIMEOUT_MS

RESOURCES = Path(__file__).parent / "resources"


class Kafka(Service):
    name = "kafka"
    processes = ("kafka",)

    @property
    def libs(self) -> Path:
        return self.ctx.cache("kafka", KAFKA_VERSION, "libs")

    @property
    def bootstrap(self) -> str:
        return self.settings.kafka_bootstrap

    def ports(self) -> list[Port]:
        return [
            Port("FRAUDLAKE_KAFKA_PORT", self.settings.kafka_port),
            Port("FRAUDLAKE_KAFKA_CONTROLLER_PORT", self.settings.kafka_controller_port),
        ]

    def install(self) -> bool:
        return artifacts.ensure_dir(
            self.libs,
            lambda dest: artifacts.maven_copy_jars(
                self.name,
                RESOURCES / "kafka-pom.xml",
                dest,
                {"kafka.version": KAFKA_VERSION},
                transitive=True,
            ),
        )

    def _server_properties(self) -> Path:
        s = self.settings
        host = s.bind_host
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{host}:{s.kafka_controller_port}",
            "listeners": f"PLAINTEXT://{host}:{s.kafka_port},CONTROLLER://{host}:{s.kafka_controller_port}",
            "advertised.listeners": f"PLAINTEXT://{host}:{s.kafka_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.ctx.data("kafka")),
            "num.partitions": "3",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "10",
            # the scoring job's pending transactions must outlive a crash until it resumes and commits
            # them (fraudlake_flink/resume.py); the broker aborts older ones. 1 h, not the default 15 min.
            "transaction.max.timeout.ms": str(TRANSACTION_MAX_TIMEOUT_MS),
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
        }
        path = self.ctx.data("kafka-config") / "server.properties"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{key}={value}\n" for key, value in lines.items()))
        return path

    def _java(self, main: str, *args: str, heap: str = "256m") -> list[str]:
        return [
            str(self.ctx.java_home / "bin" / "java"),
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={RESOURCES / 'kafka-log4j2.yaml'}",
            "-cp",
            f"{self.libs}/*",
            main,
            *args,
        ]

    def start(self) -> None:
        if self.running()["kafka"] is None:
            self.check_ports_free()
            config = self._server_properties()
            if not (self.ctx.data("kafka") / "meta.properties").exists():
                artifacts.run(
                    self.name,
                    self._java(
                        "kafka.tools.StorageTool",
                        "format",
                        "--ignore-formatted",
                        "-t",
                        _cluster_id(),
                        "-c",
                        str(config),
                    ),
                    fix="run `fraudlake reset` to clear the Kafka data folder, then `fraudlake up`",
                    env=self.ctx.java_env(),
                )
            process.start_detached(
                self._java("kafka.Kafka", str(config), heap=self.settings.kafka_heap),
                pid_file=self.pid_file("kafka"),
                log_file=self.log_file("kafka"),
                env=self.ctx.java_env(),
            )
        self.wait_until("kafka broker", self.probe)

    def admin(self) -> AdminClient:
        """Warnings and errors only: `up` printed librdkafka's notice of a dropped client's queue."""
        return AdminClient(
            {"bootstrap.servers": self.bootstrap, "client.id": "fraudlake-platform", "log_level": 4}
        )

    def topics(self) -> dict[str, int]:
        """Topic -> its partition count, as the broker has them."""
        metadata = self.admin().list_topics(timeout=10)
        return {name: len(topic.partitions) for name, topic in metadata.topics.items()}

    def topic_config(self, topic: str) -> dict[str, str]:
        return self.topic_configs([topic])[topic]

    def topic_configs(self, topics: list[str]) -> dict[str, dict[str, str]]:
        """Topic -> its configuration, all topics in one request."""
        admin = self.admin()  # held until the answers came: a dropped client cancels its requests
        asked = {topic: ConfigResource(ConfigResource.Type.TOPIC, topic) for topic in topics}
        answers = admin.describe_configs(list(asked.values()))
        return {
            topic: {name: str(entry.value) for name, entry in answers[resource].result(timeout=10).items()}
            for topic, resource in asked.items()
        }

    def create_topics(
        self, partitions: dict[str, int], configs: dict[str, dict[str, str]] | None = None
    ) -> None:
        """Create each topic with its partition count (one replica); waits until they exist."""
        admin = self.admin()  # held until the answers came: a dropped client cancels its requests
        created = admin.create_topics(
            [
                NewTopic(name, count, 1, config=(configs or {}).get(name, {}))
                for name, count in partitions.items()
            ]
        )
        for future in created.values():
            future.result(timeout=30)

    def delete_topics(self, *names: str) -> None:
        admin = self.admin()
        for future in admin.delete_topics(list(names)).values():
            future.result(timeout=30)

    def probe(self) -> str | None:
        if not process.port_open(self.settings.bind_host, self.settings.kafka_port):
            return f"nothing listens on {self.bootstrap}"
        try:
            self.admin().list_topics(timeout=5)
        except KafkaException as exc:
            return f"broker does not answer: {exc}"
        return None

    def provision(self) -> None:
        """Create missing topics; grow partitions and restore retention where they drifted.

        Partitions are never shrunk (Kafka cannot), so a topic with more than asked is left alone.
        """
        existing = self.topics()
        missing = [spec for spec in TOPICS if spec.name not in existing]
        if missing:
            self.create_topics(
                {spec.name: spec.partitions for spec in missing},
                {spec.name: {"retention.ms": str(spec.retention_ms)} for spec in missing},
            )
        present = [spec for spec in TOPICS if spec.name in existing]
        grow = [NewPartitions(s.name, s.partitions) for s in present if existing[s.name] < s.partitions]
        admin = self.admin()
        if grow:
            for future in admin.create_partitions(grow).values():
                future.result(timeout=30)
        configs = self.topic_configs([spec.name for spec in present]) if present else {}
        drifted = [
            ConfigResource(
                ConfigResource.Type.TOPIC,
                spec.name,
                incremental_configs=[
                    ConfigEntry(
                        "retention.ms", str(spec.retention_ms), incremental_operation=AlterConfigOpType.SET
                    )
                ],
            )
            for spec in present
            if configs[spec.name]["retention.ms"] != str(spec.retention_ms)
        ]
        if drifted:
            for future in admin.incremental_alter_configs(drifted).values():
                future.result(timeout=30)

    def connection(self, show_secrets: bool) -> dict[str, Any]:
        return {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": "PLAINTEXT",
            "topics": {
                spec.name: {"partitions": spec.partitions, "retention_ms": spec.retention_ms}
                for spec in TOPICS
            },
        }


def _cluster_id() -> str:
    """A KRaft cluster id: a random UUID in Kafka's URL-safe base64 form (22 characters), never
    starting with '-' (the storage tool would read it as an option: one fresh clone in 64 failed)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def high_watermarks(bootstrap: str, topic: str) -> dict[int, int]:
    """Per partition, the offset the next record will get (read_committed readers stop at the LSO)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "fraudlake-offsets", "enable.auto.commit": False}
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions
        }
    finally:
        consumer.close()
