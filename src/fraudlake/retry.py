"""Retries and polling, written one way everywhere (tenacity): only errors known to be transient
are retried, and every retry or poll ends at a deadline, so no loop waits forever."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_result,
    stop_after_delay,
    wait_exponential,
    wait_fixed,
)

T = TypeVar("T")


def call(
    what: str,
    action: Callable[[], T],
    transient: Callable[[BaseException], bool],
    deadline_s: float,
    log: logging.Logger | None = None,
    max_wait_s: float = 30,
) -> T:
    """`action()` until it returns, retrying only `transient` errors (backoff from 0.5 s up to
    `max_wait_s`) for at most `deadline_s`; then its last error is raised."""

    def warn(state: RetryCallState) -> None:
        if log is not None and state.outcome is not None and state.next_action is not None:
            log.warning(
                "%s failed: %s; retrying in %.1fs", what, state.outcome.exception(), state.next_action.sleep
            )

    retrying = Retrying(
        retry=retry_if_exception(transient),
        stop=stop_after_delay(deadline_s),
        wait=wait_exponential(multiplier=0.5, max=max_wait_s),
        before_sleep=warn,
        reraise=True,
    )
    return retrying(action)


def poll(check: Callable[[], T], done: Callable[[T], bool], deadline_s: float, interval_s: float = 0.5) -> T:
    """`check()` every `interval_s` until `done(result)` or `deadline_s` passed: the last result
    (the caller tells a timeout from success with `done`)."""

    def last(state: RetryCallState) -> T:
        assert state.outcome is not None
        result: T = state.outcome.result()
        return result

    retrying = Retrying(
        retry=retry_if_result(lambda result: not done(result)),
        stop=stop_after_delay(deadline_s),
        wait=wait_fixed(interval_s),
        retry_error_callback=last,
    )
    return retrying(check)


def kafka_transient(exc: BaseException) -> bool:
    """A Kafka error that goes away by itself: a broker or coordinator moving, restarting, slow."""
    from confluent_kafka import KafkaError, KafkaException

    if not isinstance(exc, KafkaException) or not isinstance(exc.args[0], KafkaError):
        return False
    error: KafkaError = exc.args[0]
    return bool(error.retriable()) or error.code() in {
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
    }


def storage_transient(exc: BaseException) -> bool:
    """A MinIO error that goes away by itself: no connection, or the server answering 5xx."""
    from minio.error import S3Error, ServerError
    from urllib3.exceptions import HTTPError

    if isinstance(exc, S3Error):
        return exc.code in {"SlowDown", "RequestTimeout", "InternalError", "XMinioServerNotInitialized"}
    return isinstance(exc, ServerError | HTTPError | ConnectionError | TimeoutError)
