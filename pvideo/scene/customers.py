"""Customer rows: reading CSV/JSON tables and checking each row against the scene's fields."""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pvideo.errors import DataError
from pvideo.scene.spec import SceneSpec

# A byte-order mark names the encoding (UTF-32 first: its little-endian mark starts like UTF-16's).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CP1252_HOLES = re.compile(b"[\x81\x8d\x8f\x90\x9d]")  # the bytes cp1252 leaves undefined
_UNDECODED = re.compile("[\udc80-\udcff]")  # bytes UTF-8 could not decode (surrogateescape)
_WIDE = re.compile("[^\x00-\x7f\udc80-\udcff]")  # a character UTF-8 did decode, past ASCII
_SCAN_CHUNK = 1 << 20
DELIMITERS = ",;\t"
_SNIFF_CHARS = 4096
_MIXED = "not valid UTF-8 text, though the rest of the file is UTF-8: save the table again as UTF-8"
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


def detect_encoding(binary: IO[bytes]) -> str:
    """The encoding of a table, read from the start of ``binary`` (which is rewound).

    A byte-order mark names it (UTF-8, UTF-16, UTF-32). Without one, UTF-8 when the
    file holds UTF-8 characters (a stray invalid byte is then that row's problem, see
    ``iter_csv``), or is plain ASCII; otherwise cp1252, the Windows "ANSI" export of
    spreadsheets (Latin-1 when a byte cp1252 leaves undefined is present). So any
    file decodes, and a problem is reported by row, never by byte offset.
    """
    head = binary.read(4)
    bom = next((name for mark, name in _BOMS if head.startswith(mark)), None)
    if bom is not None:
        binary.seek(0)
        return bom
    utf8 = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    invalid = wide = holes = False
    chunk, final = head, False
    while not final:
        more = binary.read(_SCAN_CHUNK)
        final = not more
        text = utf8.decode(chunk, final=final)
        invalid = invalid or _UNDECODED.search(text) is not None
        wide = wide or _WIDE.search(text) is not None
        holes = holes or _CP1252_HOLES.search(chunk) is not None
        chunk = more
    binary.seek(0)
    return "utf-8" if wide or not invalid else "latin-1" if holes else "cp1252"


def csv_text(binary: IO[bytes]) -> io.TextIOWrapper:
    """A binary table as text in its detected encoding (``detect_encoding``); a byte UTF-8
    cannot decode becomes a lone surrogate that ``iter_csv`` reports with its row."""
    encoding = detect_encoding(binary)
    return io.TextIOWrapper(binary, encoding=encoding, errors=_errors(encoding), newline="")


def sniff_delimiter(header: str) -> str:
    """The separator of a table's header line: a comma, semicolon or tab (a comma when unsure)."""
    try:
        return csv.Sniffer().sniff(header[:_SNIFF_CHARS], delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def parse_csv(text: str, *, source: str = "<csv>") -> tuple[list[str], list[CustomerRow]]:
    columns, rows = iter_csv(io.StringIO(text, newline=""), source=source)
    return columns, list(rows)


def iter_csv(stream: IO[str] | Iterable[str], *, source: str = "<csv>") -> tuple[list[str], Iterator[CustomerRow]]:
    """The header and a lazy iterator of rows: a 100k-row upload is never held in memory.

    The separator (comma, semicolon or tab) is sniffed from the header line. A problem
    is a ``DataError`` naming the file and the row: text that does not decode, a NUL
    character, a cell the csv module refuses.
    """
    lines = iter(stream)
    try:
        first = next(lines, "")
    except UnicodeDecodeError as exc:
        raise DataError(f"not valid {_codec(exc)} text at or after the header row", source=source) from None
    reader = csv.DictReader(itertools.chain([first], lines), delimiter=sniff_delimiter(first))
    try:
        columns = [c.strip() for c in (reader.fieldnames or [])]
    except (csv.Error, UnicodeDecodeError) as exc:
        raise _read_error(exc, source=source, row=None) from None
    if not columns:
        raise DataError("CSV has no header row", source=source)
    if any("\x00" in c for c in columns):
        raise DataError(f"header row: {_NUL}", source=source)
    if any(_UNDECODED.search(c) for c in columns):
        raise DataError(f"header row: {_MIXED}", source=source)
    reader.fieldnames = columns

    def rows() -> Iterator[CustomerRow]:
        number = 0
        try:
            for number, r in enumerate(reader, start=1):
                data = {k: v for k, v in r.items() if k is not None}
                for column, value in data.items():
                    if isinstance(value, str) and "\x00" in value:
                        raise DataError(_NUL, row=number, field=column, source=source)
                    if isinstance(value, str) and _UNDECODED.search(value):
                        raise DataError(_MIXED, row=number, field=column, source=source)
                yield CustomerRow(number, data)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise _read_error(exc, source=source, row=number + 1) from None

    return columns, rows()


def _codec(exc: UnicodeDecodeError) -> str:
    """``UTF-16`` for the ``utf-16-le`` a decoder names."""
    return exc.encoding.upper().removesuffix("-LE").removesuffix("-BE")


def _errors(encoding: str) -> str:
    """UTF-8 without a mark keeps a stray byte as a lone surrogate, reported with its row;
    a file with a byte-order mark must decode throughout."""
    return "surrogateescape" if encoding == "utf-8" else "strict"


def _read_error(exc: csv.Error | UnicodeDecodeError, *, source: str, row: int | None) -> DataError:
    if isinstance(exc, UnicodeDecodeError):  # text is decoded ahead of the rows: the row is a lower bound
        where = "at or after the header row" if row is None else f"at or after row {row}"
        return DataError(f"not valid {_codec(exc)} text {where}", source=source)
    return DataError(f"not valid CSV: {exc}", row=row, source=source)


def _open(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise DataError("file not found", source=str(path)) from None
    except OSError as exc:  # a folder, no permission
        raise DataError(f"cannot read the file: {exc.strerror or exc}", source=str(path)) from None


def stream_customers(path: str | Path, spec: SceneSpec) -> Iterator[CustomerRow]:
    """Rows of a ``.csv`` (streamed, columns checked first) or ``.json`` file."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        yield from read_customers(path, spec)
        return
    with csv_text(_open(path)) as stream:
        columns, rows = iter_csv(stream, source=str(path))
        check_columns(spec, columns, source=str(path))
        yield from rows


def parse_json(text: str, *, source: str = "<json>") -> list[CustomerRow]:
    try:
        data = json.loads(text)
    except ValueError as exc:  # JSONDecodeError, or a number Python will not convert
        raise DataError(f"not valid JSON: {exc}", source=source) from None
    except RecursionError:
        raise DataError("not valid JSON: nested too deeply", source=source) from None
    if isinstance(data, Mapping) and "customers" in data:
        data = data["customers"]
    if not isinstance(data, list):
        raise DataError("JSON customers must be a list of objects", source=source)
    return [CustomerRow(i, r) for i, r in enumerate(data, start=1)]


def read_customers(path: str | Path, spec: SceneSpec | None = None) -> list[CustomerRow]:
    """Rows from a ``.csv`` or ``.json`` file (any encoding ``detect_encoding`` knows);
    with ``spec``, CSV columns are checked."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return parse_json(_json_text(path), source=str(path))
    with csv_text(_open(path)) as stream:
        columns, rows = iter_csv(stream, source=str(path))
        if spec is not None:
            check_columns(spec, columns, source=str(path))
        return list(rows)


def read_row(path: str | Path) -> dict[str, Any]:
    """One customer from a JSON file holding an object (``pvideo render --data ROW.json``)."""
    path = Path(path)
    try:
        data = json.loads(_json_text(path))
    except ValueError as exc:
        raise DataError(f"not valid JSON: {exc}", source=str(path)) from None
    except RecursionError:
        raise DataError("not valid JSON: nested too deeply", source=str(path)) from None
    if not isinstance(data, dict):
        raise DataError("a customer row must be a JSON object of field: value", source=str(path))
    return data


def _json_text(path: Path) -> str:
    """A JSON file's text in its detected encoding (``detect_encoding``)."""
    with _open(path) as binary:
        encoding = detect_encoding(binary)
        raw = binary.read()
    try:
        text = raw.decode(encoding, errors=_errors(encoding))
    except UnicodeDecodeError as exc:
        raise DataError(f"not valid {_codec(exc)} text", source=str(path)) from None
    bad = _UNDECODED.search(text)
    if bad:
        raise DataError(f"line {text.count(chr(10), 0, bad.start()) + 1}: {_MIXED}", source=str(path))
    return text.removeprefix("\ufeff")


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
