"""One WARNING line per rejected request instead of BentoML's ERROR traceback.

BentoML logs every request it rejects (pydantic validation errors, bad JSON, wrong media type) with
`logger.error(..., exc_info=True)`: ~20 traceback lines at ERROR for what is the client's mistake. The
filter below rewrites those records (a 4xx) into one WARNING line naming the fields; server errors
(5xx) keep their ERROR level and traceback.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from bentoml.exceptions import BentoMLException
from pydantic import ValidationError

# The logger of `bentoml._internal.server.http_app.log_exception`, which the API endpoints call.
BENTOML_REQUEST_LOGGER = "bentoml._internal.server.http_app"


def client_error(exc: BaseException) -> str | None:
    """A one-line summary when `exc` is the client's fault (answered 4xx), else None."""
    if isinstance(exc, ValidationError):
        fields = [".".join(str(x) for x in e["loc"]) or "body" for e in exc.errors()[:5]]
        more = f" (and {exc.error_count() - len(fields)} more)" if exc.error_count() > len(fields) else ""
        return f"400 invalid request: {', '.join(fields)}{more}"
    if isinstance(exc, BentoMLException) and exc.error_code < HTTPStatus.INTERNAL_SERVER_ERROR:
        return f"{int(exc.error_code)} {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    return None


class ClientErrorsAsWarnings(logging.Filter):
    """Turn BentoML's traceback for a rejected request into one WARNING line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        summary = client_error(exc) if exc is not None else None
        if summary is not None:
            record.msg = "rejected %s [%s]: %s"
            record.args = (*(record.args or ()), summary)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info, record.exc_text = None, None
        return True


def install() -> None:
    """Attach the filter to BentoML's request-error logger (once)."""
    logger = logging.getLogger(BENTOML_REQUEST_LOGGER)
    if not any(isinstance(f, ClientErrorsAsWarnings) for f in logger.filters):
        logger.addFilter(ClientErrorsAsWarnings())
