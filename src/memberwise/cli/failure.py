"""How a command fails: one line on stderr and exit code 2, whatever went wrong; details go to a file.

A :class:`MemberwiseError` is the user's to fix and prints its message. Anything else is an environment
problem or a bug: its traceback is written under MEMBERWISE_HOME/logs and the line says where. A write
that fails for lack of space says so. Log records print as one line each: libraries log tracebacks at
ERROR on the way to the error (MLflow does for every failed write on a full disk), burying the one line
that matters.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path

from memberwise.errors import MemberwiseError, first_line

EXIT_CODE = 2
_WRITE_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EIO}
# How SQLite (MLflow's store) and DuckDB word the same failures.
_WRITE_FAILURES = ("database or disk is full", "disk i/o error", "no space left on device", "file too large")
_LONGEST = 400
# The part of a wrapped message before the wrapped library error: "retrain failed at step 'x': KeyError: ..."
_BEFORE_LIBRARY_ERROR = re.compile(r"^(.*?):\s*[A-Z]\w*(?:Error|Exception)\b")


def one_line_logs() -> None:
    """Make every log record one line without its traceback, for every handler (MLflow's included)."""
    logging.raiseExceptions = False  # a log write failing (a full disk) must not print a traceback itself
    make_record = logging.getLogRecordFactory()

    def one_line(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        if record.exc_info or "\n" in str(record.msg):
            try:
                message = record.getMessage()
            except (TypeError, ValueError):  # a bad format string: leave it to the handler to report
                return record
            record.msg, record.args, record.exc_info = _shorten(message), None, None
        return record

    logging.setLogRecordFactory(one_line)


def describe(err: BaseException) -> str:
    """The line to print for a failure; writes the traceback to a file when the user cannot act on it."""
    failed_write = _failed_write(err)
    if failed_write is not None:
        context = _BEFORE_LIBRARY_ERROR.match(str(err)) if isinstance(err, MemberwiseError) else None
        lead = f"{context.group(1)}: " if context else ""
        if isinstance(failed_write, OSError) and failed_write.strerror:
            where = f" {failed_write.filename}" if failed_write.filename else ""
            reason = failed_write.strerror
        else:
            where, reason = "", first_line(failed_write)
        return f"{lead}cannot write{where}: {reason}; free some disk space and run again"
    if isinstance(err, MemberwiseError):
        message = _shorten(str(err))
        # An OSError says what it needs to (a path, "Not a directory"); other wrapped errors may be bugs.
        wraps_library_error = err.__cause__ is not None and not isinstance(
            err.__cause__, (MemberwiseError, OSError)
        )
        if message != " ".join(str(err).split()) or wraps_library_error:
            message += f" (details: {_save_traceback(err)})"
        return message
    return f"unexpected {type(err).__name__}: {first_line(err)} (a bug? traceback: {_save_traceback(err)})"


def _failed_write(err: BaseException) -> BaseException | None:
    """The deepest disk-full (or file-too-large, or disk I/O) error in `err`'s chain of causes, if any.

    The deepest, because wrappers repeat the words in a longer message (MlflowException, our own errors).
    """
    found: BaseException | None = None
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _WRITE_ERRNOS:
            return current
        if any(text in str(current).lower() for text in _WRITE_FAILURES):
            found = current
        current = current.__cause__ or current.__context__
    return found


def _shorten(text: str) -> str:
    """One line: whitespace (newlines included) collapsed, cut at a readable length."""
    flat = " ".join(text.split())
    return flat if len(flat) <= _LONGEST else flat[: _LONGEST - 3] + "..."


def _save_traceback(err: BaseException) -> str:
    """Write the full traceback under MEMBERWISE_HOME/logs (the temp directory if that fails); its path."""
    text = "".join(traceback.format_exception(err))
    stamp = f"error-{datetime.now(UTC):%Y%m%dT%H%M%S}-{os.getpid()}.txt"
    for directory in (_home() / "logs", Path(tempfile.gettempdir())):
        try:
            directory.mkdir(parents=True, exist_ok=True)
            (directory / stamp).write_text(text)
            return str(directory / stamp)
        except OSError:
            continue
    return "not saved: no writable directory"


def _home() -> Path:
    from memberwise.settings import Settings

    try:
        return Settings().home
    except Exception:  # noqa: BLE001 - settings themselves may be what is broken
        return Path(tempfile.gettempdir())
