"""A backtest's results as Markdown a fraud analyst can read: what was measured and on which labels,
the headline figures beside the live rules, each change of a candidate with its effect, and the
figures per rule, per scenario or persona and per day."""

from __future__ import annotations

from typing import Any

from fraudlake.backtest.run import HEADLINE, change

LABELS = {
    "recall": "recall (frauds alerted)",
    "precision": "precision (alerts that are fraud)",
    "legit_alerted": "legitimate payments alerted",
    "alerts_per_day": "alerts per day",
    "top_k_precision": "precision of each day's top-k alerts",
    "fraud_value_caught_eur": "fraud value caught (EUR)",
    "good_value_alerted_eur": "legitimate value alerted (EUR)",
}
SHARES = {"recall", "precision", "legit_alerted", "top_k_precision"}


def _value(key: str, value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    sign = "+" if signed and value > 0 else ""
    if key in SHARES:
        return f"{sign}{value * 100:.2f}{' pp' if signed else '%'}"
    return (
        f"{sign}{value:,.1f}"
        if isinstance(value, float) and key == "alerts_per_day"
        else f"{sign}{value:,.0f}"
    )


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [f"| {' | '.join(header)} |", f"|{'---|' * len(header)}", *(f"| {' | '.join(r)} |" for r in rows)]


def _headline(columns: dict[str, dict[str, Any]], change: dict[str, Any] | None) -> list[str]:
    """The headline figures, one column per rules version, and their change when one is given."""
    rows = [
        [LABELS[key], *(_value(key, c[key]) for c in columns.values())]
        + ([_value(key, change[key], signed=True)] if change else [])
        for key in HEADLINE
        if key != "top_k_precision" or next(iter(columns.values()))["top_k"]
    ]
    return _table(["", *columns, *(["change"] if change else [])], rows)


def _counts(figures: dict[str, Any]) -> str:
    return (
        f"{figures['payments']:,} payments on {figures['days']} days: {figures['labelled']:,} labelled "
        f"({figures['frauds']:,} fraud, {figures['legit']:,} legitimate), {figures['pending']:,} pending"
    )


def _per_rule(measured: dict[str, Any]) -> list[str]:
    rows = [
        [
            f"`{r['rule']}`",
            f"{r['hits']:,}",
            f"{r['in_alerts']:,}",
            _value("recall", r["fraud_hit"]),
            _value("legit_alerted", r["legit_hit"]),
            _value("precision", r["precision"]),
        ]
        for r in measured["per_rule"]
    ]
    return _table(
        ["rule", "fires", "in alerts", "frauds it fires on", "legitimate it fires on", "precision"], rows
    )


def _per_group(columns: dict[str, dict[str, Any]]) -> list[str]:
    """Share alerted per scenario or persona, one column per rules version."""
    groups = [{g["group"]: g for g in measured["per_group"]} for measured in columns.values()]
    rows = [
        [
            g["group"],
            g["kind"],
            f"{g['payments']:,}",
            *(_value("recall", m[g["group"]]["share_alerted"]) for m in groups),
        ]
        for g in groups[0].values()
    ]
    return _table(["scenario / persona", "", "payments", *(f"alerted ({name})" for name in columns)], rows)


def _per_day(measured: dict[str, Any]) -> list[str]:
    rows = [
        [
            d["day"],
            f"{d['payments']:,}",
            f"{d['pending']:,}",
            f"{d['alerts']:,}",
            f"{d['caught']:,}/{d['frauds']:,}",
            _value("legit_alerted", d["legit_alerted"]),
        ]
        for d in measured["per_day"]
    ]
    return _table(["day", "payments", "pending", "alerts", "frauds caught", "legitimate alerted"], rows)


def markdown(result: dict[str, Any], candidate_file: str | None = None) -> str:
    live, tested = result["live"], result["tested"]
    period = result["period"]
    lines = [
        f"# Backtest of rules {tested['version']}"
        + (f" against the live {live['version']}" if live["version"] != tested["version"] else ""),
        "",
        f"- Period: {period['from']} to {period['to']}; {_counts(tested['overall'])}.",
        f"- Labels: {result['labels']}. Pending payments (label not known yet) are in no rate.",
        f"- Alert budget: {result['budget'] or 'none given'}.",
        "",
    ]
    tuning = result.get("tuning")
    if tuning:
        holdout, train = tuning["holdout"], tuning["train"]
        name = holdout["candidate"]["version"]
        lines += [
            f"## Candidate {name} on the holdout period ({holdout['from']} to {holdout['to']})",
            "",
            f"Found on the training period ({train['from']} to {train['to']}, "
            f"{train['payments']:,} payments) "
            f"under a budget of {tuning['budget']}, maximising {tuning['objective']}; "
            f"{tuning['configurations_weighed']:,} configurations weighed. Nothing of the holdout period "
            f"informed the search (its labels: {train['labels']}).",
            "",
            *_headline(
                {live["version"]: holdout["live"]["overall"], name: holdout["candidate"]["overall"]},
                holdout["change"],
            ),
            "",
            f"Holdout: {_counts(holdout['candidate']['overall'])}.",
            "",
            "### On the training period",
            "",
            *_headline(
                {live["version"]: train["live"], name: train["candidate"]},
                change(train["live"], train["candidate"]),
            ),
            "",
            "### Each change alone, applied to the live rules (holdout)",
            "",
            *_table(
                ["change", "recall", "legitimate alerted", "alerts per day"],
                [
                    [
                        f"`{c['change']}`",
                        _value("recall", c["holdout_change"]["recall"], True),
                        _value("legit_alerted", c["holdout_change"]["legit_alerted"], True),
                        _value("alerts_per_day", c["holdout_change"]["alerts_per_day"], True),
                    ]
                    for c in tuning["changes"]
                ],
            ),
            "",
            "### Per rule (candidate, holdout)",
            "",
            *_per_rule(holdout["candidate"]),
            "",
        ]
        if holdout["candidate"]["per_group"]:
            lines += [
                "### Per scenario and persona (holdout)",
                "",
                *_per_group({live["version"]: holdout["live"], name: holdout["candidate"]}),
                "",
            ]
        lines += ["### Per day (candidate, holdout)", "", *_per_day(holdout["candidate"]), ""]
        if candidate_file:
            lines += [
                "## Promotion",
                "",
                f"The candidate is `{candidate_file}`. It goes live only when a person approves and "
                "deploys it (DAG `rules_deploy`: health gate, rollback):",
                "",
                "```bash",
                f"./fraudlake rules approve {candidate_file} --by NAME",
                f"./fraudlake rules deploy {candidate_file} --wait",
                "```",
                "",
            ]
        return "\n".join(lines)
    compared = live["version"] != tested["version"]
    columns = {live["version"]: live["overall"], tested["version"]: tested["overall"]}
    lines += [
        "## Against the live rules" if compared else "## Figures",
        "",
        *_headline(
            columns if compared else {tested["version"]: tested["overall"]},
            result["change_vs_live"] if compared else None,
        ),
        "",
        "## Per rule",
        "",
        *_per_rule(tested),
        "",
    ]
    if tested["per_group"]:
        lines += [
            "## Per scenario and persona",
            "",
            *_per_group({live["version"]: live, tested["version"]: tested}),
            "",
        ]
    lines += ["## Per day", "", *_per_day(tested), ""]
    return "\n".join(lines)
