"""The `memberwise` command line: one command per stage, plus `demo` which runs the main job.

Commands live in one module per job (data, models, planning, ops); importing them registers them on `app`.
"""

from __future__ import annotations

import sys

from rich.markup import escape

from memberwise.cli import audience, campaigns, data, models, ops, planning  # noqa: F401  (registers the commands)
from memberwise.cli.app import app
from memberwise.cli.failure import EXIT_CODE, describe, one_line_logs
from memberwise.cli.render import err_console
from memberwise.logsetup import configure_logging

__all__ = ["app", "main"]


def main() -> None:
    """Entry point: any failure becomes one red line and exit code 2, never a traceback."""
    configure_logging()
    one_line_logs()
    try:
        app()
    except Exception as err:  # noqa: BLE001 - every failure is one line (a bug's traceback goes to a file)
        # soft_wrap: a piped stderr is not hard-wrapped at 80 columns, so the message stays one line.
        err_console.print(f"[bold red]error:[/] {escape(describe(err))}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_CODE)
