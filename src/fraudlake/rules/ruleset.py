"""Load and validate a rules file against its declared schema; a bad file stops naming the field.

The document's shape is a pydantic model (`RulesFile`); each rule's settings are its catalog
entry's parameter model plus `points`. What depends on other fields (the threshold and bands
within the score cap, `alert.always` naming rules of the file) is checked after the shape.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model

from fraudlake.rules.catalog import CATALOG, Count
from fraudlake.rules.definition import Params
from fraudlake.validation import between, message, refuse
from fraudlake.wording import shown

DEFAULT_RULES = Path(__file__).with_name("default.yaml")


class RulesError(ValueError):
    """The rules file is invalid; the message starts with the field's path."""


def _version(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or str(value) == "":
        raise refuse("a non-empty string", value)
    return str(value)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Alert(_Section):
    threshold: Annotated[int, between(1, 1000)]
    always: list[str] = []


class _Severity(_Section):
    medium: Annotated[int, between(1, 1000)]
    high: Annotated[int, between(1, 1000)]


class _Approval(_Section):
    proposed_by: str = Field(min_length=1)
    approved_by: str | None = Field(default=None, min_length=1)
    approved_at: str | None = None
    rules_sha256: str | None = None


class RulesFile(_Section):
    """The rules file's shape."""

    version: Annotated[str, BeforeValidator(_version)]
    score_cap: Annotated[int, between(1, 1000)]
    alert: _Alert
    severity: _Severity
    rules: dict[str, dict[str, Any]] = Field(min_length=1)
    approval: _Approval | None = None
    """Present on a proposed version (a tuning run's candidate): who proposed it, and who approved it."""


@cache
def _settings_model(rule_id: str) -> type[Params]:
    """A rule's settings in the file: its catalog parameters plus `points`."""
    return create_model(f"{rule_id}Settings", points=(Count, ...), __base__=CATALOG[rule_id].params)


@dataclass(frozen=True)
class RuleSetting:
    """A catalog rule as one rules file sets it."""

    id: str
    points: int
    params: Params


@dataclass(frozen=True)
class Approval:
    """Who proposed a rules version, and the person who approved it for deployment."""

    proposed_by: str
    approved_by: str | None = None
    approved_at: str | None = None
    rules_sha256: str | None = None
    """What was approved: the rules' content (`content_sha256`), so an edit after approval shows."""


@dataclass(frozen=True)
class RuleSet:
    version: str
    score_cap: int
    alert_threshold: int
    always_alert: frozenset[str]
    medium_from: int
    high_from: int
    rules: dict[str, RuleSetting]
    approval: Approval | None = None

    def severity(self, score: int) -> str:
        if score >= self.high_from:
            return "HIGH"
        return "MEDIUM" if score >= self.medium_from else "LOW"

    def param(self, rule_id: str, name: str) -> Any:
        return getattr(self.rules[rule_id].params, name)


def load(path: Path = DEFAULT_RULES) -> RuleSet:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise RulesError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise RulesError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise RulesError(f"{path}: not valid YAML: {exc}") from None
    return parse(data, source=str(path))


def parse(data: Any, source: str = "rules") -> RuleSet:
    """Validate a rules document (as loaded from YAML)."""
    document = _validated(RulesFile, data, source)
    cap = document.score_cap
    _within(f"{source}.alert.threshold", document.alert.threshold, 1, cap)
    _within(f"{source}.severity.medium", document.severity.medium, 1, cap)
    _within(f"{source}.severity.high", document.severity.high, document.severity.medium, cap)
    rules: dict[str, RuleSetting] = {}
    for rule_id, settings in document.rules.items():
        path = f"{source}.rules.{_key(rule_id)}"
        if rule_id not in CATALOG:
            raise RulesError(f"{path}: unknown rule (known: {', '.join(CATALOG)})")
        validated = _validated(_settings_model(rule_id), settings, path, rule_id)
        points = validated.points
        _within(f"{path}.points", points, 0, cap)
        params = CATALOG[rule_id].params.model_validate(validated.model_dump(exclude={"points"}))
        rules[rule_id] = RuleSetting(rule_id, points, params)
    for rule_id in document.alert.always:
        if rule_id not in rules:
            raise RulesError(f"{source}.alert.always: {rule_id!r} is not a rule of this file")
    return RuleSet(
        document.version,
        cap,
        document.alert.threshold,
        frozenset(document.alert.always),
        document.severity.medium,
        document.severity.high,
        rules,
        Approval(**document.approval.model_dump()) if document.approval else None,
    )


def _key(part: Any) -> str:
    """A part of a field's path: a name or an index as it is, anything else quoted (a key with
    control characters or spaces would make the path unreadable, or rewrite the terminal)."""
    if isinstance(part, int) or (isinstance(part, str) and part.isidentifier()):
        return str(part)
    return shown(part)


def _within(path: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise RulesError(f"{path}: expected {low}..{high}, got {value}")


def _validated(model: type[BaseModel], data: Any, path: str, rule_id: str | None = None) -> Any:
    """`model` validated from `data`, or a RulesError naming the first bad field by its path."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        where = ".".join([path, *map(_key, error["loc"])])
        kind = error["type"]
        if kind == "extra_forbidden" and rule_id:
            raise RulesError(f"{where}: unknown parameter for {rule_id}") from None
        raise RulesError(f"{where}: {message(error)}") from None


def document(rules: RuleSet) -> dict[str, Any]:
    """The rules file's document for `rules` (parse(document(r)) == r)."""
    approval = {"approval": asdict(rules.approval)} if rules.approval else {}
    return (
        {"version": rules.version}
        | approval
        | {
            "score_cap": rules.score_cap,
            "alert": {"threshold": rules.alert_threshold, "always": sorted(rules.always_alert)},
            "severity": {"medium": rules.medium_from, "high": rules.high_from},
            "rules": {
                rule_id: {"points": setting.points, **setting.params.model_dump()}
                for rule_id, setting in rules.rules.items()
            },
        }
    )


def content_sha256(rules: RuleSet) -> str:
    """The rules' content, without their approval section, as a digest."""
    canonical = json.dumps(document(replace(rules, approval=None)), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def approve(path: Path, by: str, at: str) -> RuleSet:
    """Record in the file at `path` that `by` approved its proposed rules version (at `at`), and
    the content they approved."""
    rules = load(path)
    if rules.approval is None:
        raise RulesError(f"{path}: not a proposed rules version (no approval section): nothing to approve")
    if not by.strip():
        raise RulesError(f"{path}: approval.approved_by: the approver's name is empty")
    if rules.approval.approved_by:
        raise RulesError(
            f"{path}: approval.approved_by: rules {rules.version} were already approved by "
            f"{rules.approval.approved_by} at {rules.approval.approved_at}"
        )
    approval = replace(
        rules.approval, approved_by=by.strip(), approved_at=at, rules_sha256=content_sha256(rules)
    )
    approved = replace(rules, approval=approval)
    header = "".join(line[2:] + "\n" for line in path.read_text().splitlines() if line.startswith("# "))
    path.write_text(dump(approved, header))
    return approved


def require_approval(rules: RuleSet, source: str) -> None:
    """A proposed version (a tuning run's candidate) runs only as a person approved it; RulesError
    otherwise. Hand-written rules files have no approval section and need none."""
    approval = rules.approval
    if approval is None:
        return
    if not approval.approved_by:
        raise RulesError(
            f"{source}: approval.approved_by: rules {rules.version} were proposed by "
            f"{approval.proposed_by} and nobody approved them; review report.md beside the file, "
            f"then: fraudlake rules approve {source} --by NAME"
        )
    if approval.rules_sha256 != content_sha256(rules):
        raise RulesError(
            f"{source}: approval.rules_sha256: rules {rules.version} changed after "
            f"{approval.approved_by} approved them; give the changes a new version and have them approved"
        )


def dump(rules: RuleSet, header: str = "") -> str:
    """`rules` as a rules file, `header` as its leading comment lines."""
    comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
    return comment + yaml.safe_dump(document(rules), sort_keys=False)
