"""Customer tables as people save them: UTF-16, binary junk, huge cells, repeated or unused columns.

Each problem is a ``DataError`` naming the file (and the row and column where there is one),
never a traceback.
"""

from __future__ import annotations

import io
import json
import os
import random

import pytest

from pvideo.errors import DataError
from pvideo.scene.customers import (
    check_row_count,
    iter_csv,
    read_customers,
    stream_customers,
    table_columns,
    unused_columns,
)
from pvideo.scene.spec import parse_scene
from tests.conftest import CARD_SCENE

GOOD = "customer_id,first_name,price,email\nc1,Zo\u00eb,1.5,z@x\nc2,Bo,2,b@x\n"


@pytest.fixture()
def spec():
    return parse_scene(CARD_SCENE)


def _error(path, spec=None) -> str:
    with pytest.raises(DataError) as info:
        read_customers(path, spec)
    message = str(info.value)
    assert message.startswith(str(path)), message
    return message


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-8-sig", "utf-32"])
def test_a_byte_order_mark_names_the_encoding(tmp_path, spec, encoding):
    path = tmp_path / "people.csv"
    data = GOOD.encode(encoding)
    if encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    path.write_bytes(data)
    rows = read_customers(path, spec)
    assert [(r.data["customer_id"], r.data["first_name"]) for r in rows] == [("c1", "Zo\u00eb"), ("c2", "Bo")]
    assert [r.data["customer_id"] for r in stream_customers(path, spec)] == ["c1", "c2"]


def test_utf16_json_is_read(tmp_path, spec):
    path = tmp_path / "people.json"
    path.write_bytes(json.dumps([{"customer_id": "c1", "first_name": "Zo\u00eb", "price": 1}]).encode("utf-16"))
    assert read_customers(path, spec)[0].data["first_name"] == "Zo\u00eb"


@pytest.mark.parametrize("text", [GOOD, GOOD.replace("\u00eb", "e")])
def test_utf16_without_a_byte_order_mark_is_refused_clearly(tmp_path, text):
    path = tmp_path / "people.csv"
    path.write_bytes(text.encode("utf-16-le"))  # a NUL after each ASCII letter, whatever encoding is detected
    error = _error(path)
    assert "NUL characters are not allowed" in error and "UTF-16" in error


def test_a_latin1_table_is_read_as_cp1252(tmp_path, spec):
    path = tmp_path / "people.csv"
    path.write_bytes("customer_id,first_name,price\nc1,Zo\u00eb,1\n".encode("latin-1"))
    assert [(r.data["customer_id"], r.data["first_name"]) for r in read_customers(path, spec)] == [("c1", "Zo\u00eb")]


# Whatever encoding binary junk is read in, it is refused with one line naming the file (and the row
# and column where there is one): a NUL, a byte UTF-8 cannot decode, or a header no scene can use.
_JUNK = ("NUL characters are not allowed", "not valid UTF-8 text", "not valid CSV", "missing column(s)")


@pytest.mark.parametrize(
    "data",
    [
        random.Random(13).randbytes(4096) + b"\xff\xfe\xfd",
        os.urandom(4096) + b"\xff\xfe\xfd",
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
        bytes(range(256)) * 64,
    ],
    ids=["seeded", "random", "png", "all-bytes"],  # ids, not bytes: the same on every xdist worker
)
def test_binary_files_are_refused_clearly(tmp_path, spec, data):
    path = tmp_path / "junk.csv"
    path.write_bytes(data)
    message = _error(path, spec)
    assert any(reason in message for reason in _JUNK), message
    assert "Traceback" not in message and "position" not in message


def test_a_nul_in_a_cell_names_row_and_column(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("customer_id,first_name,price\nc1,Ana,1\nc2,B\x00o,2\n")
    assert ", row 2, field 'first_name': NUL characters" in _error(path)


@pytest.mark.parametrize("quoted", [False, True])
def test_a_cell_over_the_csv_limit_names_row_and_column(tmp_path, quoted):
    big = '"' + "x\n" * 70_000 + '"' if quoted else "x" * 140_000
    path = tmp_path / "big.csv"
    path.write_text(f'customer_id,first_name,price\nc1,"A,""n""a",1\nc2,{big},2\n')
    message = _error(path)
    assert ", row 2, field 'first_name': a cell is larger than 131,072 characters" in message
    assert "UTF-8" not in message


def test_a_cell_past_the_header_over_the_limit_is_named_by_position(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("a,b\n1,2," + "x" * 140_000 + "\n")
    assert "row 1: cell 3 (past the header's columns) is larger than" in _error(path)


def test_duplicate_columns_are_refused_naming_the_column(tmp_path, spec):
    path = tmp_path / "dup.csv"
    path.write_text("customer_id,first_name,price, first_name \nc1,Ana,1,Bo\n")
    assert "field 'first_name': duplicate column 'first_name'" in _error(path, spec)
    columns, rows = iter_csv(io.StringIO("a,,b,\n1,2,3,4\n"), source="blank.csv")  # unnamed columns may repeat
    assert columns == ["a", "", "b", ""] and len(list(rows)) == 1


@pytest.mark.parametrize(
    "text,message",
    [
        ("[" * 30_000 + "]" * 30_000, "nested deeper than 64 levels"),
        ('[{"customer_id": "c1", "price": ' + "9" * 5000 + "}]", "a number of more than 100 digits"),
        ('[{"customer_id": "c1"}, {"customer_id": "c\\u0000"}]', "row 2, field 'customer_id': NUL characters"),
        ('[{"customer_id": "c1", "price": 1e999}]', "field 'price': not a finite number"),
    ],
)
def test_hostile_json_tables_are_data_errors(tmp_path, text, message):
    path = tmp_path / "people.json"
    path.write_text(text)
    assert message in _error(path)


def test_unused_columns_are_those_no_field_template_or_condition_reads(spec):
    scene = dict(
        CARD_SCENE,
        layers=[
            *CARD_SCENE["layers"],
            {
                "type": "text",
                "id": "mail",
                "text": "{{ email | upper }}",
                "when": "vip == 'yes'",
                "start": 0,
                "end": 1,
                "box": {"x": 0, "y": 0, "w": 100, "h": 40},
            },
        ],
    )
    columns = ["customer_id", "first_name", "price", "plan", "email", "vip", "emial", "", "notes", "emial"]
    assert unused_columns(parse_scene(scene), columns) == ["emial", "notes"]
    assert unused_columns(spec, columns) == ["email", "vip", "emial", "notes"]


def test_table_columns_of_csv_and_json(tmp_path):
    csv_path = tmp_path / "people.csv"
    csv_path.write_bytes(GOOD.encode("utf-16"))
    assert table_columns(csv_path) == ["customer_id", "first_name", "price", "email"]
    json_path = tmp_path / "people.json"
    json_path.write_text(json.dumps([{"a": 1, "b": 2}, {"c": 3, "a": 4}]))
    assert table_columns(json_path) == ["a", "b", "c"]


def test_row_count_reads_utf16_uploads(tmp_path):
    data = ("customer_id,first_name,price\n" + "c,A,1\n" * 5).encode("utf-16")
    check_row_count(io.BytesIO(data), 5, source="u.csv")
    with pytest.raises(DataError, match="more than 4 rows"):
        check_row_count(io.BytesIO(data), 4, source="u.csv")
