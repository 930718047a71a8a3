"""Apache Kafka in KRaft mode: one combined broker+controller node, run from Maven Central jars."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.errors import KafkaError

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
        return f"{self.settings.bind_host}:{self.settings.kafka_port}"

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

    def admin(self) -> KafkaAdminClient:
        return KafkaAdminClient(
            bootstrap_servers=self.bootstrap,
            client_id="fraudlake-platform",
            request_timeout_ms=10_000,
        )

    def probe(self) -> str | None:
        if not process.port_open(self.settings.bind_host, self.settings.kafka_port):
            return f"nothing listens on {self.bootstrap}"
        try:
            admin = self.admin()
        except KafkaError as exc:
            return f"broker does not answer: {exc}"
        try:
            admin.list_topics()
        except KafkaError as exc:
            return f"broker does not answer: {exc}"
        finally:
            admin.close()
        return None

    def provision(self) -> None:
        """Create missing topics; grow partitions and restore retention where they drifted.

        Partitions are never shrunk (Kafka cannot), so a topic with more than asked is left alone.
        """
        admin = self.admin()
        try:
            existing = set(admin.list_topics())
            missing = [
                NewTopic(
                    spec.name, spec.partitions, 1, topic_configs={"retention.ms": str(spec.retention_ms)}
                )
                for spec in TOPICS
                if spec.name not in existing
            ]
            if missing:
                admin.create_topics(missing)
            present = [spec for spec in TOPICS if spec.name in existing]
            if not present:
                return
            partitions = {
                t["name"]: len(t["partitions"]) for t in admin.describe_topics([s.name for s in present])
            }
            grow = {
                spec.name: NewPartitions(spec.partitions)
                for spec in present
                if partitions[spec.name] < spec.partitions
            }
            if grow:
                admin.create_partitions(grow)
            configs = admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, s.name) for s in present]
            )
            drifted = [
                ConfigResource(
                    ConfigResourceType.TOPIC, spec.name, configs={"retention.ms": str(spec.retention_ms)}
                )
                for spec in present
                if configs["topic"][spec.name]["retention.ms"]["value"] != str(spec.retention_ms)
            ]
            if drifted:
                admin.alter_configs(drifted)
        finally:
            admin.close()

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
