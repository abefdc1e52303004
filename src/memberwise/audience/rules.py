"""The audience rule language: JSON parsed and type-checked into typed nodes before any SQL exists.

A rule is one node (docs/audiences.md):

    {"tag": "city", "eq": "Beijing"}                       a comparison: eq, in, gte, lte, between
    {"all": [rule, ...]}, {"any": [rule, ...]}, {"not": rule}
    {"bought": {"category": "makeup", "within_days": 7}}   a paid order (of a category, within N days)

Tags are the member feature columns (`memberwise.catalogue`) and the model outputs of a release. Every
problem is a `RuleError` naming where it is (`rule.all[2].gte`), so the CLI prints it in one line and
the service answers it as a 4xx; nothing malformed reaches the compiler.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from datetime import date
from typing import Literal

from memberwise.catalogue import CATALOGUE, FeatureKind
from memberwise.errors import MemberwiseError

Op = Literal["eq", "in", "gte", "lte", "between"]
Value = str | float | bool
OPS: tuple[Op, ...] = ("eq", "in", "gte", "lte", "between")
# Which comparisons make sense on each kind of tag (dates compare as ISO 'YYYY-MM-DD' text).
ALLOWED: dict[FeatureKind, tuple[Op, ...]] = {
    "number": OPS,
    "text": ("eq", "in"),
    "flag": ("eq",),
    "date": ("eq", "gte", "lte", "between"),
}
# Model outputs a release adds to the features (lifecycle_stage is a feature already).
MODEL_TAGS: dict[str, FeatureKind] = {
    "score": "number",
    "selected": "flag",
    "persona": "text",
    "persona_id": "number",
    "preferred_channel": "text",
}
TAGS: dict[str, FeatureKind] = {
    **{f.name: f.kind for f in CATALOGUE if f.name != "as_of"},
    **MODEL_TAGS,
}
MAX_NODES = 500  # nodes in one rule
MAX_DEPTH = 20  # nesting of all/any/not
MAX_VALUES = 10_000  # values of one `in`
MAX_TEXT = 200  # characters of one text value
MAX_WITHIN_DAYS = 36_500


class RuleError(MemberwiseError):
    """A rule that cannot run: unknown tag, wrong type, bad shape. The message starts with its path."""


@dataclass(frozen=True)
class Compare:
    """`tag op values`: one value for eq/gte/lte, several for in, two (low, high) for between."""

    tag: str
    op: Op
    values: tuple[Value, ...]
    kind: FeatureKind


@dataclass(frozen=True)
class AllOf:
    """Every child rule holds."""

    children: tuple[Rule, ...]


@dataclass(frozen=True)
class AnyOf:
    """At least one child rule holds."""

    children: tuple[Rule, ...]


@dataclass(frozen=True)
class Not:
    """The child rule does not hold (a null comparison is false, so its `not` is true)."""

    child: Rule


@dataclass(frozen=True)
class Bought:
    """A paid order before the cutoff, of `category` (None: any) within `within_days` (None: ever)."""

    category: str | None
    within_days: int | None


Rule = Compare | AllOf | AnyOf | Not | Bought


def parse_rule(raw: object, path: str = "rule") -> Rule:
    """The typed rule of a JSON value (RuleError naming the path of the first problem)."""
    counter = [0]
    return _parse(raw, path, 0, counter)


def _parse(raw: object, path: str, depth: int, counter: list[int]) -> Rule:
    counter[0] += 1
    if counter[0] > MAX_NODES:
        raise RuleError(f"{path}: the rule has more than {MAX_NODES} nodes")
    if depth > MAX_DEPTH:
        raise RuleError(f"{path}: rules nest at most {MAX_DEPTH} levels deep")
    if not isinstance(raw, dict):
        raise RuleError(f"{path}: expected an object such as {{'tag': ..., 'eq': ...}}, got {_shown(raw)}")
    if "tag" in raw:
        return _compare(raw, path)
    keys = sorted(raw)
    if len(keys) != 1 or keys[0] not in ("all", "any", "not", "bought"):
        raise RuleError(
            f"{path}: expected exactly one of 'tag' (with eq/in/gte/lte/between), 'all', 'any', 'not', "
            f"'bought'; got keys {keys}"
        )
    key = keys[0]
    body = raw[key]
    if key == "not":
        return Not(_parse(body, f"{path}.not", depth + 1, counter))
    if key == "bought":
        return _bought(body, f"{path}.bought")
    if not isinstance(body, list) or not body:
        raise RuleError(f"{path}.{key}: expected a non-empty list of rules, got {_shown(body)}")
    children = tuple(_parse(item, f"{path}.{key}[{i}]", depth + 1, counter) for i, item in enumerate(body))
    return AllOf(children) if key == "all" else AnyOf(children)


def _compare(raw: dict[str, object], path: str) -> Compare:
    tag = raw["tag"]
    if not isinstance(tag, str) or tag not in TAGS:
        close = difflib.get_close_matches(str(tag), TAGS, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else " (tags: docs/audiences.md)"
        raise RuleError(f"{path}.tag: unknown tag {_shown(tag)}{hint}")
    ops = [k for k in raw if k != "tag"]
    if len(ops) != 1 or ops[0] not in OPS:
        raise RuleError(f"{path}: tag '{tag}' needs exactly one of {', '.join(OPS)}; got {ops}")
    op = OPS[OPS.index(ops[0])]  # typed as an Op
    kind = TAGS[tag]
    where = f"{path}.{op}"
    if op not in ALLOWED[kind]:
        raise RuleError(f"{where}: tag '{tag}' is a {kind}: use {' or '.join(ALLOWED[kind])}, not {op}")
    body = raw[op]
    if op == "in":
        if not isinstance(body, list) or not 1 <= len(body) <= MAX_VALUES:
            raise RuleError(f"{where}: expected a list of 1 to {MAX_VALUES:,} values, got {_shown(body)}")
        items = body
    elif op == "between":
        if not isinstance(body, list) or len(body) != 2:
            raise RuleError(f"{where}: expected [low, high], got {_shown(body)}")
        items = body
    else:
        items = [body]
    indexed = op in ("in", "between")
    values = tuple(
        _value(item, tag, kind, f"{where}[{i}]" if indexed else where) for i, item in enumerate(items)
    )
    if op == "between" and _descending(values[0], values[1]):
        raise RuleError(f"{where}: low {values[0]!r} is above high {values[1]!r}")
    return Compare(tag, op, values, kind)


def _descending(low: Value, high: Value) -> bool:
    """Whether a between's bounds are the wrong way round (both numbers, or both ISO dates)."""
    if isinstance(low, str) and isinstance(high, str):
        return low > high
    return float(low) > float(high)


def _value(item: object, tag: str, kind: FeatureKind, where: str) -> Value:
    """One comparison value, of the tag's kind (a string is never read as a number, nor 1 as true)."""
    if kind == "number":
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            raise RuleError(f"{where}: tag '{tag}' is a number: expected a finite number, got {_shown(item)}")
        return float(item)
    if kind == "flag":
        if not isinstance(item, bool):
            raise RuleError(f"{where}: tag '{tag}' is a flag: expected true or false, got {_shown(item)}")
        return item
    if not isinstance(item, str) or len(item) > MAX_TEXT:
        raise RuleError(
            f"{where}: tag '{tag}' is {kind}: expected text of at most {MAX_TEXT} characters, "
            f"got {_shown(item)}"
        )
    if kind == "date":
        try:
            return date.fromisoformat(item).isoformat()
        except ValueError:
            raise RuleError(
                f"{where}: tag '{tag}' is a date: expected 'YYYY-MM-DD', got {_shown(item)}"
            ) from None
    return item


def _bought(body: object, path: str) -> Bought:
    if not isinstance(body, dict) or set(body) - {"category", "within_days"}:
        raise RuleError(
            f"{path}: expected {{'category': text, 'within_days': days}} (both optional), got {_shown(body)}"
        )
    category = body.get("category")
    if category is not None and (not isinstance(category, str) or not 0 < len(category) <= MAX_TEXT):
        raise RuleError(f"{path}.category: expected a category name (text), got {_shown(category)}")
    days = body.get("within_days")
    if days is not None and (
        isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_WITHIN_DAYS
    ):
        raise RuleError(f"{path}.within_days: expected whole days 1-{MAX_WITHIN_DAYS}, got {_shown(days)}")
    return Bought(category, days)


def tags_used(rule: Rule) -> list[str]:
    """The tags a rule reads, in order of first use (for the batch output's columns)."""
    found: dict[str, None] = {}
    for node in _nodes(rule):
        if isinstance(node, Compare):
            found.setdefault(node.tag)
    return list(found)


def categories_used(rule: Rule) -> list[str]:
    """The categories the rule's `bought` predicates name, in order of first use."""
    found = {node.category: None for node in _nodes(rule) if isinstance(node, Bought) and node.category}
    return list(found)


def uses_purchases(rule: Rule) -> bool:
    """Whether the rule has a `bought` predicate (it needs the per-category purchase table)."""
    return any(isinstance(node, Bought) for node in _nodes(rule))


def _nodes(rule: Rule) -> list[Rule]:
    if isinstance(rule, AllOf | AnyOf):
        return [rule, *(n for child in rule.children for n in _nodes(child))]
    if isinstance(rule, Not):
        return [rule, *_nodes(rule.child)]
    return [rule]


def _shown(value: object) -> str:
    """A value as the user wrote it, cut short (an error message stays one readable line)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
