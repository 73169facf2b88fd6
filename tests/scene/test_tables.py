"""Customer files uploaded in the studio, CSV or XLSX, as people save them.

Each is read into the same rows, or refused with one ``DataError`` naming the problem
(the sheet, the cell, the column, the row).
"""

from __future__ import annotations

import codecs
import datetime as dt
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from pvideo.errors import DataError
from pvideo.scene.tables import read_table, sheet_names, sniff_kind, table_kind
from tests.steps import counted_lines

ROWS = [["c1", "Zo\u00eb", 1.5], ["c2", "Ren\u00e9e", 2]]
# Work bounds for hostile files, in Python lines run (tests/steps.py), linear in their size.
# A pass over a CSV header runs 6 to 9 lines per column. An XLSX sheet without a <dimension> is
# sized by openpyxl walking its XML (about 25 lines a cell) before pvideo's scan refuses it;
# reading the cells themselves, as a sheet that got past the scan would be, costs about 150.
LINES_PER_COLUMN = 20
XLSX_LINES_PER_CELL = 50


def _csv(tmp_path: Path, data: bytes, name: str = "people.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _read(path: Path, kind: str | None = None, **kwargs) -> tuple[list[str], list[dict]]:
    kind = kind or sniff_kind(path, path.name)
    columns, rows = read_table(path, kind, source=path.name, **kwargs)
    return columns, [dict(r.data) for r in rows]


def _error(path: Path, kind: str | None = None, **kwargs) -> str:
    with pytest.raises(DataError) as info:
        _read(path, kind, **kwargs)
    return str(info.value)


def _xlsx(tmp_path: Path, rows, name: str = "people.xlsx", build=None) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Customers"
    for row in rows:
        sheet.append(row)
    if build is not None:
        build(workbook)
    path = tmp_path / name
    workbook.save(path)
    return path


# CSV: today's streamed rules


@pytest.mark.parametrize(
    "encoding,bom",
    [("cp1252", b""), ("latin-1", b""), ("utf-16-le", codecs.BOM_UTF16_LE), ("utf-8", codecs.BOM_UTF8)],
)
def test_csv_encodings_are_read(tmp_path, encoding, bom):
    text = "id,name,price\nc1,Zo\u00eb,1.5\nc2,Ren\u00e9e,2\n"
    path = _csv(tmp_path, bom + text.encode(encoding))
    assert sniff_kind(path, "people.csv") == "csv"
    columns, rows = _read(path)
    assert columns == ["id", "name", "price"]
    assert [r["name"] for r in rows] == ["Zo\u00eb", "Ren\u00e9e"]


def test_csv_semicolons_and_crlf(tmp_path):
    path = _csv(tmp_path, 'id;name;price\r\nc1;Zo\u00eb;1,5\r\nc2;"Bo\r\nBo";2\r\n'.encode())
    columns, rows = _read(path)
    assert columns == ["id", "name", "price"]
    assert rows == [{"id": "c1", "name": "Zo\u00eb", "price": "1,5"}, {"id": "c2", "name": "Bo\r\nBo", "price": "2"}]


def test_csv_duplicate_header_is_refused_naming_it(tmp_path):
    path = _csv(tmp_path, b"id,name,Name ,name\nc1,a,b,c\n")
    assert "duplicate column 'name'" in _error(path)


def test_csv_unnamed_column_is_refused_naming_it_but_trailing_ones_are_dropped(tmp_path):
    assert "header row: column 2 (B) has no name" in _error(_csv(tmp_path, b"id,,price\nc1,a,1\n"))
    columns, rows = _read(_csv(tmp_path, b"id,price,,\nc1,1,,\n", "trailing.csv"))
    assert columns == ["id", "price"] and rows == [{"id": "c1", "price": "1"}]
    message = _error(_csv(tmp_path, b"id,price,\nc1,1,\nc2,2,oops\n", "value.csv"))
    assert "row 2: a value right of the last named column" in message
    assert "header row: no column has a name" in _error(_csv(tmp_path, b",,,\n1,2\n", "blank.csv"))
    commas = _csv(tmp_path, b"id,price" + b"," * 200_000 + b"\nc1,1\n", "commas.csv")
    with counted_lines(LINES_PER_COLUMN * 200_000):  # dropping them is one pass, not one per column
        columns, rows = _read(commas)
    assert (columns, rows) == (["id", "price"], [{"id": "c1", "price": "1"}])


def test_csv_ten_megabyte_cell_names_row_and_column(tmp_path):
    path = _csv(tmp_path, b"id,name\nc1,Ana\nc2," + b"x" * 10_000_000 + b"\n")
    message = _error(path)
    assert "people.csv, row 2, field 'name': a cell is larger than 131,072 characters" in message


def test_csv_of_a_hundred_thousand_columns_is_refused_quickly(tmp_path):
    header = ",".join(f"c{i}" for i in range(100_000))
    path = _csv(tmp_path, (header + "\n" + ",".join("1" * 100_000) + "\n").encode())
    with counted_lines(LINES_PER_COLUMN * 100_000):  # one pass over the header, no row read
        assert "header row: 100,000 columns, more than 1,000" in _error(path)


@pytest.mark.parametrize(
    "data",
    [bytes(range(256)) * 32, b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64],
)
def test_binary_garbage_is_refused_as_binary(tmp_path, data):
    path = _csv(tmp_path, data, "junk.csv")
    with pytest.raises(DataError, match=re.escape("junk.csv: not a CSV or XLSX file (binary content)")):
        sniff_kind(path, "junk.csv")


def test_utf16_without_a_mark_is_left_to_the_csv_reader_which_says_so(tmp_path):
    path = _csv(tmp_path, "id,name\nc1,Ana\n".encode("utf-16-le"))
    assert sniff_kind(path, path.name) == "csv"
    assert "UTF-16 without a byte-order mark" in _error(path, "csv")


def test_kind_by_name_and_content(tmp_path):
    assert [table_kind(n) for n in ("a.CSV", "a.txt", "a.tsv", "a.xlsx")] == ["csv", "csv", "csv", "xlsx"]
    with pytest.raises(DataError, match=r"a\.xls: an old Excel \.xls file: save it as \.xlsx or CSV"):
        table_kind("a.xls")
    with pytest.raises(DataError, match=r"a\.pdf: a \.pdf file: upload a CSV or XLSX file"):
        table_kind("a.pdf")
    xlsx = _xlsx(tmp_path, [["id"], ["c1"]])
    with pytest.raises(DataError, match="an XLSX .zip. file named like a CSV"):
        sniff_kind(xlsx, "people.csv")
    with pytest.raises(DataError, match="not an XLSX file"):
        sniff_kind(_csv(tmp_path, b"id\nc1\n"), "people.xlsx")
    assert sheet_names(_csv(tmp_path, b"id\nc1\n")) == []


# XLSX


def test_xlsx_values_read_as_a_user_expects(tmp_path):
    def build(workbook):
        sheet = workbook.active
        sheet["F5"].value = 46112  # a date typed in Excel: a serial number with a date format
        sheet["F5"].number_format = "yyyy-mm-dd"

    rows = [
        [],  # leading empty row: the first non-empty row is the header
        ["ID", "Name", "Price", "Vip", "Since", "Renews", "Seen"],
        ["c1", "Zo\u00eb", 12.0, True, dt.date(2026, 3, 31), None, dt.datetime(2026, 1, 2, 3, 4, 5)],
        [],
        ["c2", "Bo", 2.5, False, dt.datetime(2025, 12, 1), None, None],
    ]
    path = _xlsx(tmp_path, rows, build=build)
    assert sniff_kind(path, path.name) == "xlsx" and sheet_names(path) == ["Customers"]
    columns, read = _read(path)
    assert columns == ["ID", "Name", "Price", "Vip", "Since", "Renews", "Seen"]
    assert read == [
        {
            "ID": "c1",
            "Name": "Zo\u00eb",
            "Price": 12,
            "Vip": "true",
            "Since": "2026-03-31",
            "Renews": "",
            "Seen": "2026-01-02 03:04:05",
        },
        {
            "ID": "c2",
            "Name": "Bo",
            "Price": 2.5,
            "Vip": "false",
            "Since": "2025-12-01",
            "Renews": "2026-03-31",
            "Seen": "",
        },
    ]
    assert isinstance(read[0]["Price"], int)


def _with_cached_values(path: Path, values: dict[str, str]) -> None:
    """Write the value Excel saves beside a formula (openpyxl saves none) into the sheet's XML."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    xml = members["xl/worksheets/sheet1.xml"].decode()
    for cell, value in values.items():
        xml, count = re.subn(rf'(<c r="{cell}"[^>]*>)(<f>[^<]*</f>)(<v\s*/>|<v></v>)?', rf"\1\2<v>{value}</v>", xml)
        assert count == 1, xml
    members["xl/worksheets/sheet1.xml"] = xml.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_xlsx_formulas_give_their_saved_values(tmp_path):
    path = _xlsx(tmp_path, [["id", "price", "total"], ["c1", 2, "=B2*3"], ["c2", 4, "=B3*3"]])
    _with_cached_values(path, {"C2": "6", "C3": "12.5"})
    assert _read(path)[1] == [{"id": "c1", "price": 2, "total": 6}, {"id": "c2", "price": 4, "total": 12.5}]


def test_xlsx_formula_without_a_saved_value_is_refused_naming_the_cell(tmp_path):
    path = _xlsx(tmp_path, [["id", "price", "total"], ["c1", 2, "=B2*3"], ["c2", 4, "=B3*3"]])
    _with_cached_values(path, {"C2": "6"})
    message = _error(path)
    assert "sheet 'Customers', cell C3: formula without a saved value" in message
    assert "open and save the file in Excel, or export CSV" in message


def test_xlsx_merged_cells_are_refused_naming_the_range(tmp_path):
    path = _xlsx(tmp_path, [["id", "name"], ["c1", "Ana"], ["c2", ""]], build=lambda w: w.active.merge_cells("B2:B3"))
    assert "people.xlsx: sheet 'Customers', merged cells B2:B3: unmerge them" in _error(path)


def test_xlsx_several_sheets_pick_one(tmp_path):
    def build(workbook):
        other = workbook.create_sheet("March")
        other.append(["id", "name"])
        other.append(["m1", "Mo"])

    path = _xlsx(tmp_path, [["id", "name"], ["c1", "Ana"]], build=build)
    assert sheet_names(path) == ["Customers", "March"]
    assert _read(path)[1] == [{"id": "c1", "name": "Ana"}]
    assert _read(path, sheet="March")[1] == [{"id": "m1", "name": "Mo"}]
    assert "no sheet 'April' in the workbook; its sheets: 'Customers', 'March'" in _error(path, sheet="April")


def test_xlsx_header_problems_are_refused(tmp_path):
    duplicate = _xlsx(tmp_path, [["id", "name", "name"], ["c1", "a", "b"]], "dup.xlsx")
    assert "sheet 'Customers': duplicate column 'name' in the header row" in _error(duplicate)
    unnamed = _xlsx(tmp_path, [["id", None, "name"], ["c1", "a", "b"]], "unnamed.xlsx")
    assert "sheet 'Customers', header row: column 2 (B) has no name" in _error(unnamed)
    assert "sheet 'Customers' is empty" in _error(_xlsx(tmp_path, [], "empty.xlsx"))


def test_xlsx_row_wider_than_the_header_names_the_row(tmp_path):
    path = _xlsx(tmp_path, [["id", "name"], ["c1", "Ana"], ["c2", "Bo", "stray"]])
    assert "people.xlsx, row 2: cell C3: a value right of the last named column" in _error(path)


def test_xlsx_error_value_is_refused_naming_the_cell(tmp_path):
    path = _xlsx(tmp_path, [["id", "ratio"], ["c1", "=1/0"]])
    _with_cached_values(path, {"B2": "#DIV/0!"})
    xml_fix = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode().replace('<c r="B2"', '<c r="B2" t="e"')
    members = {n: zipfile.ZipFile(path).read(n) for n in zipfile.ZipFile(path).namelist()}
    members["xl/worksheets/sheet1.xml"] = xml_fix.encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    assert "row 1: sheet 'Customers', cell B2 holds the error #DIV/0!" in _error(path)


def _replace_sheet(path: Path, xml: bytes) -> None:
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["xl/worksheets/sheet1.xml"] = xml
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_xlsx_of_a_hundred_thousand_columns_is_refused_quickly(tmp_path):
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Wide")
    sheet.append([f"c{i}" for i in range(16_384)])  # Excel's widest sheet, A to XFD
    path = tmp_path / "wide.xlsx"
    workbook.save(path)
    with counted_lines(2 * XLSX_LINES_PER_CELL * 16_384):  # twice: no cell read into a value
        assert "Wide" in _error(path) and "more than 1,000" in _error(path)
    # a hostile file: 100,000 cells in a row, no <dimension> to say so
    path = _xlsx(tmp_path, [["id"]], "hostile.xlsx")
    cells = "".join(f'<c t="inlineStr"><is><t>c{i}</t></is></c>' for i in range(100_000))
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    _replace_sheet(
        path, f'<worksheet xmlns="{ns}"><sheetData><row r="1">{cells}</row></sheetData></worksheet>'.encode()
    )
    with counted_lines(XLSX_LINES_PER_CELL * 100_000):
        assert "sheet 'Customers', row 1: more than 1,000 columns" in _error(path)


def test_not_an_xlsx_inside_is_a_data_error(tmp_path):
    path = tmp_path / "fake.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    assert "fake.xlsx: not a readable XLSX file" in _error(path, "xlsx")


def test_xlsx_rows_stream_and_close_the_file(tmp_path):
    path = _xlsx(tmp_path, [["id"], *([f"c{i}"] for i in range(50))])
    columns, rows = read_table(path, "xlsx", source="p")
    first = next(rows)
    assert (columns, first.number, first.data) == (["id"], 1, {"id": "c0"})
    assert [r.number for r in rows][-1] == 50


def test_xlsx_cell_over_the_csv_cell_limit_names_the_cell(tmp_path):
    path = _xlsx(tmp_path, [["id", "note"], ["c1", "ok"], ["c2", "x"]])  # openpyxl cuts text at Excel's 32,767
    xml = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").replace(b"<t>x</t>", b"<t>" + b"x" * 140_000 + b"</t>")
    _replace_sheet(path, xml)
    assert "people.xlsx, row 2: sheet 'Customers', cell B3 is larger than 131,072 characters" in _error(path)
