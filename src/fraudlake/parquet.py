"""Writing contract records to Parquet files (simulator outputs, batch scores)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fraudlake.contract import RecordType


class ParquetSink:
    """Rows of one record type, written in row groups as they come (bounded memory)."""

    def __init__(self, path: Path, record_type: RecordType[Any], batch: int = 100_000) -> None:
        import pyarrow.parquet as pq

        path.parent.mkdir(parents=True, exist_ok=True)
        self._type = record_type
        self._writer = pq.ParquetWriter(str(path), record_type.arrow_schema(), compression="zstd")
        self._rows: list[Any] = []
        self._batch = batch
        self.written = 0

    def add(self, record: Any) -> None:
        self._rows.append(record)
        if len(self._rows) >= self._batch:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            self._writer.write_table(self._type.to_arrow(self._rows))
            self.written += len(self._rows)
            self._rows = []

    def close(self) -> None:
        self._flush()
        self._writer.close()
