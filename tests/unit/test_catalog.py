"""The rule catalog: one class per rule, read by the rules file's schema, both engines, dbt and docs."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import Field

from fraudlake import ops
from fraudlake.config import Settings
from fraudlake.contract import Payment
from fraudlake.rules import catalog, ruleset
from fraudlake.rules.catalog import CATALOG, Count
from fraudlake.rules.definition import Features, Params, Rule, SqlRule
from fraudlake.rules.history import score_stream
from fraudlake_flink.spec import JobSpec
from fraudlake_flink.sql import job_sql
from tests.factories import payment


class RoundAmountParams(Params):
    step: Count = Field(description="the amount is a whole multiple of this")


class RoundAmount(Rule[RoundAmountParams]):
    """A suspiciously round amount."""

    id = "ROUND_AMOUNT"
    params = RoundAmountParams

    def check(self, params: RoundAmountParams, payment: Payment, f: Features) -> str | None:
        whole = payment.amount % params.step == 0
        return f"{payment.amount} is a multiple of {params.step}" if whole else None

    def sql(self, params: RoundAmountParams) -> SqlRule:
        return SqlRule(
            f"MOD(amount, {params.step}) = 0",
            f"CONCAT(CAST(amount AS STRING), ' is a multiple of {params.step}')",
        )


def _document() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(ruleset.DEFAULT_RULES.read_text()))


def test_a_rule_added_to_the_catalog_reaches_the_file_schema_both_engines_dbt_and_the_docs() -> None:
    document = _document()
    document["rules"]["ROUND_AMOUNT"] = {"points": 70, "step": 100}
    with pytest.raises(ruleset.RulesError, match=r"rules\.rules\.ROUND_AMOUNT: unknown rule"):
        ruleset.parse(document)
    with catalog.extended(RoundAmount()):
        rules = ruleset.parse(document)
        with pytest.raises(ruleset.RulesError, match=r"ROUND_AMOUNT\.step: expected an integer"):
            ruleset.parse({**document, "rules": {"ROUND_AMOUNT": {"points": 5, "step": "100"}}})

        round_one, other = payment(amount=Decimal("300.00")), payment(payment_id="p-2", amount=Decimal("301"))
        first, second = score_stream([round_one, other], {}, rules, scored_at=0)
        assert "ROUND_AMOUNT: 300.00 is a multiple of 100" in first.reasons and first.is_alert
        assert not any(r.startswith("ROUND_AMOUNT") for r in second.reasons)

        script = job_sql(JobSpec.from_settings(Settings.from_env({})), rules).script()
        assert "COALESCE(MOD(amount, 100) = 0, FALSE) AS fired_ROUND_AMOUNT" in script
        assert "CASE WHEN fired_ROUND_AMOUNT THEN 70 ELSE 0 END" in script

        recorded = ops.record_rules_version(rules).as_string(None)
        assert "UNUSUAL_AMOUNT,ROUND_AMOUNT}" in recorded, "dbt accepts the rule ids its version recorded"

        page = catalog.markdown()
        assert "## ROUND_AMOUNT" in page
        assert "| `step` | int | the amount is a whole multiple of this |" in page
    assert "ROUND_AMOUNT" not in CATALOG


def test_the_catalog_is_the_jobs_fixed_order_and_each_rule_documents_itself() -> None:
    assert list(CATALOG)[:6] == [
        "FIRST_PAYMENT",
        "NEW_CUSTOMER",
        "UNUSUAL_HOUR",
        "MOBILE_DEVICE",
        "DIRECT_TRAFFIC",
        "PAYMENT_FAILED",
    ], "new rules go at the end: the job's state layout follows this order"
    for rule in CATALOG.values():
        assert rule.summary(), f"{rule.id} has no docstring"
        assert all(doc for doc, _ in rule.parameter_docs().values()), f"{rule.id}: undocumented parameter"
    with pytest.raises(ValueError, match="already in the catalog"), catalog.extended(CATALOG["VELOCITY"]):
        pass


def test_docs_rules_page_is_generated_from_the_catalog() -> None:
    page = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
    assert page.read_text() == catalog.markdown(), (
        "regenerate: python -m fraudlake.rules.catalog > docs/rules.md"
    )
