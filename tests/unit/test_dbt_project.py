"""The dbt project's conventions, read from its files: staging by source, contract fields described
and tested from the contract, a description on every model and column, no now() in a model."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from fraudlake.contract import RECORD_TYPES
from fraudlake_lake import dbt_contract

DBT = Path(__file__).resolve().parents[2] / "dbt"
MODELS = DBT / "models"
STAGED_RECORDS = {
    "stg_bronze__payments": "payment",
    "stg_bronze__decisions": "decision",
    "stg_bronze__alerts": "alert",
    "stg_bronze__chargebacks": "chargeback",
    "stg_bronze__ground_truth": "ground_truth",
    "stg_bronze__dead_letters": "dead_letter",
    "stg_ops__customer_profiles": "customer_profile",
}


def _properties() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for path in MODELS.rglob("*.yml"):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            found[model["name"]] = model
    return found


def _test_names(column: dict[str, Any]) -> set[str]:
    return {t if isinstance(t, str) else next(iter(t)) for t in column.get("tests", [])}


def test_generated_contract_docs_and_values_are_current() -> None:
    assert dbt_contract.DOCS.read_text() == dbt_contract.docs(), "python -m fraudlake_lake.dbt_contract"
    assert dbt_contract.MACROS.read_text() == dbt_contract.macros(), "python -m fraudlake_lake.dbt_contract"


def test_contract_fields_are_described_and_tested_from_the_contract() -> None:
    properties = _properties()
    records = {dbt_contract.record_name(r): r for r in RECORD_TYPES}
    for model, record_name in STAGED_RECORDS.items():
        record = records[record_name]
        columns = {c["name"]: c for c in properties[model]["columns"]}
        for field in record.columns:
            if field.name not in columns:
                continue
            column = columns[field.name]
            assert column["description"] == f"{{{{ doc('{record_name}__{field.name}') }}}}", (
                model,
                field.name,
            )
            tests = _test_names(column)
            if not field.nullable:
                assert "not_null" in tests, f"{model}.{field.name}: required by the contract"
            if field.choices:
                assert "in_contract" in tests, f"{model}.{field.name}: an enum of the contract"


def test_staging_is_named_by_source_and_the_only_layer_reading_sources() -> None:
    for path in MODELS.rglob("*.sql"):
        text = path.read_text()
        if path.parent.name == "staging":
            source = re.search(r"source\('(\w+)'", text)
            assert source and path.stem.startswith(f"stg_{source.group(1)}__"), path.name
        else:
            assert "source(" not in text, f"{path.name} reads a source outside staging"
            assert not path.stem.startswith("stg_")
        if path.parent.name == "silver":
            assert path.stem.startswith("int_"), path.name
        if path.parent.name == "gold":
            assert not path.stem.startswith(("int_", "stg_")), f"{path.name}: a mart keeps its business name"
        assert "now()" not in text.lower(), f"{path.name}: use as_of() (var as_of or the run's start)"


def test_every_model_and_column_has_a_description() -> None:
    properties = _properties()
    for path in MODELS.rglob("*.sql"):
        model = properties.get(path.stem)
        assert model and model.get("description"), f"{path.stem} has no description"
        undescribed = [c["name"] for c in model.get("columns", []) if not c.get("description")]
        assert not undescribed, f"{path.stem}: {undescribed}"
