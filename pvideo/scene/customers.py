"""Customer rows: reading CSV/JSON tables and checking each row against the scene's fields."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pvideo.errors import DataError
from pvideo.scene.spec import SceneSpec


@dataclass(frozen=True)
class CustomerRow:
    """A row as read, numbered from 1 (the CSV header is not a row)."""

    number: int
    data: Mapping[str, Any]


def coerce_row(
    spec: SceneSpec, raw: Mapping[str, Any], *, row: int | None = None, source: str | None = None
) -> dict[str, Any]:
    """The row as the scene's templates see it: declared fields typed, defaults filled.

    Undeclared columns pass through as they are. Raises ``DataError`` naming the
    row and the field.
    """
    if not isinstance(raw, Mapping):
        raise DataError("a customer row must be an object of field: value", row=row, source=source)
    data = {str(k): v for k, v in raw.items() if k is not None}
    for name, field in spec.fields.items():
        value = data.get(name)
        if value is None or (isinstance(value, str) and value.strip() == ""):
            if field.required:
                raise DataError("missing required field", row=row, field=name, source=source)
            data[name] = field.default
            continue
        try:
            data[name] = field.parse(value)
        except ValueError as exc:
            raise DataError(str(exc), row=row, field=name, source=source) from None
    return data


def customer_id(spec: SceneSpec, data: Mapping[str, Any], number: int) -> str:
    value = data.get(spec.id_field)
    return str(value) if value not in (None, "") else f"row-{number}"


def check_columns(spec: SceneSpec, columns: Iterable[str], *, source: str) -> None:
    """A table missing a required column fails as a whole, naming the column."""
    present = set(columns)
    missing = [name for name, f in spec.fields.items() if f.required and name not in present]
    if missing:
        raise DataError(
            f"missing column(s) {', '.join(missing)} required by scene {spec.name!r}", field=missing[0], source=source
        )


def parse_csv(text: str, *, source: str = "<csv>") -> tuple[list[str], list[CustomerRow]]:
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip() for c in (reader.fieldnames or [])]
    if not columns:
        raise DataError("CSV has no header row", source=source)
    reader.fieldnames = columns
    rows = [CustomerRow(i, {k: v for k, v in r.items() if k is not None}) for i, r in enumerate(reader, start=1)]
    return columns, rows


def iter_csv(stream: IO[str], *, source: str = "<csv>") -> tuple[list[str], Iterator[CustomerRow]]:
    """The header and a lazy iterator of rows: a 100k-row upload is never held in memory."""
    reader = csv.DictReader(stream)
    try:
        columns = [c.strip() for c in (reader.fieldnames or [])]
    except (csv.Error, UnicodeDecodeError) as exc:
        raise DataError(f"not valid UTF-8 CSV: {exc}", source=source) from None
    if not columns:
        raise DataError("CSV has no header row", source=source)
    reader.fieldnames = columns

    def rows() -> Iterator[CustomerRow]:
        number = 0
        try:
            for number, r in enumerate(reader, start=1):
                yield CustomerRow(number, {k: v for k, v in r.items() if k is not None})
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataError(f"not valid UTF-8 CSV: {exc}", row=number + 1, source=source) from None

    return columns, rows()


def stream_customers(path: str | Path, spec: SceneSpec) -> Iterator[CustomerRow]:
    """Rows of a ``.csv`` (streamed, columns checked first) or ``.json`` file."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        yield from read_customers(path, spec)
        return
    try:
        stream = path.open(encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise DataError("file not found", source=str(path)) from None
    with stream:
        columns, rows = iter_csv(stream, source=str(path))
        check_columns(spec, columns, source=str(path))
        yield from rows


def parse_json(text: str, *, source: str = "<json>") -> list[CustomerRow]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid JSON: {exc}", source=source) from None
    if isinstance(data, Mapping) and "customers" in data:
        data = data["customers"]
    if not isinstance(data, list):
        raise DataError("JSON customers must be a list of objects", source=source)
    return [CustomerRow(i, r) for i, r in enumerate(data, start=1)]


def read_customers(path: str | Path, spec: SceneSpec | None = None) -> list[CustomerRow]:
    """Rows from a ``.csv`` or ``.json`` file; with ``spec``, CSV columns are checked."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError("file not found", source=str(path)) from None
    if path.suffix.lower() == ".json":
        return parse_json(text, source=str(path))
    columns, rows = parse_csv(text, source=str(path))
    if spec is not None:
        check_columns(spec, columns, source=str(path))
    return rows


def iter_valid(
    spec: SceneSpec, rows: Iterable[CustomerRow], *, source: str
) -> Iterator[tuple[CustomerRow, dict[str, Any] | None, DataError | None]]:
    """Each row with its coerced data, or the error that rejects it."""
    for row in rows:
        try:
            yield row, coerce_row(spec, row.data, row=row.number, source=source), None
        except DataError as exc:
            yield row, None, exc


def limit_rows(rows: Iterable[CustomerRow], max_rows: int, *, source: str) -> Iterator[CustomerRow]:
    """``rows``, refusing the campaign (``DataError``) as soon as it has more than ``max_rows``."""
    for count, row in enumerate(rows, start=1):
        if count > max_rows:
            raise DataError(f"{source}: more than {max_rows} rows (PVIDEO_MAX_ROWS); split the campaign")
        yield row


def check_row_count(binary: IO[bytes], max_rows: int, *, source: str) -> None:
    """Refuse a CSV upload of more than ``max_rows`` data rows before anything is stored; rewinds the file."""
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    try:
        reader = csv.reader(text)
        next(reader, None)  # header
        for count, _ in enumerate(reader, start=1):
            if count > max_rows:
                raise DataError(f"{source}: more than {max_rows} rows (PVIDEO_MAX_ROWS); split the campaign")
    except (UnicodeDecodeError, csv.Error):
        pass  # reported with its row number by the real read
    finally:
        text.detach()
        binary.seek(0)
