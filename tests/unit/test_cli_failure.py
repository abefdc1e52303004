"""How the CLI renders a failure: one line, the cause a user can act on, and log records one line each."""

from __future__ import annotations

import io
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from memberwise.cli.failure import describe, one_line_logs
from memberwise.errors import MemberwiseError


def _chain(*errors: BaseException) -> BaseException:
    """Raise errors[0] from errors[1] from ... and return the outermost, with its causes set."""
    for outer, inner in zip(errors, errors[1:], strict=False):
        outer.__cause__ = inner
    return errors[0]


def test_a_full_disk_under_mlflow_names_the_step_and_the_cause() -> None:
    sql = "(sqlite3.OperationalError) database or disk is full\n[SQL: INSERT INTO metrics ...]\n[params]"
    err = _chain(
        MemberwiseError(
            f"retrain failed at step 'train forecast': MlflowException: {sql} (champion unchanged)"
        ),
        RuntimeError(sql),
        sqlite3.OperationalError("database or disk is full"),
    )
    assert describe(err) == (
        "retrain failed at step 'train forecast': cannot write: database or disk is full; "
        "free some disk space and run again"
    )


def test_an_os_error_names_the_file() -> None:
    err = OSError(28, "No space left on device", "/data/report/rejects.csv")
    assert describe(err) == (
        "cannot write /data/report/rejects.csv: No space left on device; free some disk space and run again"
    )


def test_a_user_error_is_its_message_on_one_line() -> None:
    assert describe(MemberwiseError("orders.csv: file is empty (no header row)")) == (
        "orders.csv: file is empty (no header row)"
    )


def test_a_wrapped_library_error_points_at_its_saved_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMBERWISE_HOME", str(tmp_path))
    try:
        try:
            {}["missing"]
        except KeyError as err:
            raise MemberwiseError("retrain failed at step 'plan': KeyError: 'missing'") from err
    except MemberwiseError as err:
        line = describe(err)
    saved = Path(line.split("(details: ")[1].rstrip(")"))
    assert saved.parent == tmp_path / "logs" and "KeyError" in saved.read_text()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    factory, raise_exceptions = logging.getLogRecordFactory(), logging.raiseExceptions
    yield
    logging.setLogRecordFactory(factory)
    logging.raiseExceptions = raise_exceptions


@pytest.mark.usefixtures("restore_logging")
def test_log_records_print_as_one_line_without_traceback() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("mlflow.store.db.utils.test")
    logger.propagate = False
    logger.addHandler(logging.StreamHandler(stream))
    one_line_logs()
    try:
        raise sqlite3.OperationalError("database or disk is full")
    except sqlite3.OperationalError as err:
        logger.exception("SQLAlchemy database error. The following exception is caught.\n%s", err)
    logger.warning("plain %s", "line")
    assert stream.getvalue().splitlines() == [
        "SQLAlchemy database error. The following exception is caught. database or disk is full",
        "plain line",
    ]
