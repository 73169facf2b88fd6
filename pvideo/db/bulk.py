"""Many rows in one statement: ``insert_rows``, with an optional ``ON CONFLICT`` clause, and
``one_of`` for ``IN`` over many values.

On PostgreSQL the rows travel as one JSON document (an array per row) through
``json_array_elements``: a statement of fixed text, prepared once, whatever the number of rows,
and one parameter that ``json.dumps`` writes in C. (A multi-row ``VALUES`` list is a new
statement for every row count, and psycopg re-parses its hundreds of placeholders each time;
plain executemany sends one statement per row; an array per column through ``unnest`` spent more
Python time in psycopg's list dumpers than the database took.) SQLite, in process, runs the same
statement row by row.
Both understand the same ``ON CONFLICT ... DO NOTHING | DO UPDATE SET c = excluded.c``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, Connection, Row, Table, TextClause, any_, bindparam, text


def on_conflict(keys: Sequence[str], update: Sequence[str] = (), **expressions: str) -> str:
    """``ON CONFLICT (keys) DO NOTHING``, or ``DO UPDATE`` taking ``update`` columns from the new row
    and the others from ``expressions`` (SQL, ``excluded.c`` is the new row's value)."""
    sets = [f"{c} = excluded.{c}" for c in update] + [f"{c} = {sql}" for c, sql in expressions.items()]
    action = f"DO UPDATE SET {', '.join(sets)}" if sets else "DO NOTHING"
    return f"ON CONFLICT ({', '.join(keys)}) {action}"


def one_of(conn: Connection, column: Any, values: Iterable[Any]) -> Any:
    """``column IN values``; on PostgreSQL ``= ANY(array)``, one cached statement whatever the count
    (an IN list is expanded, with a type cast per value, at every execution)."""
    values = list(values)
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=_array_of(column.type)))
    return column.in_(values)


@lru_cache(maxsize=64)
def _array_of(item: Any) -> Any:
    """``ARRAY(item)``, made once per column type: the statement cache keys on it at every execution."""
    from sqlalchemy.dialects.postgresql import ARRAY

    return ARRAY(item)


def insert_rows(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], *, conflict: str = "", returning: Sequence[str] = ()
) -> Sequence[Row]:
    """Insert ``rows`` (dicts with the same keys) into ``table``; the ``returning`` columns of each row
    inserted or updated."""
    if not rows:
        return []
    columns = tuple(rows[0])
    statement = _statement(table, columns, conflict, tuple(returning), conn.dialect.name)
    if conn.dialect.name == "postgresql":
        payload = json.dumps([[r[c] for c in columns] for r in rows], default=_json_value, separators=(",", ":"))
        result = conn.execute(statement, {"rows": payload})
        return result.all() if returning else []
    out: list[Row] = []
    for row in rows:
        result = conn.execute(statement, row)
        if returning:
            out.extend(result.all())
    return out


@lru_cache(maxsize=64)
def _statement(
    table: Table, columns: tuple[str, ...], conflict: str, returning: tuple[str, ...], dialect: str
) -> TextClause:
    tail = (f" {conflict}" if conflict else "") + (f" RETURNING {', '.join(returning)}" if returning else "")
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        pg = postgresql.dialect()
        # a row is a JSON array: ->> n is its n-th value as text, cast to the column's type
        values = ", ".join(
            f"r -> {n}"
            if isinstance(table.c[c].type, JSON)
            else f"CAST(r ->> {n} AS {table.c[c].type.compile(dialect=pg)})"
            for n, c in enumerate(columns)
        )
        return text(
            f"INSERT INTO {table.name} ({', '.join(columns)}) "
            f"SELECT {values} FROM json_array_elements(CAST(:rows AS JSON)) AS rows(r){tail}"
        )
    values = ", ".join(f":{c}" for c in columns)
    return text(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({values}){tail}").bindparams(
        *(bindparam(c, type_=table.c[c].type) for c in columns)
    )


def _json_value(value: Any) -> str:
    """Datetimes as ISO 8601 (PostgreSQL reads the offset back); nothing else JSON cannot hold."""
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} {value!r}")
