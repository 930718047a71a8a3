"""The Bronze sink: every record of the platform's topics into MinIO as Parquet, once.

Loses nothing, doubles nothing:
- offsets are committed (group FRAUDLAKE_SINK_GROUP_ID) only after a batch's objects are durable;
- the batch file (bronze.Batch) is written *before* its objects, so after a crash anywhere the
  restarted sink knows the exact [first, last] of the batch it was writing and redoes that batch:
  same object names, same content (the batch file keeps the ingestion time) — a replay overwrites
  instead of adding copies; a batch file marked complete is only committed again;
- MinIO or Kafka down: a call failing with a transient error (no connection, 5xx, a broker or
  coordinator moving) is retried with backoff, logged, and the sink stops reading until the batch
  in hand is written; an outage longer than OUTAGE_S, or any other error, stops the sink with the
  error (nothing is committed past what is durable, so a restart carries on from there);
- a batch to redo whose records Kafka's retention already deleted stops the sink naming them.
One sink process reads every partition (assign, not a consumer group rebalance): at the measured
rates one process is enough, and a failover needs no coordination beyond the batch files.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar, cast

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
from minio import Minio as MinioClient

from fraudlake import retry
from fraudlake.platform.context import Context
from fraudlake.platform.minio import SINK, Minio, read_object
from fraudlake_lake import bronze
from fraudlake_lake.bronze import Batch, Message

log = logging.getLogger("fraudlake.sink")
T = TypeVar("T")
MAX_BACKOFF_S = 30.0
OUTAGE_S = 900.0
"""How long the sink waits out MinIO or Kafka being unreachable before it stops with the error."""
REDO_READ_S = 120.0
"""How long re-reading a batch's records may take without reaching its last offset."""
UPLOAD_THREADS = 4


class SinkError(RuntimeError):
    """The sink cannot go on without losing or doubling data; the message says what is wrong."""


def _transient(exc: BaseException) -> bool:
    return retry.kafka_transient(exc) or retry.storage_transient(exc)


@dataclass
class _Buffer:
    """A partition's records since its last batch, as the client returned them (converted once,
    column by column, when written)."""

    since: float
    messages: list[Any] = field(default_factory=list)


class BronzeSink:
    def __init__(
        self,
        ctx: Context,
        topics: Mapping[str, str] | None = None,
        *,
        bucket: str = bronze.BUCKET,
        flush_rows: int | None = None,
        flush_seconds: float | None = None,
        group_id: str | None = None,
        crash_at: str | None = None,
        minio: MinioClient | None = None,
    ) -> None:
        """`minio`: the client to write with (default: the sink's own MinIO user, which writes
        bucket `bronze` only)."""
        settings = ctx.settings
        self.kinds = dict(topics or {topic: topic for topic in bronze.RECORDS})
        """topic read -> the platform topic whose contract its records follow"""
        self.topics = tuple(self.kinds)
        self.bucket = bucket
        self.flush_rows = flush_rows or settings.sink_flush_rows
        self.flush_seconds = flush_seconds or settings.sink_flush_seconds
        self.crash_at = settings.sink_crash_at if crash_at is None else crash_at
        self.stopping = threading.Event()
        self.minio: MinioClient = minio or Minio(ctx).client(SINK)
        self.kafka_config = {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": group_id or settings.sink_group_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "isolation.level": "read_committed",  # aborted transactions of the job are not data
            "auto.offset.reset": "earliest",
        }
        self.consumer = Consumer(self.kafka_config)
        self.buffers: dict[tuple[str, int], _Buffer] = {}
        self.written = 0
        self.uploads = ThreadPoolExecutor(max_workers=UPLOAD_THREADS, thread_name_prefix="bronze-upload")

    # --- lifecycle --------------------------------------------------------------------------
    def run(self) -> None:
        """Recover, then land records until `stopping` is set; then flush and commit everything."""
        self.consumer.assign(self._recover())
        log.info("landing %s into s3://%s", ", ".join(self.topics), self.bucket)
        while not self.stopping.is_set():
            self._poll()
            now = time.monotonic()
            for (topic, partition), buffer in list(self.buffers.items()):
                if len(buffer.messages) >= self.flush_rows or now - buffer.since >= self.flush_seconds:
                    self._flush(topic, partition)
            # memory: at most ~2 batches' worth waits across all partitions; the largest goes first
            while self.buffers and sum(len(b.messages) for b in self.buffers.values()) >= 2 * self.flush_rows:
                self._flush(*max(self.buffers, key=lambda k: len(self.buffers[k].messages)))
        for topic, partition in list(self.buffers):
            self._flush(topic, partition)
        self.consumer.close()
        self.uploads.shutdown()
        log.info("stopped after writing %d rows", self.written)

    def stop_on_signals(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())

    # --- reading ----------------------------------------------------------------------------
    def _poll(self) -> None:
        for message in self.consumer.consume(num_messages=10_000, timeout=0.5):
            error = message.error()
            if error is not None:
                log.warning("kafka: %s (retrying)", error)
                continue
            key = cast(tuple[str, int], (message.topic(), message.partition()))
            buffer = self.buffers.get(key)
            if buffer is None:
                buffer = self.buffers[key] = _Buffer(since=time.monotonic())
            buffer.messages.append(message)

    def _partitions(self) -> list[TopicPartition]:
        metadata = self._retry("kafka metadata", lambda: self.consumer.list_topics(timeout=10))
        partitions = []
        for topic in self.topics:
            if topic not in metadata.topics:
                raise KafkaException(f"topic {topic} does not exist (run ./fraudlake up)")
            partitions += [TopicPartition(topic, p) for p in sorted(metadata.topics[topic].partitions)]
        return partitions

    def _recover(self) -> list[TopicPartition]:
        """Where to read each partition from: its committed offset, after finishing the batch a
        crash interrupted (at most one per partition: batches are written in order)."""
        committed = self._retry(
            "kafka committed offsets", lambda: self.consumer.committed(self._partitions())
        )
        start = []
        for tp in committed:
            resume = tp.offset if tp.offset >= 0 else OFFSET_BEGINNING
            for batch in self._batches_from(tp.topic, tp.partition, max(resume, 0)):
                if batch.state != "complete":
                    log.info("redoing batch %s after a crash", batch.key)
                    self._write(batch, self._read_range(tp.topic, tp.partition, batch.first, batch.last))
                self._commit(tp.topic, tp.partition, batch.last + 1)
                resume = batch.last + 1
            start.append(TopicPartition(tp.topic, tp.partition, resume))
        return start

    def _batches_from(self, topic: str, partition: int, first: int) -> list[Batch]:
        after = f"{bronze.batch_prefix(topic, partition)}{first:020d}"  # keys sort by first offset
        names = self._retry(
            "minio list",
            lambda: [
                o.object_name
                for o in self.minio.list_objects(
                    self.bucket, prefix=bronze.batch_prefix(topic, partition), start_after=after
                )
            ],
        )
        return [Batch.from_json(self._get(name)) for name in sorted(names)]

    def _read_range(self, topic: str, partition: int, first: int, last: int) -> list[Message]:
        """The records of [first, last] again (read_committed: the same ones as the first time)."""
        reader = Consumer({**self.kafka_config, "group.id": f"{self.kafka_config['group.id']}-redo"})
        try:
            low, _ = self._retry(
                "kafka watermarks",
                lambda: reader.get_watermark_offsets(TopicPartition(topic, partition), timeout=10),
            )
            if low > first:
                raise SinkError(
                    f"{topic}[{partition}] offsets {first}..{last} must be landed again after a crash, "
                    f"but Kafka's retention deleted everything below {low}: those records are lost "
                    f"(batch {bronze.batch_prefix(topic, partition)}{first:020d} stays pending)"
                )
            reader.assign([TopicPartition(topic, partition, first)])
            messages: list[Message] = []

            def more() -> bool:
                kept = [
                    _kept(m) for m in reader.consume(num_messages=10_000, timeout=1.0) if m.error() is None
                ]
                messages.extend(m for m in kept if m.offset <= last)
                return (bool(messages) and messages[-1].offset >= last) or any(m.offset > last for m in kept)

            if not retry.poll(more, done=bool, deadline_s=REDO_READ_S, interval_s=0):
                raise SinkError(
                    f"{topic}[{partition}] offsets {first}..{last}: read up to "
                    f"{messages[-1].offset if messages else 'nothing'} in {REDO_READ_S:.0f} s"
                )
        finally:
            reader.close()
        return messages

    # --- writing ----------------------------------------------------------------------------
    def _flush(self, topic: str, partition: int) -> None:
        buffer = self.buffers.pop((topic, partition), None)
        if buffer is None or not buffer.messages:
            return
        messages = [_kept(m) for m in buffer.messages]
        batch = Batch(
            topic=topic,
            partition=partition,
            first=messages[0].offset,
            last=messages[-1].offset,
            rows=len(messages),
            objects=(),
            ingested_at=int(time.time() * 1000),
        )
        self._write(batch, messages)
        self._commit(topic, partition, batch.last + 1)

    def _write(self, batch: Batch, messages: list[Message]) -> None:
        tables = bronze.tables_by_hour(self.kinds[batch.topic], batch.topic, messages, batch.ingested_at)
        objects = {
            bronze.object_key(batch.topic, batch.partition, batch.first, batch.last, hour): table
            for hour, table in tables.items()
        }
        pending = replace(batch, objects=tuple(objects), state="pending")
        self._put(pending.key, pending.to_json())
        self._crash("before-upload")
        items = list(objects.items())
        self._put(items[0][0], bronze.parquet_bytes(items[0][1]))
        self._crash("mid-upload")
        # encoding releases the GIL and a PUT mostly waits on MinIO: the other objects in parallel
        list(self.uploads.map(lambda item: self._put(item[0], bronze.parquet_bytes(item[1])), items[1:]))
        complete = replace(pending, state="complete")
        self._put(complete.key, complete.to_json())
        self.written += batch.rows
        log.info("wrote %s: %d rows in %d objects", batch.key, batch.rows, len(objects))
        self._crash("after-upload")

    def _commit(self, topic: str, partition: int, offset: int) -> None:
        self._retry(
            "kafka commit",
            lambda: self.consumer.commit(
                offsets=[TopicPartition(topic, partition, offset)], asynchronous=False
            ),
        )

    def _put(self, name: str, data: bytes) -> None:
        self._retry(
            "minio put", lambda: self.minio.put_object(self.bucket, name, io.BytesIO(data), len(data))
        )

    def _get(self, name: str) -> bytes:
        return self._retry("minio get", lambda: read_object(self.minio, self.bucket, name))

    def _crash(self, point: str) -> None:
        """Tests' crash points (FRAUDLAKE_SINK_CRASH_AT): die as kill -9 would, nothing flushed."""
        if self.crash_at == point:
            log.warning("crashing at %s (FRAUDLAKE_SINK_CRASH_AT)", point)
            os.kill(os.getpid(), signal.SIGKILL)

    def _retry(self, what: str, call: Callable[[], T]) -> T:
        """Call until it succeeds while the error is transient: an outage pauses the sink, it
        never skips data; past OUTAGE_S (or on any other error) the error stops the sink."""
        return retry.call(what, call, _transient, OUTAGE_S, log, MAX_BACKOFF_S)


def _kept(message: Any) -> Message:
    offset, partition = message.offset(), message.partition()
    assert offset is not None and partition is not None, "a consumed record has both"
    return Message(partition, offset, message.key(), message.timestamp()[1], message.value())


def run_forever(ctx: Context) -> int:
    """`fraudlake sink`: run until SIGTERM/SIGINT, then flush and commit."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sink = BronzeSink(ctx)
    sink.stop_on_signals()
    try:
        sink.run()
    except SinkError as exc:
        log.error("stopping: %s", exc)
        return 1
    return 0
