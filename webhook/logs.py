"""The receiver's log format, configured in one place: plain lines for people, JSON lines for log shippers.

Every log line of the process (fnsync, uvicorn, httpx) goes through the one handler `configure` installs.
Lines that describe an event carry its fields (`fields(...)` as `extra=`): the JSON format puts them at the top
level of the object, the plain format already has them in the message.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any, Literal, TextIO

LogFormat = Literal["plain", "json"]
FORMATS: tuple[LogFormat, ...] = ("plain", "json")
PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_FIELDS = "fnsync_fields"
OWN_LOGGERS = ("fnsync", "syncer")  # -v shows their detail; other libraries' (git, asyncio, httpx) need -vv


def fields(**values: Any) -> dict[str, Any]:
    """`extra=` for a log call: the event's fields, as top-level keys of a JSON line."""
    return {_FIELDS: values}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, then the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in getattr(record, _FIELDS, {}).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def formatter(log_format: LogFormat) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(PLAIN)


def configure(log_format: LogFormat = "plain", verbosity: int = 0, stream: TextIO | None = None) -> logging.Handler:
    """Route every logger to one handler on `stream` (stderr) in `log_format`. `verbosity` 1 (-v) adds fnsync's
    detail lines (each delivery's reason, each Appwrite call), 2 (-vv) those of the libraries (git, HTTP)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbosity > 1 else logging.INFO)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbosity > 0 else logging.INFO)
    logging.getLogger("httpx").setLevel(logging.DEBUG if verbosity > 1 else logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.DEBUG if verbosity > 1 else logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # no handler of their own: one format for all
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    return handler
