"""Turning `fraudlake simulate` options into a SimConfig: sizes, clocks and the time window."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from fraudlake.simulator.generator import SimConfig
from fraudlake.simulator.population import DAY_MS

_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": DAY_MS, "w": 7 * DAY_MS}


def parse_duration(text: str) -> int:
    """'10s', '90m', '2h', '28d', '3w' -> milliseconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*", text)
    if not match:
        raise ValueError(f"expected a duration such as 10s, 5m, 2h, 28d or 3w, got {text!r}")
    value = float(match.group(1)) * _UNITS_MS[match.group(2)]
    if value <= 0:
        raise ValueError(f"duration must be positive, got {text!r}")
    return int(value)


def parse_start(text: str) -> int:
    """An ISO date or date-time (UTC unless it says otherwise) -> epoch milliseconds."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class Request:
    seed: int
    events: int | None
    duration_ms: int | None
    rate: float | None
    realtime: bool
    start_ms: int | None
    customers: int | None
    fraud_rate: float
    malformed_rate: float
    population_seed: int | None = None


DEFAULT_REPLAY_EVENTS = 10_000
DEFAULT_REPLAY_WINDOW_MS = 28 * DAY_MS
DEFAULT_REALTIME_RATE = 100.0


def to_config(request: Request, now_ms: int | None = None) -> SimConfig:
    """Replay: `events` payments over `duration` of event time ending today at 00:00 UTC (so a seed
    gives the same stream all day). Real time: `rate` payments/s from now, for `events` or `duration`.
    """
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if not 0 <= request.fraud_rate < 1:
        raise ValueError(f"--fraud-rate must be in [0, 1), got {request.fraud_rate}")
    if not 0 <= request.malformed_rate < 1:
        raise ValueError(f"--malformed-rate must be in [0, 1), got {request.malformed_rate}")
    if request.realtime:
        rate = request.rate or DEFAULT_REALTIME_RATE
        if rate <= 0:
            raise ValueError(f"--rate must be positive, got {rate}")
        if request.events is not None:
            events = request.events
        elif request.duration_ms is not None:
            events = round(rate * request.duration_ms / 1000)
        else:
            raise ValueError("real-time mode needs --events or --duration")
        window = round(events / rate * 1000)
        start = request.start_ms if request.start_ms is not None else now
        seasonal = False
    else:
        if request.rate is not None:
            raise ValueError("--rate applies to --realtime only; replay runs as fast as Kafka takes it")
        events = request.events if request.events is not None else DEFAULT_REPLAY_EVENTS
        window = request.duration_ms or DEFAULT_REPLAY_WINDOW_MS
        start = request.start_ms if request.start_ms is not None else now - now % DAY_MS - window
        seasonal = True
    if events <= 0:
        raise ValueError(f"--events must be positive, got {events}")
    return SimConfig(
        seed=request.seed,
        events=events,
        start_ms=start,
        window_ms=window,
        customers=request.customers,
        population_seed=request.population_seed,
        fraud_rate=request.fraud_rate,
        malformed_rate=request.malformed_rate,
        seasonal=seasonal,
    )
