"""Answer a rule on a source: the count, the breakdown by lifecycle stage and persona, a page of ids.

A source is a DuckDB connection holding `audience_members` (and `audience_purchases`): the warehouse
in batch, an in-memory copy of the release's snapshot in the service. Both run the compiled SQL of
`audience.compile`, so the semantics have one source.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb

from memberwise.audience.compile import PURCHASES, compile_rule, matched_sql
from memberwise.audience.rules import (
    MODEL_TAGS,
    Rule,
    RuleError,
    categories_used,
    tags_used,
    uses_purchases,
)

Breakdown = list[tuple[str | None, int]]  # (value, members), largest first


@dataclass(frozen=True)
class AudienceSource:
    """Where a rule runs, and what it can answer.

    `purchases`: whether `audience_purchases` holds the per-category purchases (else `bought` is
    refused); `model_outputs`: whether score/persona come from a release (else they are refused).
    """

    con: duckdb.DuckDBPyConnection
    as_of: str
    description: str
    purchases: bool
    model_outputs: bool = True


@dataclass(frozen=True)
class AudienceAnswer:
    """The members a rule selects: how many, where they are, and one page of their ids."""

    count: int
    by_lifecycle_stage: Breakdown
    by_persona: Breakdown
    member_ids: list[str]


def check(source: AudienceSource, rule: Rule) -> None:
    """Refuse (RuleError) a rule the source cannot answer: no purchase table, no model outputs."""
    if uses_purchases(rule) and not source.purchases:
        raise RuleError(
            f"rule: 'bought' needs each member's purchases by category, which {source.description} does "
            "not carry; answer it in batch: `memberwise audience --rule FILE --out FILE --data DIR`"
        )
    outputs = [t for t in tags_used(rule) if t in MODEL_TAGS and t != "preferred_channel"]
    if outputs and not source.model_outputs:
        raise RuleError(
            f"rule: tag(s) {', '.join(outputs)} come from a release and there is none yet: "
            "run `memberwise retrain` first"
        )


def run(source: AudienceSource, rule: Rule, offset: int, limit: int) -> AudienceAnswer:
    """The answer to a rule: every matching member counted, ids `offset`..`offset+limit` by member_id."""
    check(source, rule)
    compiled = compile_rule(rule)
    con = source.con.cursor()  # its own connection to the same database: safe beside other threads
    try:  # the rule runs once; the breakdown and the page read its result
        columns = ["member_id", "lifecycle_stage", "persona"]
        con.execute(f"CREATE TEMP TABLE matched AS {matched_sql(compiled, columns, False)}", compiled.params)
        cells = con.execute("SELECT lifecycle_stage, persona, count(*) FROM matched GROUP BY ALL").fetchall()
        page = con.execute(
            "SELECT member_id FROM matched ORDER BY member_id LIMIT ? OFFSET ?", [limit, offset]
        ).fetchall()
    finally:
        con.close()
    stages: Counter[str | None] = Counter()
    personas: Counter[str | None] = Counter()
    for stage, persona, n in cells:
        stages[stage] += n
        personas[persona] += n
    return AudienceAnswer(
        count=sum(stages.values()),
        by_lifecycle_stage=_largest_first(stages),
        by_persona=_largest_first(personas),
        member_ids=[str(row[0]) for row in page],
    )


def unknown_categories(source: AudienceSource, rule: Rule) -> tuple[list[str], list[str]]:
    """Categories a `bought` names that no member bought before the cutoff, and the categories there are.

    Not an error (a category nobody bought yet is a fair rule, and `not bought` of it holds for all),
    but a misspelt one silently matches no purchase, so callers say so.
    """
    named = categories_used(rule)
    if not named or not source.purchases:
        return [], []
    con = source.con.cursor()
    try:
        rows = con.execute(f"SELECT DISTINCT category FROM {PURCHASES} WHERE category IS NOT NULL ORDER BY 1")
        known = [str(row[0]) for row in rows.fetchall()]
    finally:
        con.close()
    return [c for c in named if c not in known], known


def export(source: AudienceSource, rule: Rule, path: Path) -> None:
    """Write the matching members (member_id, then the tags the rule reads) to .csv or .parquet."""
    check(source, rule)
    compiled = compile_rule(rule)
    columns = ["member_id", *[t for t in tags_used(rule) if t != "member_id"]]
    path.parent.mkdir(parents=True, exist_ok=True)
    options = "FORMAT csv, HEADER" if path.suffix == ".csv" else "FORMAT parquet"
    target = str(path).replace("'", "''")
    source.con.execute(f"COPY ({matched_sql(compiled, columns)}) TO '{target}' ({options})", compiled.params)


def _largest_first(counts: Counter[str | None]) -> Breakdown:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0] is None, str(item[0])))
