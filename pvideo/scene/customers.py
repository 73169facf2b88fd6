"""Customer rows: reading CSV/JSON tables and checking each row against the scene's fields."""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import jinja2
from jinja2 import meta

from pvideo.errors import DataError
from pvideo.scene.csvfiles import (
    MIXED,
    UNDECODED,
    codec_name,
    csv_text,
    json_text,
    open_table,
    sniff_delimiter,
)
from pvideo.scene.limits import InputLimitError, check_json, find_text_problem
from pvideo.scene.spec import SceneSpec

_NUL = "NUL characters are not allowed (a binary file, or UTF-16 without a byte-order mark?)"


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
    """A table missing a required column fails as a whole, naming the column.

    A header read as a single column that holds another separator (``|``, ``:``...)
    gets a hint: only commas, semicolons and tabs separate columns.
    """
    present = list(columns)
    missing = [name for name, f in spec.fields.items() if f.required and name not in present]
    if missing:
        hint = ""
        if len(present) == 1 and re.search(r"[^\w\s-]", present[0]):
            hint = (
                f"; the header row was read as one column {present[0][:80]!r}:"
                " separate columns with commas, semicolons or tabs"
            )
        raise DataError(
            f"missing column(s) {', '.join(missing)} required by scene {spec.name!r}{hint}",
            field=missing[0],
            source=source,
        )


def parse_csv(text: str, *, source: str = "<csv>") -> tuple[list[str], list[CustomerRow]]:
    columns, rows = iter_csv(io.StringIO(text, newline=""), source=source)
    return columns, list(rows)


def iter_csv(stream: IO[str] | Iterable[str], *, source: str = "<csv>") -> tuple[list[str], Iterator[CustomerRow]]:
    """The header and a lazy iterator of rows: a 100k-row upload is never held in memory.

    The separator (comma, semicolon or tab) is sniffed from the header line. A problem
    is a ``DataError`` naming the file, the row and the column: text that does not decode,
    a NUL character, a cell over the CSV field limit, a header naming a column twice.
    """
    lines = iter(stream)
    try:
        first = next(lines, "")
    except UnicodeDecodeError as exc:
        raise DataError(f"not valid {codec_name(exc)} text at or after the header row", source=source) from None
    delimiter = sniff_delimiter(first)
    record = _RecordLines(itertools.chain([first], lines))
    reader = csv.DictReader(record, delimiter=delimiter)
    try:
        header = reader.fieldnames or []
    except (csv.Error, UnicodeDecodeError) as exc:
        raise _read_error(exc, record, [], delimiter, source=source, row=None) from None
    columns = [c.strip() for c in header]
    if not columns:
        raise DataError("CSV has no header row", source=source)
    _check_header(columns, source=source)
    reader.fieldnames = columns
    record.lines.clear()

    def rows() -> Iterator[CustomerRow]:
        number = 0
        try:
            for number, r in enumerate(reader, start=1):
                record.lines.clear()
                data = {k: v for k, v in r.items() if k is not None}
                for column, value in data.items():
                    if isinstance(value, str) and "\x00" in value:
                        raise DataError(_NUL, row=number, field=column, source=source)
                    if isinstance(value, str) and UNDECODED.search(value):
                        raise DataError(MIXED, row=number, field=column, source=source)
                yield CustomerRow(number, data)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise _read_error(exc, record, columns, delimiter, source=source, row=number + 1) from None

    return columns, rows()


def _check_header(columns: list[str], *, source: str) -> None:
    seen: set[str] = set()
    for column in columns:
        if "\x00" in column:
            raise DataError(f"header row: {_NUL}", source=source)
        if UNDECODED.search(column):
            raise DataError(f"header row: {MIXED}", source=source)
        if column and column in seen:  # DictReader would keep only the last of them
            raise DataError(f"duplicate column {column!r} in the header row", field=column, source=source)
        seen.add(column)


class _RecordLines:
    """The stream's lines, keeping those of the record being read: when the csv module
    refuses a cell over its field limit, they say which column it is."""

    def __init__(self, stream: Iterable[str]) -> None:
        self._lines = iter(stream)
        self.lines: list[str] = []

    def __iter__(self) -> _RecordLines:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.lines.append(line)
        return line


def _read_error(
    exc: csv.Error | UnicodeDecodeError,
    record: _RecordLines,
    columns: list[str],
    delimiter: str,
    *,
    source: str,
    row: int | None,
) -> DataError:
    if isinstance(exc, UnicodeDecodeError):  # text is decoded ahead of the rows: the row is a lower bound
        where = "at or after the header row" if row is None else f"at or after row {row}"
        return DataError(f"not valid {codec_name(exc)} text {where}", source=source)
    if "field limit" in str(exc):
        limit = csv.field_size_limit()
        index = _oversized_cell("".join(record.lines), limit, delimiter)
        field = columns[index] if index is not None and index < len(columns) else None
        what = "a cell" if field or index is None else f"cell {index + 1} (past the header's columns)"
        reason = f"{what} is larger than {limit:,} characters, the CSV cell limit"
        return DataError(reason if row is not None else f"header row: {reason}", row=row, field=field, source=source)
    return DataError(f"not valid CSV: {exc}", row=row, source=source)


def _oversized_cell(text: str, limit: int, delimiter: str = ",", max_cells: int = 10_000) -> int | None:
    """Index of the first cell of ``text`` (one record) longer than ``limit`` characters."""
    cell_pattern = re.compile(rf'"(?:[^"]|"")*"?|[^{re.escape(delimiter)}"\r\n]*')  # quoted or not
    pos = 0
    for index in range(max_cells):
        match = cell_pattern.match(text, pos)
        if match is None:
            return None
        cell = match.group()
        if (len(cell) - 2 if cell.startswith('"') else len(cell)) > limit:
            return index
        pos = match.end()
        if pos >= len(text) or text[pos] != delimiter:
            return None
        pos += 1
    return None


def stream_customers(path: str | Path, spec: SceneSpec) -> Iterator[CustomerRow]:
    """Rows of a ``.csv`` (streamed, columns checked first) or ``.json`` file."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        yield from read_customers(path, spec)
        return
    with csv_text(open_table(path)) as stream:
        columns, rows = iter_csv(stream, source=str(path))
        check_columns(spec, columns, source=str(path))
        yield from rows


def _load_json(text: str, source: str) -> Any:
    try:
        check_json(text, source)
        return json.loads(text)
    except InputLimitError as exc:
        raise DataError(str(exc)) from None
    except ValueError as exc:  # JSONDecodeError, or a number Python will not convert
        raise DataError(f"not valid JSON: {exc}", source=source) from None
    except RecursionError:
        raise DataError("not valid JSON: nested too deeply", source=source) from None


def parse_json(text: str, *, source: str = "<json>") -> list[CustomerRow]:
    data = _load_json(text, source)
    if isinstance(data, Mapping) and "customers" in data:
        data = data["customers"]
    if not isinstance(data, list):
        raise DataError("JSON customers must be a list of objects", source=source)
    for number, row in enumerate(data, start=1):
        problem = find_text_problem(row)
        if problem:
            raise DataError(problem[1], row=number, field=problem[0] or None, source=source)
    return [CustomerRow(i, r) for i, r in enumerate(data, start=1)]


def read_customers(path: str | Path, spec: SceneSpec | None = None) -> list[CustomerRow]:
    """Rows from a ``.csv`` or ``.json`` file (any encoding ``csvfiles.detect_encoding`` knows);
    with ``spec``, CSV columns are checked."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return parse_json(json_text(path), source=str(path))
    with csv_text(open_table(path)) as stream:
        columns, rows = iter_csv(stream, source=str(path))
        if spec is not None:
            check_columns(spec, columns, source=str(path))
        return list(rows)


def read_row(path: str | Path) -> dict[str, Any]:
    """One customer from a JSON file holding an object (``pvideo render --data ROW.json``)."""
    path = Path(path)
    data = _load_json(json_text(path), str(path))
    if not isinstance(data, dict):
        raise DataError("a customer row must be a JSON object of field: value", source=str(path))
    problem = find_text_problem(data)
    if problem:
        raise DataError(problem[1], field=problem[0] or None, source=str(path))
    return data


def table_columns(path: str | Path) -> list[str]:
    """The columns of a ``.csv`` file (its header) or ``.json`` file (every key, in order of appearance)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return list(dict.fromkeys(k for row in read_customers(path) if isinstance(row.data, Mapping) for k in row.data))
    with csv_text(open_table(path)) as stream:
        return iter_csv(stream, source=str(path))[0]


def unused_columns(spec: SceneSpec, columns: Iterable[str]) -> list[str]:
    """Columns the scene neither declares nor names in any template or condition: most likely a
    misspelt field, reported as a warning (the rows are still good)."""
    used = set(spec.fields) | {spec.id_field} | _template_names(spec.to_json())
    return [c for c in dict.fromkeys(columns) if c and c not in used]


def _template_names(value: Any) -> set[str]:
    """Every name the Jinja2 text and ``when`` conditions of a scene read."""
    names: set[str] = set()
    environment = jinja2.Environment()
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        key, item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.items())
        elif isinstance(item, list):
            stack.extend((key, child) for child in item)
        elif isinstance(item, str) and (key == "when" or "{" in item):
            source = "{{ (" + item + ") }}" if key == "when" else item
            with contextlib.suppress(jinja2.TemplateError):  # the spec reports bad templates itself
                names |= meta.find_undeclared_variables(environment.parse(source))
    return names


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
    text = csv_text(binary)
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
