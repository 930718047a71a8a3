"""The dashboards kept as code: the committed tree is a valid bundle over Gold, and an export of
what was imported normalises back to the same files."""

from __future__ import annotations

import copy
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from fraudlake.config import PROJECT_ROOT
from fraudlake.dashboards import bundle
from fraudlake.platform.superset import DASHBOARDS

GOLD_MODELS = {path.stem for path in (PROJECT_ROOT / "dbt" / "models" / "gold").glob("*.sql")}


@pytest.fixture(scope="module")
def files() -> bundle.Files:
    return bundle.read()


def test_the_committed_tree_resolves_every_reference_and_stores_no_secret(files: bundle.Files) -> None:
    bundle.check(files)
    counts = {kind: len(values) for kind, values in bundle.uuids(files).items()}
    assert counts == {"database": 1, "dataset": 11, "chart": 26, "dashboard": 4}
    text = "\n".join(bundle.dump(document) for document in files.values())
    assert "password" not in text.lower().replace("xxxxxxxxxx", "")
    assert {d["slug"] for p, d in files.items() if p.startswith("dashboards/")} == set(DASHBOARDS)


def test_every_dataset_is_a_gold_model_and_every_chart_uses_what_its_dataset_defines(
    files: bundle.Files,
) -> None:
    datasets = {d["uuid"]: d for p, d in files.items() if p.startswith("datasets/")}
    for dataset in datasets.values():
        assert dataset["schema"] == "gold" and dataset["table_name"] in GOLD_MODELS, dataset["table_name"]
        assert dataset["sql"] is None, "no chart with its own SQL"
    for path, chart in files.items():
        if not path.startswith("charts/"):
            continue
        dataset = datasets[chart["dataset_uuid"]]
        metrics = {m["metric_name"] for m in dataset["metrics"]}
        columns = {c["column_name"] for c in dataset["columns"]}
        for query in json.loads(chart["query_context"])["queries"]:
            assert set(query.get("metrics") or []) <= metrics, path
            named = [c["sqlExpression"] if isinstance(c, dict) else c for c in query["columns"]]
            assert set(named) <= columns, path


def test_every_dataset_has_exactly_its_gold_models_columns(files: bundle.Files) -> None:
    """A column Gold gains (the rules version of every metric) reaches Superset's dataset."""
    gold = yaml.safe_load((PROJECT_ROOT / "dbt" / "models" / "gold" / "gold.yml").read_text())
    model_columns = {m["name"]: {c["name"] for c in m["columns"]} for m in gold["models"]}
    for path, dataset in files.items():
        if path.startswith("datasets/"):
            physical = {c["column_name"] for c in dataset["columns"] if c["expression"] is None}
            assert physical == model_columns[dataset["table_name"]], path


def test_a_dashboard_over_versioned_metrics_filters_by_rules_version(files: bundle.Files) -> None:
    """Gold holds one row per rules version (a shadow version beside the live one): a dashboard that
    shows such rows lets the viewer pick the version instead of adding two versions' counts."""
    datasets = {d["uuid"]: d for p, d in files.items() if p.startswith("datasets/")}
    charts = {d["uuid"]: d for p, d in files.items() if p.startswith("charts/")}
    versioned = {
        uuid for uuid, d in datasets.items() if any(c["column_name"] == "rules_version" for c in d["columns"])
    }
    for path, dashboard in files.items():
        if not path.startswith("dashboards/"):
            continue
        shown = {charts[uuid]["dataset_uuid"] for uuid in bundle.chart_uuids(dashboard)}
        filters = dashboard["metadata"]["native_filter_configuration"]
        by_version = [
            f
            for f in filters
            if any(t.get("column", {}).get("name") == "rules_version" for t in f["targets"])
        ]
        assert bool(by_version) == bool(shown & versioned), path
        for found in by_version:
            assert found["scope"] == {"rootPath": ["ROOT_ID"], "excluded": []}, path
            assert found["targets"][0]["datasetUuid"] in versioned & shown, path


def test_check_names_the_file_and_the_broken_reference(files: bundle.Files) -> None:
    broken = copy.deepcopy(files)
    chart = next(p for p in broken if p.startswith("charts/"))
    broken[chart]["dataset_uuid"] = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(bundle.BundleError, match=rf"{chart}: dataset_uuid 0{{8}}-.* is no dataset"):
        bundle.check(broken)
    leaky = copy.deepcopy(files)
    leaky["databases/fraudlake_gold.yaml"]["sqlalchemy_uri"] = "postgresql://u:secret@db:5432/x"
    with pytest.raises(bundle.BundleError, match="sqlalchemy_uri must be the template"):
        bundle.check(leaky)


def test_render_fills_the_address_and_leaves_the_password_to_the_import(files: bundle.Files) -> None:
    warehouse = bundle.Warehouse("reader", "secret", "127.0.0.1", 15432, "fraudlake")
    rendered = bundle.render(files, warehouse)
    assert rendered["databases/fraudlake_gold.yaml"]["sqlalchemy_uri"] == (
        "postgresql+psycopg2://reader:XXXXXXXXXX@127.0.0.1:15432/fraudlake"
    )
    assert files["databases/fraudlake_gold.yaml"]["sqlalchemy_uri"] == bundle.URI_TEMPLATE, "input unchanged"
    assert "secret" not in json.dumps(rendered), "the password travels apart, at import"
    with zipfile.ZipFile(io.BytesIO(bundle.to_zip(rendered))) as archive:
        names = archive.namelist()
        assert {name.split("/", 1)[0] for name in names} == {"fraudlake_dashboards"}
        assert yaml.safe_load(archive.read("fraudlake_dashboards/metadata.yaml"))["type"] == "assets"
        assert len(names) == len(files) + 1


def _as_superset_exports(files: bundle.Files) -> bytes:
    """What Superset's export gives for these objects on another instance: its own ids, its
    own file names, the real address, the frontend's label colours, columns in another order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("assets_export_1/metadata.yaml", "version: 1.0.0\ntype: assets\ntimestamp: x\n")
        for n, (path, original) in enumerate(sorted(files.items())):
            document: dict[str, Any] = copy.deepcopy(original)
            if path.startswith("databases/"):
                document["sqlalchemy_uri"] = "postgresql+psycopg2://reader:XXXXXXXXXX@10.1.2.3:5432/fraudlake"
            if path.startswith("datasets/"):
                document["catalog"] = "fraudlake"
                document["columns"].reverse()
            if path.startswith("charts/"):
                document["params"]["datasource"] = f"{40 + n}__table"
                context = json.loads(document["query_context"])
                context["datasource"] = {"id": 40 + n, "type": "table"}
                document["query_context"] = json.dumps(context)
            if path.startswith("dashboards/"):
                for node in document["position"].values():
                    if isinstance(node, dict) and node.get("type") == "CHART":
                        node["meta"]["chartId"] += 500
                document["metadata"]["shared_label_colors"] = ["alerts"]
                for native in document["metadata"]["native_filter_configuration"]:
                    native["chartsInScope"] = [501, 502]
            name = document.get("slice_name") or document.get("table_name") or document.get("dashboard_title")
            folder = path.split("/", 1)[0] + ("/fraudlake Gold" if path.startswith("datasets/") else "")
            archive.writestr(f"assets_export_1/{folder}/{name}_{n}.yaml", bundle.dump(document))
    return buffer.getvalue()


def test_an_export_from_another_instance_normalises_back_to_the_committed_files(files: bundle.Files) -> None:
    assert bundle.from_export(_as_superset_exports(files), files) == files


def test_new_objects_get_a_path_from_their_name_and_write_deletes_stale_files(
    files: bundle.Files, tmp_path: Path
) -> None:
    bundle.write(files, tmp_path)
    assert bundle.read(tmp_path) == files
    chart = "charts/alerts.yaml"
    renamed = copy.deepcopy(files)
    moved = renamed.pop(chart)
    exported = bundle.from_export(_as_superset_exports({**renamed, chart: moved}), renamed)
    assert chart in exported, "a chart the tree does not know yet is named after its title"
    del exported[chart]
    assert bundle.write(exported, tmp_path) == [chart]
    assert not (tmp_path / chart).exists()
