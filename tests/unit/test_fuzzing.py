"""Bad input at every edge, fuzzed: 10,000 mutated payments through the contract's parse, the
streaming job's parse, Bronze's typing and the loader's check; mutated rules files; mutated
environment values. Nothing crashes, and each input is accepted whole or refused with a reason
that names its field (or variable).

Runs are derandomized (the same examples every run, so CI is stable); a new mutation strategy or
more examples explore further.
"""

from __future__ import annotations

import base64
import re
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraudlake.config import ConfigError, Settings, variable
from fraudlake.contract import PAYMENT, Payment, Rejection
from fraudlake.rules import ruleset
from fraudlake.rules.history import score_stream
from fraudlake.rules.sql import decision_columns
from fraudlake.topics import PAYMENTS
from fraudlake_flink.parse import parse_row
from fraudlake_lake import bronze, loader
from fraudlake_lake.bronze import Message
from tests.factories import payment
from tests.fuzzing import ENV_VALUES, NOW_MS, payment_payloads, rules_documents

BATCH = 50
FUZZ = settings(
    max_examples=200,  # x BATCH payloads = 10,000
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MAX_REASON_CHARS = 300


def _check_verdict(raw: bytes, verdict: Payment | Rejection) -> None:
    if isinstance(verdict, Rejection):
        assert verdict.reason and len(verdict.reason) <= MAX_REASON_CHARS, verdict.reason
        assert verdict.raw == raw, "the dead letter keeps the bytes as they came"
        return
    for name in PAYMENT.names:
        value = getattr(verdict, name)
        if isinstance(value, str):
            assert "\x00" not in value and value.encode("utf-8"), name  # PostgreSQL text and Kafka
    assert PAYMENT.parse(PAYMENT.to_json(verdict), now_ms=NOW_MS) == verdict, "written as read"


@FUZZ
@given(st.lists(payment_payloads(), min_size=BATCH, max_size=BATCH))
def test_mutated_payments_are_accepted_whole_or_refused_with_a_reason_at_every_step(
    payloads: list[bytes],
) -> None:
    verdicts = [PAYMENT.parse(raw, now_ms=NOW_MS) for raw in payloads]
    for raw, verdict in zip(payloads, verdicts, strict=True):
        _check_verdict(raw, verdict)
        reason, raw_base64, *fields = parse_row(raw, None)  # the job's UDF, on the wall clock
        if not isinstance(verdict, Rejection):
            assert reason is None and tuple(fields) == tuple(getattr(verdict, n) for n in PAYMENT.names)
        elif "in the future" not in verdict.reason:
            assert reason == verdict.reason and raw_base64 == base64.b64encode(raw).decode()

    messages = [Message(0, offset, b"cus-1", NOW_MS, raw) for offset, raw in enumerate(payloads)]
    tables = bronze.tables_by_hour(PAYMENTS.name, PAYMENTS.name, messages, NOW_MS)
    for table in tables.values():
        assert bronze.read_parquet(bronze.parquet_bytes(table)).equals(table)
    table = pa.concat_tables(tables.values()).sort_by("kafka_offset")
    assert table["kafka_offset"].to_pylist() == list(range(BATCH)), "one row per record"
    errors = loader.contract_errors(PAYMENTS.name, table)
    landed = table.select(list(PAYMENT.names)).to_pylist()
    raw_values = table["raw_value"].to_pylist()
    for index, verdict in enumerate(verdicts):
        if isinstance(verdict, Rejection):
            if table["contract_error"][index].is_valid:  # refused by the sink: the contract's words
                assert errors[index] == verdict.reason and raw_values[index] == payloads[index]
            else:  # typed by the sink, refused by the loader's check of the typed values
                field = verdict.reason.partition(":")[0]
                assert errors[index] is not None and errors[index].startswith(field), (errors[index], field)
        else:
            assert errors[index] is None, (errors[index], payloads[index])
            (typed,) = PAYMENT.from_arrow(pa.Table.from_pylist([landed[index]], PAYMENT.arrow_schema()))
            assert typed == verdict, "Bronze holds the values the contract read"


VALID_RULES: dict[str, Any] = yaml.safe_load(ruleset.DEFAULT_RULES.read_text())


@settings(max_examples=1000, derandomize=True, deadline=None, database=None)
@given(rules_documents(VALID_RULES))
def test_mutated_rules_documents_run_or_are_refused_naming_the_field(document: Any) -> None:
    try:
        rules = ruleset.parse(document)
    except ruleset.RulesError as error:
        path, _, message = str(error).partition(": ")
        assert path.startswith("rules") and message, str(error)
        assert not re.search(r"\{[a-z_]+(![rs])?\}", message), f"a template left unformatted: {error}"
        return
    assert decision_columns(rules), "the accepted rules render to the job's SQL"
    decisions = list(score_stream([payment(event_time=NOW_MS)], {}, rules, scored_at=NOW_MS))
    assert len(decisions) == 1 and 0 <= decisions[0].score <= rules.score_cap


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(st.binary(max_size=8), st.integers(0, 2000), st.booleans())
def test_a_damaged_rules_file_is_refused_with_its_path(junk: bytes, at: int, replace: bool) -> None:
    text = ruleset.DEFAULT_RULES.read_bytes()
    damaged = text[:at] + junk + text[at + (len(junk) if replace else 0) :]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rules.yaml"
        path.write_bytes(damaged)
        try:
            ruleset.load(path)
        except ruleset.RulesError as error:
            assert str(error).startswith(str(path)), str(error)


@settings(max_examples=1500, derandomize=True, deadline=None, database=None)
@given(st.sampled_from(sorted(Settings.model_fields)), ENV_VALUES)
def test_a_mutated_environment_value_is_taken_or_refused_naming_its_variable(field: str, value: str) -> None:
    name = variable(field)
    try:
        Settings.from_env({name: value, "HOME": "/home/analyst"})
    except ConfigError as error:
        assert name in str(error), str(error)
