"""Errors a user can act on: the CLI prints their message and exits non-zero, without a traceback."""


class MemberwiseError(Exception):
    """A problem with the user's input or setup, explained in the message."""


class DataFileError(MemberwiseError):
    """A whole input file is unusable (missing, empty, undecodable, or lacking a required column)."""
