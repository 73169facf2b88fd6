"""Columns of a customer file matched to a scene's fields: by name, checked, applied to the rows."""

from __future__ import annotations

import pytest

from pvideo.scene.customers import CustomerRow, coerce_row
from pvideo.scene.mapping import auto_mapping, mapped_rows, mapping_problems, normalize_name
from pvideo.scene.spec import parse_scene
from tests.conftest import CARD_SCENE

FIELDS = ["customer_id", "first_name", "plan", "price", "email"]


@pytest.fixture()
def spec():
    return parse_scene(CARD_SCENE)  # customer_id, first_name, price required; plan defaults to Basic


@pytest.mark.parametrize(
    "name,expected",
    [
        ("First Name", "firstname"),
        ("first_name", "firstname"),
        ("FIRST-NAME", "firstname"),
        ("Pr\u00e9nom", "prenom"),
        ("E-mail", "email"),
        ("e.mail", "email"),
        ("Stra\u00dfe", "strasse"),
        ("Customer ID", "customerid"),
    ],
)
def test_normalize_name(name, expected):
    assert normalize_name(name) == expected


def test_auto_mapping_matches_names_synonyms_and_leaves_the_rest_unmapped():
    columns = ["ID", "Given name", "PRICE", "E-mail", "Notes"]
    assert auto_mapping(FIELDS, columns) == {
        "customer_id": "ID",
        "first_name": "Given name",
        "plan": None,
        "price": "PRICE",
        "email": "E-mail",
    }
    assert auto_mapping(["first_name"], ["Pr\u00e9nom"]) == {"first_name": "Pr\u00e9nom"}


def test_exact_names_win_and_each_column_is_used_once():
    mapping = auto_mapping(["first_name", "name"], ["First Name", "first_name", "Full name"])
    assert mapping == {"first_name": "first_name", "name": "Full name"}
    assert auto_mapping(["email", "mail"], ["E-mail"]) == {"email": "E-mail", "mail": None}


def test_a_remembered_column_wins_when_the_file_has_it():
    columns = ["customer_id", "Given name", "Nickname"]
    assert auto_mapping(FIELDS[:2], columns, {"first_name": "Nickname"})["first_name"] == "Nickname"
    assert auto_mapping(FIELDS[:2], columns, {"first_name": "Gone"})["first_name"] == "Given name"


def test_mapping_problems_name_the_field(spec):
    columns = ["ID", "Name", "Price"]
    good = {"customer_id": "ID", "first_name": "Name", "plan": None, "price": "Price"}
    assert mapping_problems(spec, columns, good) == []
    problems = mapping_problems(spec, columns, {"customer_id": "ID", "first_name": "ID", "price": "Cost", "nope": None})
    assert problems == [
        "field 'first_name': column 'ID' is already used for field 'customer_id'",
        "field 'price': column 'Cost' is not in the file",
        "field 'nope' is not a field of scene 'card'",
    ]
    assert mapping_problems(spec, columns, {"customer_id": "ID", "price": "Price"}) == [
        "field 'first_name' is required: choose the column that holds it"
    ]


def test_mapped_rows_rename_columns_and_leave_unmapped_fields_to_their_defaults(spec):
    rows = [CustomerRow(1, {"ID": "c1", "Name": "Ana", "Price": "2.5", "plan": "Gold", "Notes": "vip"})]
    mapping = {"customer_id": "ID", "first_name": "Name", "plan": None, "price": "Price"}
    [row] = mapped_rows(rows, mapping)
    assert row.number == 1
    assert row.data == {"customer_id": "c1", "first_name": "Ana", "price": "2.5", "Notes": "vip"}
    assert coerce_row(spec, row.data)["plan"] == "Basic"  # the file's "plan" column was not chosen
    [swapped] = mapped_rows([CustomerRow(2, {"a": "x", "b": "y"})], {"a": "b", "b": "a"})
    assert swapped.data == {"a": "y", "b": "x"}
