"""Customer rows: typing CSV/JSON values against the scene's fields, and naming row and field on error."""

from __future__ import annotations

import json

import pytest

from pvideo.errors import DataError
from pvideo.scene.customers import (
    CustomerRow,
    check_columns,
    coerce_row,
    customer_id,
    iter_valid,
    parse_csv,
    parse_json,
    read_customers,
)
from pvideo.scene.spec import parse_scene


@pytest.fixture()
def spec():
    return parse_scene(
        {
            "name": "people",
            "video": "templates/tiny.mp4",
            "fields": {
                "customer_id": {"type": "str"},
                "name": {"type": "str"},
                "age": {"type": "int"},
                "price": {"type": "float"},
                "vip": {"type": "bool", "default": False},
                "plan": {"type": "str", "default": "Basic"},
                "nick": {"type": "str", "required": False},
            },
        }
    )


GOOD = {"customer_id": "c1", "name": "Ana", "age": "42", "price": "19.99"}


def _error(spec, raw, *, row=3, source="people.csv") -> DataError:
    with pytest.raises(DataError) as info:
        coerce_row(spec, raw, row=row, source=source)
    return info.value


# --- coerce_row ----------------------------------------------------------------------------


def test_coerce_types_from_csv_strings(spec):
    out = coerce_row(spec, {**GOOD, "vip": "yes"})
    assert out["customer_id"] == "c1" and out["name"] == "Ana"
    assert out["age"] == 42 and type(out["age"]) is int
    assert out["price"] == pytest.approx(19.99) and type(out["price"]) is float
    assert out["vip"] is True


def test_coerce_strips_number_whitespace(spec):
    out = coerce_row(spec, {**GOOD, "age": " 7 ", "price": " 1e3 "})
    assert out["age"] == 7 and out["price"] == 1000.0


@pytest.mark.parametrize(
    "text,expected",
    [
        ("true", True),
        ("TRUE", True),
        ("Yes", True),
        ("1", True),
        ("on", True),
        ("y", True),
        ("false", False),
        ("No", False),
        ("0", False),
        ("off", False),
        (" n ", False),
        (True, True),
        (False, False),
    ],
)
def test_coerce_bool_spellings(spec, text, expected):
    assert coerce_row(spec, {**GOOD, "vip": text})["vip"] is expected


def test_defaults_filled_and_optional_none(spec):
    out = coerce_row(spec, GOOD)
    assert out["vip"] is False
    assert out["plan"] == "Basic"
    assert out["nick"] is None


def test_empty_optional_takes_default(spec):
    out = coerce_row(spec, {**GOOD, "plan": "  ", "vip": ""})
    assert out["plan"] == "Basic" and out["vip"] is False


def test_undeclared_columns_pass_through(spec):
    out = coerce_row(spec, {**GOOD, "email": "ana@example.com", "score": "17"})
    assert out["email"] == "ana@example.com"
    assert out["score"] == "17"  # not declared, so not typed


def test_coerce_does_not_mutate_input(spec):
    raw = dict(GOOD)
    coerce_row(spec, raw)
    assert raw == GOOD


def test_json_values_typed(spec):
    out = coerce_row(spec, {"customer_id": 17, "name": "Bo", "age": 30, "price": 5})
    assert out["customer_id"] == "17"
    assert out["age"] == 30 and out["price"] == 5.0 and type(out["price"]) is float


def test_missing_required_field(spec):
    raw = dict(GOOD)
    del raw["name"]
    err = _error(spec, raw)
    assert err.row == 3 and err.field == "name" and err.source == "people.csv"
    assert str(err) == "people.csv, row 3, field 'name': missing required field"


@pytest.mark.parametrize("blank", ["", "   ", None])
def test_empty_required_field(spec, blank):
    err = _error(spec, {**GOOD, "name": blank})
    assert err.field == "name" and err.row == 3
    assert "row 3" in str(err) and "field 'name'" in str(err) and "missing required field" in str(err)


def test_wrong_type_price(spec):
    err = _error(spec, {**GOOD, "price": "abc"})
    assert err.row == 3 and err.field == "price"
    assert str(err) == "people.csv, row 3, field 'price': expected a number, got 'abc'"


@pytest.mark.parametrize("value", ["4.5", "four", "1e3"])
def test_wrong_type_int(spec, value):
    err = _error(spec, {**GOOD, "age": value})
    assert err.field == "age"
    assert str(err) == f"people.csv, row 3, field 'age': expected an integer, got {value!r}"


def test_bad_bool(spec):
    err = _error(spec, {**GOOD, "vip": "maybe"})
    assert err.field == "vip" and "expected true or false, got 'maybe'" in str(err)


@pytest.mark.parametrize("nan", ["nan", "NaN", " nan ", float("nan")], ids=["nan", "NaN", "spaced", "float"])
def test_nan_rejected(spec, nan):
    err = _error(spec, {**GOOD, "price": nan})
    assert err.field == "price" and "expected a number" in str(err)


@pytest.mark.parametrize("field", ["age", "price"])
@pytest.mark.parametrize("value", [True, False])
def test_bool_as_number_rejected(spec, field, value):
    err = _error(spec, {**GOOD, field: value})
    assert err.field == field and err.row == 3
    expected = "an integer" if field == "age" else "a number"
    assert str(err) == f"people.csv, row 3, field '{field}': expected {expected}, got {value!r}"


@pytest.mark.parametrize("value", ["inf", "-inf", "Infinity", float("inf")])
def test_infinity_rejected(spec, value):
    err = _error(spec, {**GOOD, "price": value})
    assert err.field == "price" and "expected a number" in str(err)


def test_structured_value_for_text_rejected(spec):
    err = _error(spec, {**GOOD, "name": ["Ana"]})
    assert err.field == "name" and "expected text" in str(err)


def test_non_mapping_row(spec):
    err = _error(spec, ["c1", "Ana"])
    assert err.row == 3 and "people.csv, row 3" in str(err)


def test_customer_id_falls_back_to_row_number(spec):
    assert customer_id(spec, {"customer_id": "c9"}, 4) == "c9"
    assert customer_id(spec, {"customer_id": ""}, 4) == "row-4"
    assert customer_id(spec, {}, 5) == "row-5"


# --- tables --------------------------------------------------------------------------------


def test_check_columns_names_missing_column(spec):
    with pytest.raises(DataError) as info:
        check_columns(spec, ["customer_id", "name", "price"], source="people.csv")
    err = info.value
    assert err.field == "age" and err.source == "people.csv"
    assert "people.csv" in str(err) and "age" in str(err) and "people" in str(err)
    # optional / defaulted columns may be absent
    check_columns(spec, ["customer_id", "name", "age", "price"], source="people.csv")


def test_read_customers_missing_column(spec, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("customer_id,name,price\nc1,Ana,3\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_customers(path, spec)
    assert str(path) in str(info.value)
    assert "missing column(s) age" in str(info.value)
    # without a spec the table is read as is
    assert read_customers(path)[0].data == {"customer_id": "c1", "name": "Ana", "price": "3"}


def test_csv_bom_and_header_whitespace(spec, tmp_path):
    path = tmp_path / "people.csv"
    path.write_bytes("\ufeff customer_id , name ,age,  price\r\nc1,Zoë,30,9.5\r\nc2,D'Andre,41,1\r\n".encode("utf-8"))
    rows = read_customers(path, spec)
    assert [r.number for r in rows] == [1, 2]
    assert list(rows[0].data) == ["customer_id", "name", "age", "price"]
    assert rows[1].data["name"] == "D'Andre"
    assert coerce_row(spec, rows[0].data)["name"] == "Zoë"


def test_parse_csv_numbers_rows_from_one_and_drops_extra_cells():
    columns, rows = parse_csv("a,b\n1,2,3\n4\n", source="t.csv")
    assert columns == ["a", "b"]
    assert rows == [CustomerRow(1, {"a": "1", "b": "2"}), CustomerRow(2, {"a": "4", "b": None})]


def test_csv_without_header(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(DataError) as info:
        read_customers(path)
    assert str(path) in str(info.value) and "no header" in str(info.value)


@pytest.mark.parametrize("wrap", [False, True])
def test_json_list_and_customers_object(spec, tmp_path, wrap):
    rows = [{**GOOD}, {"customer_id": "c2", "name": "Bo", "age": 5, "price": 1.5}]
    path = tmp_path / "people.json"
    path.write_text(json.dumps({"customers": rows} if wrap else rows), encoding="utf-8")
    got = read_customers(path, spec)
    assert [r.number for r in got] == [1, 2]
    assert [dict(r.data) for r in got] == rows
    assert coerce_row(spec, got[1].data)["age"] == 5


@pytest.mark.parametrize(
    "text,needle", [("{bad", "not valid JSON"), ('{"rows": []}', "must be a list"), ('"x"', "must be a list")]
)
def test_bad_json(text, needle):
    with pytest.raises(DataError) as info:
        parse_json(text, source="people.json")
    assert str(info.value).startswith("people.json: ") and needle in str(info.value)


def test_read_customers_missing_file(spec, tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(DataError) as info:
        read_customers(path, spec)
    assert info.value.source == str(path)
    assert str(info.value) == f"{path}: file not found"


def test_iter_valid_reports_each_row(spec, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("customer_id,name,age,price\nc1,Ana,30,1\nc2,,30,1\nc3,Cy,x,1\nc4,Di,4,nan\n")
    results = list(iter_valid(spec, read_customers(path, spec), source=str(path)))
    assert [r.number for r, _, _ in results] == [1, 2, 3, 4]
    (_, ok, no_err), *bad = results
    assert no_err is None and ok["age"] == 30
    assert [(e.row, e.field) for _, d, e in bad if d is None] == [(2, "name"), (3, "age"), (4, "price")]
    assert all(str(path) in str(e) for _, _, e in bad)
