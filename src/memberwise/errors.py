"""Errors a user can act on: the CLI prints their message and exits non-zero, without a traceback."""

_MAX_DETAIL = 200


class MemberwiseError(Exception):
    """A problem with the user's input or setup, explained in the message."""


class DataFileError(MemberwiseError):
    """A whole input file is unusable (missing, empty, undecodable, or lacking a required column)."""


def first_line(err: BaseException) -> str:
    """A library error's first line, shortened: enough to name the problem inside a one-line message."""
    lines = str(err).strip().splitlines()
    text = lines[0].strip() if lines else type(err).__name__
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."
