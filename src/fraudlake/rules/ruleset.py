"""Load and validate a rules file; a bad file stops with the offending field named."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_RULES = Path(__file__).with_name("default.yaml")

# Every rule id the engines know, with the parameters it takes and their types.
RULE_PARAMETERS: dict[str, dict[str, type]] = {
    "FIRST_PAYMENT": {},
    "NEW_CUSTOMER": {"max_account_age_days": float},
    "UNUSUAL_HOUR": {"from_hour": int, "to_hour": int},
    "MOBILE_DEVICE": {"device_types": list},
    "DIRECT_TRAFFIC": {},
    "PAYMENT_FAILED": {},
    "VELOCITY": {"min_payments": int, "window_minutes": int},
    "GEO_MISMATCH": {},
    "NEW_DEVICE": {},
    "UNUSUAL_AMOUNT": {"ratio": float, "min_history": int},
}


class RulesError(ValueError):
    """The rules file is invalid; the message starts with the field's path."""


@dataclass(frozen=True)
class Rule:
    id: str
    points: int
    params: dict[str, Any]


@dataclass(frozen=True)
class RuleSet:
    version: str
    score_cap: int
    alert_threshold: int
    always_alert: frozenset[str]
    medium_from: int
    high_from: int
    rules: dict[str, Rule]

    def severity(self, score: int) -> str:
        if score >= self.high_from:
            return "HIGH"
        return "MEDIUM" if score >= self.medium_from else "LOW"

    def param(self, rule_id: str, name: str) -> Any:
        return self.rules[rule_id].params[name]


def load(path: Path = DEFAULT_RULES) -> RuleSet:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise RulesError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise RulesError(f"{path}: not valid YAML: {exc}") from None
    return parse(data, source=str(path))


def parse(data: Any, source: str = "rules") -> RuleSet:
    """Validate a rules document (as loaded from YAML)."""
    root = _Node(data, source)
    version = root.get("version").string()
    cap = root.get("score_cap").integer(low=1, high=1000)
    alert = root.get("alert")
    threshold = alert.get("threshold").integer(low=1, high=cap)
    severity = root.get("severity")
    medium = severity.get("medium").integer(low=1, high=cap)
    high = severity.get("high").integer(low=medium, high=cap)
    rules_node = root.get("rules")
    if not isinstance(rules_node.value, dict) or not rules_node.value:
        raise RulesError(f"{rules_node.path}: expected a mapping of rule ids to settings")
    rules: dict[str, Rule] = {}
    for rule_id, _ in rules_node.value.items():
        node = rules_node.get(str(rule_id))
        if rule_id not in RULE_PARAMETERS:
            raise RulesError(f"{node.path}: unknown rule (known: {', '.join(RULE_PARAMETERS)})")
        expected = RULE_PARAMETERS[rule_id]
        unknown = set(node.mapping()) - set(expected) - {"points"}
        if unknown:
            raise RulesError(f"{node.path}.{sorted(unknown)[0]}: unknown parameter for {rule_id}")
        params = {name: node.get(name).typed(kind) for name, kind in expected.items()}
        rules[rule_id] = Rule(rule_id, node.get("points").integer(low=0, high=cap), params)
    if "UNUSUAL_HOUR" in rules:
        hours = rules["UNUSUAL_HOUR"].params
        for name in ("from_hour", "to_hour"):
            if not 0 <= hours[name] <= 24:
                raise RulesError(f"{source}.rules.UNUSUAL_HOUR.{name}: expected 0..24, got {hours[name]}")
    always = alert.get("always", default=[]).typed(list)
    for rule_id in always:
        if rule_id not in rules:
            raise RulesError(f"{alert.path}.always: {rule_id!r} is not a rule of this file")
    return RuleSet(version, cap, threshold, frozenset(always), medium, high, rules)


class _Node:
    """A value inside the document and its dotted path, for precise error messages."""

    def __init__(self, value: Any, path: str) -> None:
        self.value = value
        self.path = path

    def mapping(self) -> dict[str, Any]:
        if not isinstance(self.value, dict):
            raise RulesError(f"{self.path}: expected a mapping, got {type(self.value).__name__}")
        return self.value

    _MISSING = object()

    def get(self, key: str, default: Any = _MISSING) -> _Node:
        mapping = self.mapping()
        if key not in mapping:
            if default is _Node._MISSING:
                raise RulesError(f"{self.path}.{key}: missing")
            return _Node(default, f"{self.path}.{key}")
        return _Node(mapping[key], f"{self.path}.{key}")

    def string(self) -> str:
        if not isinstance(self.value, str | int) or isinstance(self.value, bool) or str(self.value) == "":
            raise RulesError(f"{self.path}: expected a non-empty string, got {self.value!r}")
        return str(self.value)

    def integer(self, *, low: int, high: int) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise RulesError(f"{self.path}: expected an integer, got {self.value!r}")
        if not low <= self.value <= high:
            raise RulesError(f"{self.path}: expected {low}..{high}, got {self.value}")
        return self.value

    def typed(self, kind: type) -> Any:
        if kind is int:
            return self.integer(low=0, high=10**6)
        if kind is float:
            if isinstance(self.value, bool) or not isinstance(self.value, int | float) or self.value <= 0:
                raise RulesError(f"{self.path}: expected a positive number, got {self.value!r}")
            return float(self.value)
        if not isinstance(self.value, list) or not all(isinstance(v, str) for v in self.value):
            raise RulesError(f"{self.path}: expected a list of strings, got {self.value!r}")
        return list(self.value)
