"""Customer tables as spreadsheet tools save them: any common encoding, comma, semicolon or tab.

The encoding comes from the byte-order mark, else UTF-8, else cp1252 (Latin-1); the
separator is sniffed from the header line. A problem names the file and the row (and the
column), never a byte offset.
"""

from __future__ import annotations

import codecs
import io

import pytest

from pvideo.errors import DataError
from pvideo.scene.csvfiles import detect_encoding, sniff_delimiter
from pvideo.scene.customers import read_customers, stream_customers
from pvideo.scene.spec import parse_scene
from tests.conftest import CARD_SCENE

TEXT = "customer_id,first_name,price\nc1,Zo\u00eb,1.5\nc2,Ren\u00e9e \u20ac,2\n"
NAMES = [("c1", "Zo\u00eb"), ("c2", "Ren\u00e9e \u20ac")]


@pytest.fixture()
def spec():
    return parse_scene(CARD_SCENE)


def _rows(path, spec):
    read = [(r.data["customer_id"], r.data["first_name"]) for r in read_customers(path, spec)]
    streamed = [(r.data["customer_id"], r.data["first_name"]) for r in stream_customers(path, spec)]
    assert read == streamed
    return read


@pytest.mark.parametrize(
    "encoding,bom",
    [
        ("utf-8", b""),
        ("utf-8", codecs.BOM_UTF8),
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
        ("utf-32-le", codecs.BOM_UTF32_LE),
        ("utf-32-be", codecs.BOM_UTF32_BE),
        ("cp1252", b""),  # "ANSI": Excel's "CSV" on Windows
    ],
)
def test_common_encodings_are_read(tmp_path, spec, encoding, bom):
    path = tmp_path / "people.csv"
    path.write_bytes(bom + TEXT.encode(encoding))
    assert _rows(path, spec) == NAMES


def test_latin1_with_bytes_cp1252_leaves_undefined_is_read_as_latin1(tmp_path):
    path = tmp_path / "people.json"
    path.write_bytes('[{"customer_id": "c1", "first_name": "Zo\u00eb\u0081"}]'.encode("latin-1"))
    assert read_customers(path)[0].data["first_name"] == "Zo\u00eb\u0081"
    assert detect_encoding(io.BytesIO(b"caf\xe9\x81")) == "latin-1"
    assert detect_encoding(io.BytesIO(b"caf\xe9 \x80")) == "cp1252"
    assert detect_encoding(io.BytesIO(b"plain ascii")) == "utf-8"


@pytest.mark.parametrize("separator", [";", "\t", ","])
def test_the_separator_is_sniffed_from_the_header(tmp_path, spec, separator):
    other = ";" if separator == "," else ","
    path = tmp_path / "people.csv"
    path.write_bytes(
        separator.join(["customer_id", "first_name", "price"]).encode()
        + b"\r\n"
        + separator.join(["c1", f'"Ana{other} Jr."', "1"]).encode("cp1252")
        + b"\r\n"
    )
    assert _rows(path, spec) == [("c1", f"Ana{other} Jr.")]


def test_sniffing_falls_back_to_a_comma():
    assert sniff_delimiter("email\n") == ","
    assert sniff_delimiter("customer_id|first_name\n") == ","
    assert sniff_delimiter('"a;b","c"\n') == ","


def test_another_separator_gets_a_hint(tmp_path, spec):
    path = tmp_path / "people.csv"
    path.write_text("customer_id|first_name|price\nc1|Ana|1\n")
    with pytest.raises(DataError) as info:
        read_customers(path, spec)
    assert str(info.value) == (
        f"{path}, field 'customer_id': missing column(s) customer_id, first_name, price required by scene 'card';"
        " the header row was read as one column 'customer_id|first_name|price':"
        " separate columns with commas, semicolons or tabs"
    )


def test_a_stray_byte_in_a_utf8_file_names_row_and_column(tmp_path, spec):
    path = tmp_path / "people.csv"
    path.write_bytes(TEXT.encode() + b"c3,Bj\xf6rn,3\n")  # one row pasted from a Latin-1 file
    with pytest.raises(DataError) as info:
        read_customers(path, spec)
    assert str(info.value).startswith(f"{path}, row 3, field 'first_name': not valid UTF-8 text")


def test_broken_utf16_is_refused_by_row_not_byte_offset(tmp_path, spec):
    path = tmp_path / "people.csv"
    path.write_bytes(TEXT.encode("utf-16") + "c3,\ud800".encode("utf-16-le", "surrogatepass") + b"x")
    with pytest.raises(DataError) as info:
        read_customers(path, spec)
    message = str(info.value)
    assert message.startswith(f"{path}: not valid UTF-16 text at or after row ")
    assert "position" not in message and "byte" not in message


def test_a_folder_is_a_data_error(tmp_path, spec):
    with pytest.raises(DataError, match="cannot read the file"):
        read_customers(tmp_path, spec)
