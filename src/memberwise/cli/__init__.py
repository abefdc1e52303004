"""The `memberwise` command line: one command per stage, plus `demo` which runs the main job.

Commands live in one module per job (data, models, planning, ops); importing them registers them on `app`.
"""

from __future__ import annotations

import logging
import os
import sys

from memberwise.cli import data, models, ops, planning  # noqa: F401  (registers the commands)
from memberwise.cli.app import app
from memberwise.cli.render import err_console
from memberwise.errors import MemberwiseError

__all__ = ["app", "main"]


def main() -> None:
    """Entry point: user-facing errors become one red line and exit code 2, never a traceback."""
    for var in ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK", "BENTOML_DO_NOT_TRACK"):
        os.environ.setdefault(var, "true")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except MemberwiseError as err:
        err_console.print(f"[bold red]error:[/] {err}", highlight=False)
        sys.exit(2)
