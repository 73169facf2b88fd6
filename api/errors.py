"""Error bodies: short, JSON-safe, naming the field; and what counts as a database outage.

An error answer names what was wrong and where (``loc``), never the input
itself: pydantic puts each offending value (``input``) in its errors, which
for a 10,001-row body is the whole body, and for a body that is not valid JSON
is ``bytes`` that do not serialize (the answer became a 500). Strings are cut
to ``MAX_DETAIL_CHARS`` and lists to ``MAX_ERRORS`` items, whoever raised them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from pydantic import ValidationError
from sqlalchemy import exc as sa

from pvideo.errors import DatabaseUnavailable

MAX_DETAIL_CHARS = 1000
MAX_ERRORS = 20
DATABASE_RETRY_SECONDS = 5
DATABASE_DOWN = "database unavailable; try again shortly"


def short_detail(detail: Any) -> Any:
    """``detail`` made JSON-safe and short: no ``input``/``ctx``/``url`` of pydantic errors,
    long strings cut, bytes never echoed."""
    if isinstance(detail, str):
        return _short_text(detail)
    if isinstance(detail, (bytes, bytearray)):
        return f"<{len(detail)} bytes>"
    if isinstance(detail, dict):
        return {str(k): short_detail(v) for k, v in detail.items() if k not in ("input", "ctx", "url")}
    if isinstance(detail, (list, tuple)):
        items = [short_detail(v) for v in list(detail)[:MAX_ERRORS]]
        return [*items, f"... and {len(detail) - MAX_ERRORS} more"] if len(detail) > MAX_ERRORS else items
    if detail is None or isinstance(detail, (bool, int)):
        return detail
    if isinstance(detail, float):
        return detail if detail == detail and abs(detail) != float("inf") else str(detail)
    return _short_text(str(detail))


def validation_errors(errors: ValidationError | Iterable[Any]) -> Any:
    """Pydantic or FastAPI validation errors as ``[{type, loc, msg}]``, without the input."""
    if isinstance(errors, ValidationError):
        errors = errors.errors(include_url=False, include_context=False, include_input=False)
    return short_detail([{"type": e.get("type"), "loc": e.get("loc"), "msg": e.get("msg")} for e in errors])


def is_database_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the database is unreachable (connection refused or lost, pool
    exhausted), as opposed to a statement it refused."""
    if isinstance(exc, (DatabaseUnavailable, sa.OperationalError, sa.InterfaceError, sa.TimeoutError)):
        return True
    if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
        return True
    return isinstance(exc, sa.DBAPIError) and exc.connection_invalidated


def _short_text(text: str) -> str:
    if len(text) > MAX_DETAIL_CHARS:
        text = f"{text[:MAX_DETAIL_CHARS]}... ({len(text) - MAX_DETAIL_CHARS} more characters)"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")  # a lone surrogate does not encode
