"""Logging without personal data: what the entry points install so that no log line carries an
address, a date of a child, message text or a token.

Kizuna's own log lines name subscribers and deliveries by id only. Libraries are made safe
where they are configured:
- SQLAlchemy: engines are created with `hide_parameters=True` (kizuna.db), so statements
  logged at INFO (`sqlalchemy.engine`) and database errors never show bound values. Its DEBUG
  level logs result rows: keep `sqlalchemy.engine` at INFO or above.
- uvicorn: the access log (`uvicorn.access`) prints each request's path, and the paths of the
  links in mails carry signed tokens: `RedactTokens` replaces them with `…`.
- line-bot-sdk logs response bodies at DEBUG (message ids only, never the request), and sets
  its own loggers to WARNING when a client is configured.
- aiosmtplib logs nothing; aiohttp's client logs no requests.
"""

from __future__ import annotations

import copy
import logging
import re

# /confirm/<token>, /unsubscribe/<token>, /manage/<token>[/…], /family/<token>,
# /staff/password/<token> (sets a staff member's password): the token is the secret part.
TOKEN_PATH = re.compile(r"/(confirm|unsubscribe|manage|family|password)/[A-Za-z0-9_.\-~%]+")
REDACTED_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    return TOKEN_PATH.sub(r"/\1/…", text)


class RedactTokens(logging.Filter):
    """Removes link tokens from a record's message before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        # The arguments are cleaned in place, keeping their shape: uvicorn's access formatter
        # unpacks them (client, method, path, version, status).
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(value) for value in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _clean(value) for key, value in record.args.items()}
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        message = record.getMessage()
        if redact(message) != message:  # a token inside some other kind of argument
            record.msg, record.args = redact(message), ()
        return True


def _clean(value: object) -> object:
    return redact(value) if isinstance(value, str) else value


def install() -> None:
    """Put the filters on the loggers that need them (idempotent): records are filtered on
    the logger itself, so every handler — uvicorn's, the operator's own — gets them clean."""
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())


def uvicorn_log_config() -> dict:
    """uvicorn's own logging configuration with the token filter on its loggers."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_tokens"] = {"()": RedactTokens}
    for name in REDACTED_LOGGERS:
        config["loggers"].setdefault(name, {})["filters"] = ["redact_tokens"]
    return config
