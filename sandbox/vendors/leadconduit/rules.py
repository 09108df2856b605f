"""Rule objects that filter what /events/stats and report runs count.

A rule is ``{"lhv": "<dotted path>", "op": "<operator>", "rhv": <value>}`` (the legacy doc's
"Event Statistics Filter Rule", the same shape routers use); a rule set is
``{"op": "and" | "or", "rules": [...]}`` and may nest. An operator the sandbox does not implement is
a 422 naming it, never a filter silently dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from sandbox.vendors.leadconduit.query import ValidationError

#: Operators implemented here; LeadConduit has more (comparisons, "matches", "is true"...).
OPERATORS = ("is equal to", "is not equal to", "is included in", "is not included in",
             "is blank", "is not blank")
_UNARY = ("is blank", "is not blank")
Field = Callable[[str], Any]


def _comparable(value: Any) -> Any:
    """Return what a rule compares: a typed value (email, phone, state) by its ``normal`` form."""
    if isinstance(value, dict) and "normal" in value:
        value = value["normal"]
    if isinstance(value, bool):
        return str(value).lower()
    return None if value is None else str(value)


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


@dataclass(frozen=True)
class Rule:
    """One ``lhv op rhv`` test on a dotted path of the event."""

    lhv: str
    op: str
    rhv: Any = None

    def matches(self, field: Field) -> bool:
        """Tell whether an event passes.

        :param field: dotted path -> the event's value there (None when absent).
        """
        value = field(self.lhv)
        if self.op in _UNARY:
            return _blank(value) == (self.op == "is blank")
        left = _comparable(value)
        if self.op in ("is equal to", "is not equal to"):
            return (left == _comparable(self.rhv)) == (self.op == "is equal to")
        allowed = {_comparable(v) for v in self.rhv}
        return (left in allowed) == (self.op == "is included in")


@dataclass(frozen=True)
class RuleSet:
    """Rules joined by ``and`` (all pass) or ``or`` (any passes)."""

    op: str
    rules: tuple[Rule | RuleSet, ...]

    def matches(self, field: Field) -> bool:
        """Tell whether an event passes.

        :param field: dotted path -> the event's value there.
        """
        results = (r.matches(field) for r in self.rules)
        return any(results) if self.op == "or" else all(results)

    def paths(self) -> set[str]:
        """Return every ``lhv`` the set reads."""
        return {p for r in self.rules for p in (r.paths() if isinstance(r, RuleSet) else {r.lhv})}


def _parse_rule(node: Any) -> Rule | RuleSet:
    """Parse one rule or rule set; raise ValidationError with errors keyed like the JSON sent."""
    if not isinstance(node, dict):
        raise ValidationError({"": ["must be a rule object"]})
    if "rules" in node:
        op = node.get("op", "and")
        if op not in ("and", "or"):
            raise ValidationError({"op": [f"{op!r} is not a rule set operator (and, or)"]})
        return RuleSet(op, tuple(_parse_list(node["rules"], "rules")))
    errors: dict[str, list[str]] = {}
    lhv, op, rhv = node.get("lhv"), node.get("op"), node.get("rhv")
    if not isinstance(lhv, str) or not lhv:
        errors["lhv"] = ["is required (a dotted field path, e.g. vars.flow.id)"]
    if op not in OPERATORS:
        errors["op"] = [f"{op!r} is not supported by the sandbox; supported: {', '.join(OPERATORS)}"]
    elif op in ("is included in", "is not included in") and not isinstance(rhv, list):
        errors["rhv"] = [f"must be an array for {op!r}"]
    elif op not in _UNARY and "rhv" not in node:
        errors["rhv"] = ["is required"]
    if errors:
        raise ValidationError(errors)
    return Rule(lhv, op, rhv)


def _parse_list(nodes: Any, where: str) -> list[Rule | RuleSet]:
    if not isinstance(nodes, list):
        raise ValidationError({where: ["must be an array of rules"]})
    parsed, errors = [], {}
    for i, node in enumerate(nodes):
        try:
            parsed.append(_parse_rule(node))
        except ValidationError as exc:
            errors[str(i)] = exc.errors
    if errors:
        raise ValidationError({where: errors})
    return parsed


def parse_rules(body_rules: Any = None, rule_args: Iterable[str] = (),
                rules_arg: str | None = None) -> RuleSet | None:
    """Return every rule given, joined by ``and``, or None when there is none.

    :param body_rules: a report definition's ``rules`` array (None when absent).
    :param rule_args: ``rule`` query parameters, each one URL-encoded JSON rule.
    :param rules_arg: a ``rules`` query parameter, a JSON array of rules.
    :raises ValidationError: on a malformed rule or an operator not implemented.
    """
    found: list[Rule | RuleSet] = []
    if body_rules is not None:
        found += _parse_list(body_rules, "rules")
    texts = [t for t in rule_args if t]
    if texts:
        found += _parse_list([_json(t, "rule") for t in texts], "rule")
    if rules_arg:
        found += _parse_list(_json(rules_arg, "rules"), "rules")
    return RuleSet("and", tuple(found)) if found else None


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise ValidationError({where: [f"{text[:80]!r} is not JSON"]}) from None
