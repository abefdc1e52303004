"""Logging for the command line: our own warnings, without the libraries' chatter.

A scheduled retrain's log should hold what happened and what went wrong. MLflow logs INFO lines on
every run (database set-up, input-example validation), warns that a pyfunc is pickled (our models are
pyfuncs on purpose) and that inferred schemas have integer columns (member counts are integers);
none of it asks the reader to do anything. Optuna's study chatter is quieted where studies are made.
"""

from __future__ import annotations

import logging
import os
import warnings

_MLFLOW_NOTICES = ("Passing a Python object as `python_model`",)


class _DropNotices(logging.Filter):
    """Drop log records whose message starts with a known, harmless notice."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefixes)


def configure_logging() -> None:
    """WARNING and up from our code and MLflow (set before MLflow is imported), minus known notices."""
    for var in ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK", "BENTOML_DO_NOT_TRACK"):
        os.environ.setdefault(var, "true")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("mlflow.pyfunc").addFilter(_DropNotices(_MLFLOW_NOTICES))
    warnings.filterwarnings(
        "ignore", message="Hint: Inferred schema contains integer column", module="mlflow"
    )
