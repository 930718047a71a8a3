"""A private copy of the dashboards over a private Gold, for tests that must not touch the
platform's own, and the checks the tests and the dashboard benchmark share: what Gold itself says
a chart's query returns, and a real browser that opens a dashboard."""

from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from psycopg import sql

from fraudlake.dashboards import bundle

CHROMIUM = "/usr/bin/chromium"


def private_copy(files: bundle.Files, schema: str, suffix: str) -> bundle.Files:
    """The bundle with fresh UUIDs, its own connection name and slugs, its datasets on `schema`."""
    text = json.dumps(files)
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, suffix)
    for document in files.values():
        old = str(document["uuid"])
        text = text.replace(old, str(uuid.uuid5(namespace, old)))
    copy: bundle.Files = json.loads(text)
    for path, document in copy.items():
        if path.startswith("databases/"):
            document["database_name"] += f" {suffix}"  # Superset keys connections by name too
        elif path.startswith("datasets/"):
            document["schema"] = schema
        elif path.startswith("dashboards/"):
            document["slug"] += f"-{suffix}"
            document["dashboard_title"] += f" [{suffix}]"
    return copy


def canonical(value: Any) -> Any:
    """One form for a figure however it travelled: Superset's JSON (times as epoch milliseconds with
    a float's fraction, numbers as floats) or psycopg (datetimes, Decimals). Times compare to the
    millisecond, other numbers to six decimals."""
    if isinstance(value, datetime):
        return math.floor(value.timestamp() * 1000)
    if isinstance(value, date):
        return math.floor(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp() * 1000)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        number = float(value)
        return math.floor(number) if abs(number) >= EPOCH_MS_2001 else round(number, 6)
    return value


EPOCH_MS_2001 = 978_307_200_000
"""Numbers this large are epoch milliseconds (no figure of the dashboards comes near it)."""


GRAINS = {"PT1M": "minute", "PT1H": "hour", "P1D": "day"}


def gold_query(query: dict[str, Any], dataset: dict[str, Any]) -> tuple[sql.Composed, list[str]]:
    """The SQL a chart's query object stands for, written from the dataset's own definitions (its
    metrics' expressions, its calculated columns), and the labels of its result columns."""
    expressions = {c["column_name"]: c.get("expression") for c in dataset["columns"]}
    metrics = {m["metric_name"]: m["expression"] for m in dataset["metrics"]}

    def column(name: str) -> sql.Composable:
        return sql.SQL(expressions[name]) if expressions.get(name) else sql.Identifier(name)

    selected: list[sql.Composable] = []
    labels: list[str] = []
    for col in query.get("columns", []):
        if isinstance(col, dict):
            base = column(col["sqlExpression"])
            grain = col.get("timeGrain")
            selected.append(
                sql.SQL("date_trunc({}, {})").format(sql.Literal(GRAINS[grain]), base) if grain else base
            )
            labels.append(col["label"])
        else:
            selected.append(column(col))
            labels.append(col)
    keys = len(selected)
    for metric in query.get("metrics") or []:
        selected.append(sql.SQL(metrics[metric]))
        labels.append(metric)
    statement = sql.SQL("select {} from {}").format(
        sql.SQL(", ").join(selected), sql.Identifier(dataset["schema"], dataset["table_name"])
    )
    if query.get("metrics") and keys:
        statement += sql.SQL(" group by {}").format(
            sql.SQL(", ").join(sql.Literal(n) for n in range(1, keys + 1))
        )
    order = [
        sql.SQL("{} {}").format(sql.Literal(labels.index(name) + 1), sql.SQL("asc" if ascending else "desc"))
        for name, ascending in query.get("orderby") or []
    ]
    if order:
        statement += sql.SQL(" order by {}").format(sql.SQL(", ").join(order))
    if query.get("row_limit"):
        statement += sql.SQL(" limit {}").format(sql.Literal(int(query["row_limit"])))
    return statement, labels


DRAWN = """expected => {
    const holders = [...document.querySelectorAll('.dashboard-component-chart-holder')];
    const settled = h => !h.querySelector('.loading, [data-test="loading-indicator"]') && (
        h.querySelector('canvas, svg, table, .big_number, .header-line, [data-test="error-message"]')
        || h.innerText.includes('No results'));
    return holders.length > 0 && (!expected || holders.length === expected) && holders.every(settled);
}"""
"""The expected number of chart holders (0: any) are there and every one has drawn something (a
canvas, a table, a number) or shown why not. (A dashboard's first render can drop its holders
again: they are counted once drawn, not when they first appear.)"""


@dataclass(frozen=True)
class Rendered:
    slug: str
    charts: int
    failed: dict[str, str]
    """chart title -> the error or emptiness it showed"""
    load_seconds: float
    """navigation start until the last chart was drawn"""


def log_in(page: Any, url: str, user: str, password: str, attempts: int = 3) -> None:
    """Log in through the form as a user does. Only the redirect's first response is awaited, not
    the welcome page's load (slow on a busy machine and not what is tested); a login the server
    dropped is tried again, and one that keeps failing says what the page showed."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    shown = ""
    for _ in range(attempts):
        page.goto(f"{url}/login/", wait_until="domcontentloaded")
        page.fill("#username", user)
        page.fill("#password", password)
        page.click("[type=submit]")
        try:
            page.wait_for_url(lambda target: "/login" not in target, wait_until="commit", timeout=60_000)
            return
        except PlaywrightTimeout:
            shown = f"{page.url}: {page.locator('body').inner_text(timeout=5_000)[:300]!r}"
    raise AssertionError(f"Superset login failed {attempts} times; the page showed {shown}")


def open_dashboards(
    url: str,
    user: str,
    password: str,
    slugs: list[str],
    screenshots: dict[str, str] | None = None,
    expected: dict[str, int] | None = None,
) -> list[Rendered]:
    """Log in with headless Chromium, open each dashboard, wait until every chart is drawn (as many
    as `expected` says, when it does), and report the charts that show an error or no data;
    optionally save a screenshot per slug."""
    from playwright.sync_api import sync_playwright

    results = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1600, "height": 1400})
        host = url.split("//", 1)[1]
        page.route("**/*", lambda route: route.continue_() if host in route.request.url else route.abort())
        log_in(page, url, user, password)
        for slug in slugs:
            started = time.monotonic()
            page.goto(f"{url}/superset/dashboard/{slug}/")
            charts = (expected or {}).get(slug, 0)
            page.wait_for_function(DRAWN, arg=charts, timeout=120_000)
            elapsed = time.monotonic() - started
            page.wait_for_timeout(500)
            page.wait_for_function(DRAWN, arg=charts, timeout=120_000)  # still drawn after a re-render
            holders = page.locator(".dashboard-component-chart-holder")
            drawn = holders.count()
            failed = {}
            for n in range(drawn):
                holder = holders.nth(n)
                title = (
                    holder.locator("[data-test='editable-title'], .header-title").first.inner_text().strip()
                )
                if holder.locator("[data-test='error-message'], .ant-alert-error, .alert-danger").count():
                    failed[title] = holder.inner_text()[:300]
                elif "No results" in holder.inner_text():
                    failed[title] = "no results"
            if screenshots and slug in screenshots:
                page.wait_for_timeout(1500)  # ECharts animates bars and lines in
                page.wait_for_function(DRAWN, arg=charts, timeout=120_000)
                page.screenshot(path=screenshots[slug], full_page=True)
            results.append(Rendered(slug, drawn, failed, elapsed))
        browser.close()
    return results
