"""A customer file uploaded as CSV or XLSX, read into the same ``CustomerRow`` stream.

CSV goes through ``customers.iter_csv`` (encoding, separator, cell limit, NUL and
duplicate-header rules). XLSX goes through ``openpyxl`` in read-only mode: the first
non-empty row is the header, formulas give their saved values, dates become ISO text,
and what a user would not expect to be read silently (a merged range, a formula
Excel never computed, an error value, a cell right of the header) is refused
naming the sheet and the cell. Either way at most ``MAX_COLUMNS`` columns.
"""

from __future__ import annotations

import csv
import datetime as _dt
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from xml.etree import ElementTree

import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from pvideo.errors import DataError
from pvideo.scene.csvfiles import csv_text, open_table
from pvideo.scene.customers import CustomerRow, iter_csv

MAX_COLUMNS = 1_000
_CELL_CHARS = csv.field_size_limit()  # the CSV reader's cell limit (131,072 characters)
CSV_SUFFIXES = frozenset({".csv", ".txt", ".tsv"})
_ZIP = b"PK\x03\x04"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old binary .xls (and .doc) container
_HEAD = 8192
_TEXT_CONTROLS = frozenset(b"\t\n\r\f\x1a")  # control bytes text files do hold (0x1a: DOS end of file)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_ROW_NUMBER = re.compile(rb'\sr="(\d+)"')
_TAGS = re.compile(rb"<(?:\w+:)?(c|row|mergeCell|f)\b[^>]*?(/?)>")  # cells, rows, merged ranges, formulas
_FORMULA = "formula without a saved value: open and save the file in Excel, or export CSV"


def table_kind(filename: str) -> str:
    """``"csv"`` (``.csv``, ``.txt``, ``.tsv``) or ``"xlsx"`` by the file's name; ``DataError`` otherwise."""
    suffix = Path(filename).suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix == ".xls":
        raise DataError("an old Excel .xls file: save it as .xlsx or CSV", source=filename)
    shown = f"a {suffix} file" if suffix else "a file without an extension"
    raise DataError(f"{shown}: upload a CSV or XLSX file", source=filename)


def sniff_kind(path: Path, filename: str) -> str:
    """The kind ``table_kind`` gives ``filename``, checked against the content of ``path``."""
    kind = table_kind(filename)
    with open_table(path) as binary:
        head = binary.read(_HEAD)
    if head.startswith(_OLE2):
        raise DataError("an old Excel .xls file: save it as .xlsx or CSV", source=filename)
    if head.startswith(_ZIP):
        if kind != "xlsx":
            raise DataError("an XLSX (zip) file named like a CSV: rename it .xlsx", source=filename)
        return kind
    if kind == "xlsx":
        raise DataError("not an XLSX file (an XLSX file is a zip archive): save it again from Excel", source=filename)
    if _binary(head):
        raise DataError("not a CSV or XLSX file (binary content)", source=filename)
    return kind


def _binary(head: bytes) -> bool:
    """Whether the start of a file is not text: control bytes where text has none.

    UTF-16 without a byte-order mark (a NUL beside each ASCII letter) is left to the CSV
    reader, whose message says so; so is a file with a byte-order mark.
    """
    if not head or head.startswith(_BOMS) or head[:4] in (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"):
        return False
    if head.count(0) and (head[0::2].count(0) == 0 or head[1::2].count(0) == 0) and head.count(0) > len(head) // 4:
        return False  # UTF-16 text: NULs on one side of each pair only
    controls = sum(1 for byte in head if byte < 0x20 and byte not in _TEXT_CONTROLS)
    return controls > 0 and (b"\x00" in head or controls * 100 > len(head))


def sheet_names(path: Path) -> list[str]:
    """The sheets of an XLSX file in order; ``[]`` for a CSV file (by content)."""
    with open_table(path) as binary:
        if binary.read(4) != _ZIP:
            return []
    workbook = _open_workbook(path, source=str(path))
    try:
        return list(workbook.sheetnames)
    finally:
        workbook.close()


def read_table(
    path: Path, kind: str, *, sheet: str | None = None, source: str
) -> tuple[list[str], Iterator[CustomerRow]]:
    """The header and a lazy iterator of rows of a ``"csv"`` or ``"xlsx"`` file (``sheet``: default the first).

    A problem with the file as a whole (or its header) is raised here; a problem in a row
    is raised by the iterator when it reaches the row; both are ``DataError`` naming ``source``.
    The file stays open until the iterator is exhausted or closed.
    """
    if kind == "csv":
        return _read_csv(path, source=source)
    if kind == "xlsx":
        return _read_xlsx(path, sheet, source=source)
    raise ValueError(f"unknown table kind {kind!r}")


def _read_csv(path: Path, *, source: str) -> tuple[list[str], Iterator[CustomerRow]]:
    binary = open_table(path)
    stream = csv_text(binary)
    try:
        columns, rows = iter_csv(stream, source=source)
        columns = _named_columns(columns, source=source)
    except BaseException:
        stream.close()
        raise

    def named_rows() -> Iterator[CustomerRow]:
        with stream:
            for row in rows:
                if row.data.get(""):  # a value under an unnamed column right of the named ones
                    raise DataError(_PAST_HEADER, row=row.number, source=source)
                yield CustomerRow(row.number, {k: v for k, v in row.data.items() if k != ""}) if "" in row.data else row

    return columns, named_rows()


_PAST_HEADER = "a value right of the last named column: name its column in the header row, or delete the value"


def _named_columns(columns: list[str], *, source: str, sheet: str | None = None) -> list[str]:
    """The header without its trailing unnamed columns; a column over ``MAX_COLUMNS``,
    or an unnamed one between named ones, is refused."""
    where = f"sheet {sheet!r}, header row" if sheet is not None else "header row"
    columns = columns[: next((i + 1 for i in range(len(columns) - 1, -1, -1) if columns[i]), 0)]
    if not columns:
        raise DataError(f"{where}: no column has a name", source=source)
    if len(columns) > MAX_COLUMNS:
        raise DataError(f"{where}: {len(columns):,} columns, more than {MAX_COLUMNS:,}", source=source)
    for index, column in enumerate(columns):
        if not column:
            letter = get_column_letter(index + 1)
            raise DataError(f"{where}: column {index + 1} ({letter}) has no name: name it or delete it", source=source)
    return columns


def _open_workbook(path: Path, *, source: str) -> Any:
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, ElementTree.ParseError) as exc:
        raise DataError(
            f"not a readable XLSX file ({type(exc).__name__}): save it again from Excel", source=source
        ) from None


def _read_xlsx(path: Path, sheet: str | None, *, source: str) -> tuple[list[str], Iterator[CustomerRow]]:
    workbook = _open_workbook(path, source=source)
    try:
        columns, rows = _sheet_rows(workbook, sheet, source=source)
    except BaseException:
        workbook.close()
        raise

    def closing() -> Iterator[CustomerRow]:
        try:
            yield from rows
        finally:
            workbook.close()

    return columns, closing()


def _sheet_rows(workbook: Any, sheet: str | None, *, source: str) -> tuple[list[str], Iterator[CustomerRow]]:
    names = list(workbook.sheetnames)
    if not names:
        raise DataError("the workbook has no sheet", source=source)
    name = names[0] if sheet is None else sheet
    if name not in names:
        listed = ", ".join(repr(n) for n in names)
        raise DataError(f"no sheet {name!r} in the workbook; its sheets: {listed}", source=source)
    worksheet = workbook[name]
    if not hasattr(worksheet, "iter_rows"):
        raise DataError(f"sheet {name!r} is a chart, not a table", source=source)
    width = worksheet.max_column or 0  # from the sheet's <dimension>, when it has one
    if width > MAX_COLUMNS:
        raise DataError(
            f"sheet {name!r} is {width:,} columns wide, more than {MAX_COLUMNS:,}: delete the unused columns",
            source=source,
        )
    _check_markup(workbook, worksheet, name, source=source)
    cells = _sheet_cells(worksheet, name, source=source)
    header: list[str] = []
    for cells_of_row in cells:
        if len(cells_of_row) > MAX_COLUMNS and any(c.value is not None for c in cells_of_row[MAX_COLUMNS:]):
            raise DataError(f"sheet {name!r}: more than {MAX_COLUMNS:,} columns", source=source)
        values = [_value(cell, name, source=source, row=None) for cell in cells_of_row]
        if any(v != "" for v in values):
            header = [str(v).strip() for v in values]
            break
    if not header:
        raise DataError(f"sheet {name!r} is empty: no header row", source=source)
    columns = _named_columns(header, source=source, sheet=name)
    _check_header(columns, name, source=source)
    return columns, _data_rows(cells, columns, name, source=source)


def _sheet_cells(worksheet: Any, sheet: str, *, source: str) -> Iterator[tuple[Any, ...]]:
    """The sheet's rows of cells; what openpyxl cannot parse is a ``DataError``."""
    cells = worksheet.iter_rows()
    while True:
        try:
            row = next(cells)
        except StopIteration:
            return
        except (ValueError, LookupError, ElementTree.ParseError, zipfile.BadZipFile, EOFError, OSError) as exc:
            if "column index" in str(exc):  # past Excel's last column, XFD
                raise DataError(f"sheet {sheet!r}: more than {MAX_COLUMNS:,} columns", source=source) from None
            raise DataError(
                f"sheet {sheet!r} is not readable ({type(exc).__name__}): save it again", source=source
            ) from None
        yield row


def _check_header(columns: list[str], sheet: str, *, source: str) -> None:
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            raise DataError(
                f"sheet {sheet!r}: duplicate column {column!r} in the header row", field=column, source=source
            )
        seen.add(column)


def _data_rows(
    cells: Iterator[tuple[Any, ...]], columns: list[str], sheet: str, *, source: str
) -> Iterator[CustomerRow]:
    width = len(columns)
    number = 0
    for cells_of_row in cells:
        values = [_value(cell, sheet, source=source, row=number + 1) for cell in cells_of_row]
        if all(v == "" for v in values):
            continue
        number += 1
        extra = next((i for i in range(width, len(values)) if values[i] != ""), None)
        if extra is not None:
            raise DataError(f"cell {_where(cells_of_row[extra])}: {_PAST_HEADER}", row=number, source=source)
        values += [""] * (width - len(values))
        yield CustomerRow(number, dict(zip(columns, values, strict=False)))


def _value(cell: Any, sheet: str, *, source: str, row: int | None) -> Any:
    """A cell as a CSV reader would give it, typed: text, an int or float, ISO date text, "true"/"false"."""
    value = cell.value
    kind = type(value)
    if kind is str:
        if cell.data_type == "e" or len(value) > _CELL_CHARS or "\x00" in value:
            _refuse_text(cell, value, sheet, source=source, row=row)
        return value
    if kind is int:
        return value
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if kind is float:
        return int(value) if value.is_integer() else value
    if isinstance(value, _dt.datetime):
        return value.date().isoformat() if value.time() == _dt.time() else value.isoformat(sep=" ")
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return str(value)
    return value


def _refuse_text(cell: Any, value: str, sheet: str, *, source: str, row: int | None) -> None:
    where = f"sheet {sheet!r}, cell {_where(cell)}"
    if cell.data_type == "e":
        raise DataError(f"{where} holds the error {value}: fix the formula or export CSV", row=row, source=source)
    if len(value) > _CELL_CHARS:
        raise DataError(f"{where} is larger than {_CELL_CHARS:,} characters, the cell limit", row=row, source=source)
    raise DataError(f"{where}: NUL characters are not allowed", row=row, source=source)  # _x0000_ in the XML


def _where(cell: Any) -> str:
    coordinate = getattr(cell, "coordinate", None)
    return str(coordinate) if coordinate else "?"


def _check_markup(workbook: Any, worksheet: Any, sheet: str, *, source: str) -> None:
    """Refuse a row of more than ``MAX_COLUMNS`` cells, merged cells (read-only mode hides them)
    and formulas with no saved value (read as empty). One fast pass over the sheet's XML counts
    cells and looks for either; only when one is there does a real XML parse find which."""
    archive: zipfile.ZipFile = workbook._archive
    member: str = worksheet._worksheet_path
    with archive.open(member) as xml:
        markup = _scan(xml, sheet, source=source)
    if not markup:
        return
    with archive.open(member) as xml:
        problem = _markup_problem(xml)
    if problem is not None:
        raise DataError(f"sheet {sheet!r}, {problem}", source=source)


def _scan(xml: IO[bytes], sheet: str, *, source: str, chunk: int = 1 << 20) -> bool:
    """Whether the sheet has a merged range or a formula; ``DataError`` for a row too wide.
    Only whole tags are matched: each block is cut after its last ``>``, the rest carried over."""
    carry = b""
    markup = False
    cells = row = 0
    while block := xml.read(chunk):
        text = carry + block
        cut = text.rfind(b">") + 1
        text, carry = text[:cut], text[cut:]
        for match in _TAGS.finditer(text):
            tag = match.group(1)
            if tag == b"c":
                if not match.group(2):  # <c .../> holds nothing
                    cells += 1
                    if cells > MAX_COLUMNS:
                        where = f"sheet {sheet!r}, row {row}" if row else f"sheet {sheet!r}"
                        raise DataError(f"{where}: more than {MAX_COLUMNS:,} columns", source=source)
            elif tag == b"row":
                number = _ROW_NUMBER.search(match.group(0))
                cells, row = 0, int(number.group(1)) if number else row + 1
            else:
                markup = True
    return markup


def _markup_problem(xml: IO[bytes]) -> str | None:
    formula_without_value: str | None = None
    for _, element in ElementTree.iterparse(xml):
        tag = element.tag.rpartition("}")[2]
        if tag == "mergeCell":
            ref = element.get("ref", "?")
            return f"merged cells {ref}: unmerge them, one value per cell"
        if tag == "c":
            if formula_without_value is None and _unsaved_formula(element):
                formula_without_value = element.get("r", "?")
            element.clear()
        elif tag == "row":
            element.clear()
    if formula_without_value is not None:
        return f"cell {formula_without_value}: {_FORMULA}"
    return None


def _unsaved_formula(cell: ElementTree.Element) -> bool:
    """A formula cell with no saved value: no ``<v>``, or an empty one that is not an empty text result."""
    children = {child.tag.rpartition("}")[2]: child for child in cell}
    if "f" not in children or "is" in children:
        return False
    value = children.get("v")
    return value is None or (not value.text and cell.get("t") != "str")
