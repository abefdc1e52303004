"""Progress bars for a person at a terminal, never in a scheduled job's log file.

Every bar in the package comes from here: drawn on stderr, only when stderr is a terminal, and transient
(gone when done), so a cron log gets no carriage-return frames and a terminal never piles bars up.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def bars_enabled(requested: bool) -> bool:
    """True when the caller asked for progress and someone can see it (stderr is a terminal)."""
    return requested and sys.stderr.isatty()


def track(items: Iterable[T], description: str, requested: bool, total: int | None = None) -> Iterator[T]:
    """Iterate over `items`, with a bar when `bars_enabled(requested)`."""
    if not bars_enabled(requested):
        yield from items
        return
    from rich.console import Console
    from rich.progress import track as rich_track

    yield from rich_track(
        items, description=description, total=total, console=Console(stderr=True), transient=True
    )
