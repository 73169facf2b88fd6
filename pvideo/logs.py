"""Logging set-up for the CLI, the API and the workers.

``PVIDEO_LOG_FORMAT=json`` (the default) writes one JSON object per line with
the campaign and render ids of the work in progress (``log_context``), so a
log pipeline can follow one render across machines; ``text`` is for humans.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime

_CONTEXT: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar("pvideo_log_context")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


@contextmanager
def log_context(**ids: str | None) -> Iterator[None]:
    """Attach ids (``campaign_id``, ``render_id``) to every record logged inside the block;
    empty or missing ones are left out."""
    token = _CONTEXT.set({**_CONTEXT.get({}), **{k: v for k, v in ids.items() if v}})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _CONTEXT.get({}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, context ids, extras."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        out.update({k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure_logging(level: str | None = None, fmt: str | None = None) -> None:
    fmt = fmt or os.environ.get("PVIDEO_LOG_FORMAT", "json")
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((level or os.environ.get("PVIDEO_LOG_LEVEL", "INFO")).upper())
