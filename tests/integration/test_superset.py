"""Superset on the real platform: a private copy of the dashboards (`superset/`, fresh UUIDs) over a
private Gold that the real lakehouse_refresh DAG built from known records. Every chart's figures
equal what Gold holds; every dashboard renders in a real browser (Debian's Chromium); imports are
idempotent, update what the YAML changes and delete what it drops; export gives the files back; the
warehouse role reads Gold and nothing else."""

from __future__ import annotations

import base64
import copy
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from psycopg import errors, sql

from fraudlake.contract import (
    ALERT,
    CHARGEBACK,
    DEAD_LETTER,
    DECISION,
    GROUND_TRUTH,
    PAYMENT,
    Alert,
    Chargeback,
    DeadLetter,
    Decision,
    GroundTruth,
    alert_id_of,
)
from fraudlake.dashboards import bundle, importer
from fraudlake.dashboards.client import SupersetClient
from fraudlake.platform.context import Context
from fraudlake.platform.postgres import APP_ROLE, DASHBOARDS_ROLE, TRANSFORM_ROLE, Postgres
from fraudlake.platform.superset import ADMIN, Superset
from fraudlake.topics import CHARGEBACKS, FRAUD_ALERTS, PAYMENT_SCORES, PAYMENTS, PAYMENTS_DLQ
from fraudlake.topics import GROUND_TRUTH as GROUND_TRUTH_TOPIC
from fraudlake_lake import bronze
from tests.factories import payment
from tests.integration.lake_harness import Landed, refresh
from tests.integration.superset_harness import canonical, gold_query, open_dashboards, private_copy

HOUR = bronze.HOUR_MS
DAY = 24 * HOUR
PAYMENTS_LANDED = 8
ALERTS_LANDED = 3


@dataclass
class Private:
    """The private dashboards: their files, where they are written to be imported, and their own
    import manifest (so pruning never touches the platform's dashboards)."""

    ctx: Context
    client: SupersetClient
    files: bundle.Files
    root: Path
    manifest: Path

    def import_(self, files: bundle.Files) -> importer.Imported:
        bundle.write(files, self.root)
        return importer.import_tree(self.client, Superset(self.ctx).warehouse(), self.manifest, self.root)


def _land(landed: Landed) -> None:
    """Two days of payments (one whose chargeback window has closed, one still open), three alerts,
    a chargeback, the simulator's truth and two dead letters."""
    now = int(time.time() * 1000)
    old = (now - 100 * DAY) // DAY * DAY + 9 * HOUR
    recent = now - 2 * HOUR
    times = [old, old, old + HOUR, old + HOUR, old + 2 * HOUR, recent, recent, recent + 60_000]
    methods = ["card", "card", "paypal", "card", "apple_pay", "card", "paypal", "card"]
    payments = [
        payment(payment_id=f"s-{n}", customer_id=f"sc-{n % 3}", amount=Decimal(20 + n), payment_method=m,
                event_time=t)
        for n, (t, m) in enumerate(zip(times, methods, strict=True))
    ]  # fmt: skip
    scores = [85, 10, 65, 0, 40, 90, 0, 20]
    reasons = {
        85: ("VELOCITY: 3 payments in 2m 0s", "NEW_DEVICE: web fp-x"),
        65: ("GEO_MISMATCH: IP in NG, customer in DE",),
        90: ("VELOCITY: 4 payments in 3m 0s", "GEO_MISMATCH: IP in NG, customer in DE"),
        40: ("FIRST_PAYMENT: no earlier successful payment",),
        20: ("MOBILE_DEVICE: ios",),
    }
    decisions = [
        Decision(p.payment_id, p.customer_id, s, "HIGH" if s >= 80 else "MEDIUM" if s >= 60 else "LOW",
                 s >= 60, reasons.get(s, ()), "v1", p.event_time, p.event_time + 150, 1)
        for p, s in zip(payments, scores, strict=True)
    ]  # fmt: skip
    landed.batch(PAYMENTS.name, 0, 0, [PAYMENT.to_json(p) for p in payments], now)
    landed.batch(PAYMENT_SCORES.name, 0, 0, [DECISION.to_json(d) for d in decisions], now)
    alerts = [
        Alert(
            *(getattr(d, f) for f in DECISION.names), alert_id_of(d.payment_id, "v1"), Decimal(1), "EUR", "m"
        )
        for d in decisions
        if d.is_alert
    ]
    for offset, alert in enumerate(alerts):
        landed.batch(
            FRAUD_ALERTS.name, 0, offset, [ALERT.to_json(alert)], alert.event_time + 400 * (offset + 1)
        )
    label = Chargeback("s-0", "sc-0", Decimal(20), "EUR", "fraudulent", old + 10 * DAY, 1)
    landed.batch(CHARGEBACKS.name, 0, 0, [CHARGEBACK.to_json(label)], now)
    truth = [
        GroundTruth(p.payment_id, p.customer_id, n in (0, 5), "card_spree" if n in (0, 5) else "legit",
                    p.event_time, 1)
        for n, p in enumerate(payments)
    ]  # fmt: skip
    landed.batch(GROUND_TRUTH_TOPIC.name, 0, 0, [GROUND_TRUTH.to_json(t) for t in truth], now)
    raw = base64.b64encode(b'{"amount": -1}').decode()
    letters = [
        DeadLetter("field 'amount': must be a positive amount, got -1", raw, "payments", 0, 90, 1),
        DeadLetter("late: 900 ms behind the watermark", raw, "payments", 0, 91, 1),
    ]
    landed.batch(PAYMENTS_DLQ.name, 0, 0, [DEAD_LETTER.to_json(d) for d in letters], recent)


@pytest.fixture(scope="module")
def private(ctx: Context, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Private]:
    landed = Landed(ctx)
    prefix = f"t{landed.schema.rsplit('_', 1)[1]}_"
    try:
        _land(landed)
        run, gold = refresh(ctx, landed)
        assert run.state in {"success", "failed"} and "build_silver_gold" not in run.failures, run.failures
        with Postgres(ctx).connect(TRANSFORM_ROLE) as conn:  # what provisioning grants on the real Gold
            conn.execute(
                sql.SQL("grant usage on schema {} to {}").format(
                    *map(sql.Identifier, (gold, DASHBOARDS_ROLE))
                )
            )
            conn.execute(
                sql.SQL("grant select on all tables in schema {} to {}").format(
                    *map(sql.Identifier, (gold, DASHBOARDS_ROLE))
                )
            )
        suffix = landed.schema.rsplit("_", 1)[1]
        root = tmp_path_factory.mktemp("superset")
        files = private_copy(bundle.read(), gold, suffix)
        made = Private(ctx, Superset(ctx).client(), files, root, root.parent / f"{suffix}-manifest.json")
        made.import_(made.files)
        yield made
        made.import_({})
    finally:
        landed.drop(*(prefix + s for s in ("staging", "silver", "gold")))


def _ours(private: Private, kind: str) -> list[dict[str, Any]]:
    wanted = set(bundle.uuids(private.files)[kind])
    return [row for row in private.client.objects(kind) if str(row["uuid"]) in wanted]


def _rows_counter(rows: list[tuple[Any, ...]]) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(canonical(v) for v in row) for row in rows)


def test_every_chart_shows_what_gold_holds(ctx: Context, private: Private) -> None:
    datasets = {d["uuid"]: d for p, d in private.files.items() if p.startswith("datasets/")}
    ids = {str(row["uuid"]): row["id"] for row in private.client.objects("dataset")}
    checked = 0
    with Postgres(ctx).connect(APP_ROLE) as conn:
        for path, chart in sorted(private.files.items()):
            if not path.startswith("charts/"):
                continue
            context = json.loads(chart["query_context"])
            context["datasource"] = {"id": ids[chart["dataset_uuid"]], "type": "table"}
            for query in context["queries"]:
                query["post_processing"] = []
            shown = private.client.chart_data(context)
            statement, labels = gold_query(context["queries"][0], datasets[chart["dataset_uuid"]])
            held = conn.execute(statement).fetchall()
            assert held, f"{path}: Gold has no rows for this chart (the test data should fill every chart)"
            assert _rows_counter([tuple(row[label] for label in labels) for row in shown]) == _rows_counter(
                held
            ), path
            checked += 1
    assert checked == 26


def test_the_headline_figures_are_the_landed_records(private: Private) -> None:
    """Independent of any dataset definition: the overview's big numbers are what was landed."""
    ids = {str(row["uuid"]): row["id"] for row in private.client.objects("dataset")}
    figures = {}
    for path, chart in private.files.items():
        if path.startswith("charts/") and chart["viz_type"] == "big_number_total":
            context = json.loads(chart["query_context"])
            context["datasource"] = {"id": ids[chart["dataset_uuid"]], "type": "table"}
            [row] = private.client.chart_data(context)
            figures[chart["slice_name"]] = row[chart["params"]["metric"]]
    assert figures == {
        "Payments": PAYMENTS_LANDED,
        "Alerts": ALERTS_LANDED,
        "Alert rate": ALERTS_LANDED / PAYMENTS_LANDED,
        "Amount": sum(20 + n for n in range(PAYMENTS_LANDED)),
        "Amount at risk": 20 + 22 + 25,
    }


def test_every_dashboard_renders_every_chart_with_data_in_a_real_browser(
    ctx: Context, private: Private
) -> None:
    slugs = [d["slug"] for p, d in sorted(private.files.items()) if p.startswith("dashboards/")]
    shots = Path(private.root.parent)
    charts = {
        d["slug"]: len(bundle.chart_uuids(d)) for p, d in private.files.items() if p.startswith("dashboards/")
    }
    rendered = open_dashboards(
        Superset(ctx).url, ADMIN, ctx.secrets["superset_admin_password"], slugs,
        {slug: str(shots / f"{slug}.png") for slug in slugs}, charts,
    )  # fmt: skip
    for result in rendered:
        print(f"{result.slug}: {result.charts} charts drawn in {result.load_seconds:.1f}s")
        assert result.failed == {}, result.slug
        assert result.charts == charts[result.slug], result.slug
        assert (shots / f"{result.slug}.png").stat().st_size > 20_000


def test_import_twice_then_change_a_title_then_drop_a_chart(private: Private) -> None:
    before = {kind: len(_ours(private, kind)) for kind in ("dashboard", "chart", "dataset", "database")}
    assert before == {"dashboard": 4, "chart": 26, "dataset": 11, "database": 1}
    again = private.import_(private.files)
    assert again.deleted == {"dashboard": 0, "chart": 0, "dataset": 0, "database": 0}
    assert {kind: len(_ours(private, kind)) for kind in before} == before, "no duplicates"

    changed = copy.deepcopy(private.files)
    path = "charts/alerts_by_severity.yaml"
    changed[path]["slice_name"] = "Alerts by severity (renamed in YAML)"
    private.import_(changed)
    [chart] = [row for row in _ours(private, "chart") if str(row["uuid"]) == changed[path]["uuid"]]
    assert (
        private.client.get(f"/api/v1/chart/{chart['id']}")["result"]["slice_name"]
        == changed[path]["slice_name"]
    )

    dropped = changed.pop(path)
    for dashboard in (d for p, d in changed.items() if p.startswith("dashboards/")):
        position = dashboard["position"]
        for key in [
            k
            for k, node in position.items()
            if bundle.is_chart(node) and node["meta"]["uuid"] == dropped["uuid"]
        ]:
            del position[key]
            for node in position.values():
                if isinstance(node, dict) and key in node.get("children", []):
                    node["children"].remove(key)
    done = private.import_(changed)
    assert done.deleted["chart"] == 1
    assert dropped["uuid"] not in {str(row["uuid"]) for row in _ours(private, "chart")}
    assert len(_ours(private, "chart")) == 25
    private.import_(private.files)
    assert len(_ours(private, "chart")) == 26


def test_export_writes_back_the_files_that_were_imported(private: Private, tmp_path: Path) -> None:
    exported = bundle.from_export(private.client.export_bundle(), private.files)
    ours = {path: document for path, document in exported.items() if path in private.files}
    assert ours == private.files


def test_the_warehouse_role_reads_gold_and_nothing_else(ctx: Context) -> None:
    pg = Postgres(ctx)
    probe = sql.Identifier("gold", f"probe_{uuid.uuid4().hex[:8]}")
    with pg.connect(TRANSFORM_ROLE) as conn:  # as dbt builds Gold
        conn.execute(sql.SQL("create table {} as select 1 as n").format(probe))
        conn.commit()
    try:
        with pg.connect(DASHBOARDS_ROLE) as conn:
            conn.autocommit = True
            assert conn.execute(sql.SQL("select n from {}").format(probe)).fetchall() == [(1,)]
            with pytest.raises(errors.ReadOnlySqlTransaction):
                conn.execute(sql.SQL("insert into {} values (2)").format(probe))
            conn.execute("set default_transaction_read_only = off")  # a default, not the guard:
            for forbidden in (
                sql.SQL("select count(*) from bronze.load_manifest"),
                sql.SQL("select count(*) from ops.customer_profiles"),
                sql.SQL("select count(*) from silver.int_payment_facts"),
                sql.SQL("insert into {} values (2)").format(probe),
                sql.SQL("delete from {}").format(probe),
                sql.SQL("create table gold.intruder (n int)"),
                sql.SQL("create table public.intruder (n int)"),
            ):
                with pytest.raises(errors.InsufficientPrivilege):
                    conn.execute(forbidden)
    finally:
        with pg.connect(TRANSFORM_ROLE) as conn:
            conn.execute(sql.SQL("drop table {}").format(probe))
            conn.commit()
