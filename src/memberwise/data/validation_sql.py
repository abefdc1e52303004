"""The data contract's row rules as one portable SQL query per table (DuckDB, and Spark via sqlglot).

`checked_sql` reads the staging relation `staged_name(table)` (the contract columns as text or typed
values, plus `_row`, the 0-based position in the source) and returns every row once: `_row`, each
contract column parsed to its type, `reasons` (`column:reason` entries sorted and joined by "; ", NULL
for a valid row) and `_key` (the raw key values joined by "|", on rejected rows only).

The SQL keeps to functions both engines share (TRY_CAST, CASE, regexp_matches/regexp_extract, lpad,
concat_ws, a grouped join for repeated keys) and writes its regular expressions without
backslashes, so `sqlglot.transpile(sql, read="duckdb", write="spark")` gives the same rules on Spark.
A cell fails at most one rule (a refused value is null, and the range, sign, enum and snapshot rules
read only parsed values), so each column contributes at most one entry to `reasons`.
"""

from __future__ import annotations

import pandas as pd

from memberwise.data.contract import Column, Reason, Table

# Strict ISO 8601 as most exports write it, cast as is (no hour 24: DuckDB would roll it over).
_ISO = "^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]{1,6})?)?)?$"
# The looser forms pandas' ISO 8601 parser also read: `/` separators, one-digit fields, an hour alone,
# any number of fraction digits. Groups: year, month, day, hour, minute, second, fraction.
_LOOSE = (
    "^([0-9]{4})[-/]([0-9]{1,2})[-/]([0-9]{1,2})"
    "(?:[T ]([01]?[0-9]|2[0-3])(?::([0-5]?[0-9])(?::([0-5]?[0-9])(?:[.]([0-9]*))?)?)?)?$"
)
# A time followed by a zone: `Z`, `+08:00`, `+0800`, `-05`, ` UTC` (the contract wants naive local time).
_ZONED = "(?i)[T ][0-9]{1,2}(:?[0-9]{2}){0,2}([.,][0-9]+)?[ ]*(Z|UTC|GMT|[+-][0-9]{2}(:?[0-9]{2})?)$"
_NUMBER = "^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$"
_TRUE = ("true", "1", "t", "yes", "y")
_FALSE = ("false", "0", "f", "no", "n")
_MAX_INT = 2**53  # larger integers do not survive the float parse exactly
_MAX_FLOAT = "1.7976931348623157e308"  # NaN and infinities lie outside it on both engines
# What a nanosecond timestamp holds (pandas' range), in whole microseconds.
_EARLIEST = "1677-09-21 00:12:43.145225"
_LATEST = "2262-04-11 23:47:16.854775"
_WHITESPACE = "' ' || chr(9) || chr(10) || chr(13)"


def staged_name(table_name: str) -> str:
    """The staging relation a table is read from: contract columns (text or typed) plus `_row BIGINT`."""
    return f"raw_{table_name}"


def checked_sql(
    table: Table, snapshot_at: pd.Timestamp, source_types: dict[str, str], repeated_keys: str | None = None
) -> str:
    """One SELECT over the staged table: `_row`, the typed contract columns, `reasons` and `_key`.

    `source_types` maps a staged column to its type name (DuckDB's or Spark's); text columns are
    parsed, typed ones cast. Accepted rows are those with `reasons IS NULL`. By default the repeated
    keys are found inline; an engine may run `repeated_keys_sql` first (its result is small) and pass
    the relation holding it, or "" when it came back empty: then no join is needed and the rows stream
    through in source order.
    """
    snapshot = _snapshot(snapshot_at)
    typed = ", ".join(f"j.{_q(c.name)}" for c in table.columns)
    raw_keys = [f"CAST({_q(k)} AS VARCHAR)" for k in table.key]
    key_text = " || '|' || ".join(f"coalesce(j.{_q(f'_raw{i}')}, '')" for i in range(len(raw_keys))) or "''"
    judged = _judged_rows(table.columns, table, source_types, snapshot, raw_keys)
    return (
        f"SELECT _row, {', '.join(_q(c.name) for c in table.columns)}, reasons, "
        f"CASE WHEN reasons IS NOT NULL THEN _key END AS _key FROM ("
        f"SELECT j._row, {typed}, {_reasons(table, repeated_keys)} AS reasons, {key_text} AS _key "
        f"FROM ({judged}) AS j{_duplicates(table, source_types, snapshot_at, repeated_keys)}) AS r"
    )


def _judged_rows(
    columns: tuple[Column, ...] | list[Column],
    table: Table,
    source_types: dict[str, str],
    snapshot: str,
    raw: list[str] | None = None,
) -> str:
    """`_row`, each column's typed value `<c>` and failed rule `<c>__why`, and `_raw<i>` for `raw`."""
    kinds = [source_types.get(c.name, "") for c in columns]
    passed = "".join(f", _raw{i}" for i in range(len(raw or [])))
    text = ", ".join(_text(c, k) for c, k in zip(columns, kinds, strict=True))
    text += "".join(f", {expression} AS _raw{i}" for i, expression in enumerate(raw or []))
    parsed = ", ".join(_parsed(c, k) for c, k in zip(columns, kinds, strict=True))
    judged = ", ".join(_judged(c, k, table, snapshot) for c, k in zip(columns, kinds, strict=True))
    return (
        f"SELECT _row, {judged}{passed} FROM (SELECT _row, {parsed}{passed} FROM ("
        f"SELECT _row, {text} FROM {staged_name(table.name)}) AS t) AS p"
    )


def repeated_keys_sql(table: Table, snapshot_at: pd.Timestamp, source_types: dict[str, str]) -> str:
    """The parsed keys that occur more than once, each with its first `_row` as `_first`.

    A grouped aggregate over the key columns alone rather than a window over whole rows: repeats are
    few. Rows missing a required key part are missing keys, not duplicates, so they are left out.
    """
    key_columns = [c for c in table.columns if c.name in table.key]
    keys = ", ".join(_q(c.name) for c in key_columns)
    complete = " AND ".join(f"{_q(c.name)} IS NOT NULL" for c in key_columns if not c.nullable) or "true"
    rows = _judged_rows(key_columns, table, source_types, _snapshot(snapshot_at))
    return (
        f"SELECT {keys}, min(_row) AS _first FROM ({rows}) AS k WHERE {complete} "
        f"GROUP BY {keys} HAVING count(*) > 1"
    )


def _duplicates(
    table: Table, source_types: dict[str, str], snapshot_at: pd.Timestamp, relation: str | None
) -> str:
    """The join to the repeated keys: a row after its key's first row is a duplicate."""
    if not table.key or relation == "":
        return ""
    if relation is None:
        relation = f"({repeated_keys_sql(table, snapshot_at, source_types)})"
    same = " AND ".join(
        f"j.{_q(c.name)} {'IS NOT DISTINCT FROM' if c.nullable else '='} d.{_q(c.name)}"
        for c in table.columns
        if c.name in table.key
    )
    return f" LEFT JOIN {relation} AS d ON {same}"


def _snapshot(snapshot_at: pd.Timestamp) -> str:
    return f"TIMESTAMP '{pd.Timestamp(snapshot_at).strftime('%Y-%m-%d %H:%M:%S.%f')}'"


def _q(name: str) -> str:
    return f'"{name}"'


def _is_text(source_type: str) -> bool:
    kind = source_type.lower()
    return kind in ("", "null") or kind.startswith(("varchar", "string", "text", "char"))


def _is_time(source_type: str) -> bool:
    return source_type.lower().startswith(("timestamp", "date"))


def _is_number(source_type: str) -> bool:
    return not (_is_text(source_type) or _is_time(source_type) or source_type.lower().startswith("bool"))


def _typed_source(column: Column, source_type: str) -> bool:
    """Whether the source already holds the column's type (then it is cast, not parsed from text)."""
    if column.kind == "timestamp":
        return _is_time(source_type)
    if column.kind == "bool":
        return source_type.lower().startswith("bool")
    return column.kind in ("float", "int") and _is_number(source_type)


def _text(column: Column, source_type: str) -> str:
    """Level 1: `<c>__t`, the trimmed text (NULL when blank) or the typed value."""
    name = _q(column.name)
    if _typed_source(column, source_type):
        value = {"timestamp": f"CAST({name} AS TIMESTAMP)", "bool": name}.get(
            column.kind, f"CAST({name} AS DOUBLE)"
        )
        if column.kind in ("float", "int"):  # a typed NaN is a missing value, as pandas reads it
            value = f"CASE WHEN NOT isnan({value}) THEN {value} END"
    else:
        text = f"CAST({name} AS VARCHAR)"  # trimmed only when an end is blank: trimming costs
        value = (
            f"CASE WHEN ascii({text}) > 32 AND ascii(substr({text}, -1)) > 32 THEN {text} "
            f"ELSE NULLIF(trim({text}, {_WHITESPACE}), '') END"
        )
    return f"{value} AS {_q(column.name + '__t')}"


def _parsed(column: Column, source_type: str) -> str:
    """Level 2: `<c>__t` passed on and `<c>__p`, the value read as the column's type (NULL if unreadable)."""
    t = _q(column.name + "__t")
    typed = _typed_source(column, source_type)
    if column.kind == "str" or typed:
        value = t
    elif column.kind == "timestamp":
        value = (
            f"CASE WHEN regexp_matches({t}, '{_ISO}') THEN TRY_CAST({t} AS TIMESTAMP) "
            f"WHEN regexp_matches({t}, '{_LOOSE}') THEN TRY_CAST({_canonical(t)} AS TIMESTAMP) END"
        )
    elif column.kind == "bool":
        spellings = [f"WHEN '{v}' THEN true" for v in _TRUE] + [f"WHEN '{v}' THEN false" for v in _FALSE]
        value = f"CASE lower({t}) {' '.join(spellings)} END"
    else:
        value = f"CASE WHEN regexp_matches({t}, '{_NUMBER}') THEN TRY_CAST({t} AS DOUBLE) END"
    if column.kind in ("float", "int"):
        value = f"CASE WHEN abs({value}) <= {_MAX_FLOAT} THEN {value} END"
    return f"{t}, {value} AS {_q(column.name + '__p')}"


def _canonical(t: str) -> str:
    """`YYYY-MM-DD HH:MM:SS.ffffff` from the loose form's groups (fractions cut to microseconds)."""

    def group(i: int) -> str:
        return f"regexp_extract({t}, '{_LOOSE}', {i})"

    def padded(i: int) -> str:
        return f"lpad(coalesce(NULLIF({group(i)}, ''), '0'), 2, '0')"

    fraction = f"rpad(substr({group(7)}, 1, 6), 6, '0')"
    return (
        f"{group(1)} || '-' || {padded(2)} || '-' || {padded(3)} || ' ' || {padded(4)} || ':' || "
        f"{padded(5)} || ':' || {padded(6)} || '.' || {fraction}"
    )


def _judged(column: Column, source_type: str, table: Table, snapshot: str) -> str:
    """Level 3: the typed value `<c>` and `<c>__why`, the one reason the cell fails (NULL if none)."""
    t, p = _q(column.name + "__t"), _q(column.name + "__p")
    value, cases = p, []
    if column.kind == "timestamp":
        outside = f"({p} < TIMESTAMP '{_EARLIEST}' OR {p} > TIMESTAMP '{_LATEST}')"
        value = f"CASE WHEN NOT {outside} THEN {p} END"
        if not _typed_source(column, source_type):  # text with a zone never parses: say why
            zoned = f"{p} IS NULL AND {t} IS NOT NULL AND regexp_matches({t}, '{_ZONED}')"
            cases.append((zoned, Reason.TIMEZONE_OFFSET))
        cases.append((outside, Reason.OUT_OF_RANGE))
    elif column.kind == "int":
        value = f"CASE WHEN round({p}) = {p} AND abs({p}) <= {_MAX_INT} THEN CAST({p} AS BIGINT) END"
    if column.kind != "str":  # text is never refused
        cases.append((f"{t} IS NOT NULL AND {value} IS NULL", Reason.UNPARSEABLE))
    if column.event_time:
        cases.append((f"{p} > {snapshot}", Reason.AFTER_SNAPSHOT))
    if column.allowed is not None:
        cases.append((f"{p} IS NOT NULL AND NOT {_one_of(p, column.allowed)}", Reason.UNKNOWN_VALUE))
    if column.non_negative:
        cases.append((f"{p} < 0", Reason.NEGATIVE_VALUE))
    if not column.nullable:
        missing = Reason.MISSING_KEY if column.name in table.key else Reason.MISSING_VALUE
        cases.append((f"{t} IS NULL", missing))
    rules = " ".join(f"WHEN {cond} THEN '{reason.value}'" for cond, reason in cases)
    why = f"CASE {rules} END" if cases else "CAST(NULL AS VARCHAR)"  # optional free text: no rule
    return f"{value} AS {_q(column.name)}, {why} AS {_q(column.name + '__why')}"


def _one_of(expression: str, values: tuple[str, ...]) -> str:
    """Membership as a CASE: DuckDB plans a long IN list as a join, which loses the rows' order."""
    branches = " ".join(f"WHEN '{v}' THEN true" for v in values)
    return f"(CASE {expression} {branches} ELSE false END)"


def _reasons(table: Table, repeated_keys: str | None) -> str:
    """Level 4: every failed rule as `column:reason`, in sorted order, or NULL for a valid row."""
    # Sorting on `column:` orders whole labels too: a column's own reason and a one-column key's
    # duplicate_key never meet on one row (a duplicate has its key), so their order is moot.
    ruled = [c for c in table.columns if c.kind != "str" or not c.nullable or c.allowed is not None]
    entries = [(f"{c.name}:", f"'{c.name}:' || j.{_q(c.name + '__why')}") for c in ruled]
    if table.key:
        label = f"{','.join(table.key)}:{Reason.DUPLICATE_KEY.value}"
        if repeated_keys != "":
            entries.append((f"{','.join(table.key)}:", f"CASE WHEN j._row > d._first THEN '{label}' END"))
    ordered = [expression for _, expression in sorted(entries)]
    return f"NULLIF(concat_ws('; ', {', '.join(ordered)}), '')"
