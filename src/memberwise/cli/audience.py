"""The audience command: members matching a tag rule (docs/audiences.md), from data or the release."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer

from memberwise.cli.app import app
from memberwise.cli.options import OptionalAsOf, SnapshotOption, settings_for
from memberwise.cli.render import console, show
from memberwise.errors import MemberwiseError

if TYPE_CHECKING:
    from memberwise.audience import AudienceSource
    from memberwise.release import Release


@app.command()
def audience(
    rule: Annotated[Path, typer.Option(help="JSON rule file (docs/audiences.md)")],
    out: Annotated[Path, typer.Option(help="Output file (.csv or .parquet): member_id and the tags used")],
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="Tables to compute the tags from (default: the current release's snapshot)"
        ),
    ] = None,
    as_of: OptionalAsOf = None,
    snapshot_date: SnapshotOption = None,
) -> None:
    """Members matching a tag rule: the count, by lifecycle stage and persona, ids written to OUT.

    With --data the rule runs as SQL on the warehouse (features at the cutoff, default: the release's
    as_of, else the day after the snapshot; scores and personas joined from the current release).
    """
    from memberwise import release
    from memberwise.audience import export, parse_rule, run
    from memberwise.audience.query import unknown_categories

    parsed = parse_rule(_read_rule(rule))
    current = release.current(settings_for(snapshot_date))
    if data is None:
        source = _release_source(current, as_of)
    else:
        source = _warehouse_source(data, as_of, snapshot_date, current)
    found = run(source, parsed, 0, 0)
    export(source, parsed, out)
    console.print(f"{found.count:,} members match, as of {source.as_of} ({source.description}) -> {out}")
    unknown, known = unknown_categories(source, parsed)
    if unknown:
        shown = ", ".join(known[:20]) + (", ..." if len(known) > 20 else "") or "none"
        console.print(
            f"note: no member bought {', '.join(map(repr, unknown))} before {source.as_of} "
            f"(a misspelt category? categories bought: {shown})"
        )
    for name, breakdown in (("lifecycle_stage", found.by_lifecycle_stage), ("persona", found.by_persona)):
        show(pd.DataFrame(breakdown, columns=[name, "members"]), f"by {name}")


def _read_rule(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except OSError as err:
        raise MemberwiseError(f"cannot read the rule file {path}: {err.strerror or err}") from None
    except ValueError as err:
        raise MemberwiseError(f"the rule file {path} is not JSON: {err}") from None


def _release_source(current: Release | None, as_of: datetime | None) -> AudienceSource:
    """The current release's snapshot (and its purchases by category, when it ships them)."""
    from memberwise.audience.snapshot import release_purchases, snapshot_source

    if current is None:
        raise MemberwiseError("no release to answer from: pass --data, or run `memberwise retrain` first")
    if as_of is not None and as_of.date().isoformat() != current.manifest.as_of:
        raise MemberwiseError(
            f"--as-of {as_of.date()} needs --data: release {current.id} is as of {current.manifest.as_of}"
        )
    return snapshot_source(current.scores(), release_purchases(current.path), f"release {current.id}")


def _warehouse_source(
    data: Path, as_of: datetime | None, snapshot_date: datetime | None, current: Release | None
) -> AudienceSource:
    """The warehouse at the cutoff, with the current release's model outputs joined by member_id."""
    from memberwise import release
    from memberwise.audience.rules import MODEL_TAGS
    from memberwise.audience.warehouse import warehouse_source
    from memberwise.pipelines.prepare import prepare

    settings = settings_for(snapshot_date)
    prepared = prepare(data, settings)
    if as_of is not None:
        cutoff = as_of.date()
    elif current is not None and current.manifest.as_of:
        cutoff = date.fromisoformat(current.manifest.as_of)
    else:
        cutoff = prepared.default_as_of
    window = settings.new_window_days
    outputs, description = None, f"{data}, no release"
    if current is not None:
        window = int(current.manifest.feature_spec.get("new_window_days", window))
        scores = current.path / release.SCORES_FILE
        outputs = pd.read_parquet(scores, columns=["member_id", *MODEL_TAGS])
        description = f"{data}, model outputs of release {current.id} as of {current.manifest.as_of}"
    return warehouse_source(prepared.duckdb("audience"), cutoff, window, outputs, description)
