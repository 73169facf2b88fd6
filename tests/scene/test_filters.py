"""Data filters (money, number, date, plural) on their own and inside the scene sandbox."""

from __future__ import annotations

import pytest

from pvideo.errors import DataError
from pvideo.scene import filters
from pvideo.scene.sandbox import render_text


@pytest.mark.parametrize(
    "source, row, expected",
    [
        ("{{ p | money }}", {"p": 1234.5}, "$1,234.50"),
        ("{{ p | money('EUR', 'de_DE') }}", {"p": 1234.5}, "1.234,50\xa0€"),
        ("{{ p | money('GBP', locale='en_GB') }}", {"p": "9"}, "£9.00"),
        ("{{ n | number }}", {"n": 1234567}, "1,234,567"),
        ("{{ n | number(2) }}", {"n": 3.14159}, "3.14"),
        ("{{ n | number(1, 'fr_FR') }}", {"n": 12345.67}, "12\u202f345,7"),
        ("{{ d | date }}", {"d": "2026-03-31"}, "Mar 31, 2026"),
        ("{{ d | date('d MMMM y', 'fr_FR') }}", {"d": "2026-03-31"}, "31 mars 2026"),
        ("{{ d | date('long') }}", {"d": "2026-03-31T10:00:00"}, "March 31, 2026"),
        ("{{ n }} {{ n | plural('seat', 'seats') }}", {"n": 1}, "1 seat"),
        ("{{ n }} {{ n | plural('seat', 'seats') }}", {"n": 3}, "3 seats"),
        ("{{ n }} {{ n | plural('seat', 'seats') }}", {"n": 0}, "0 seats"),
    ],
)
def test_filters_in_templates(source, row, expected):
    assert render_text(source, row, field="layer 1 text") == expected


@pytest.mark.parametrize(
    "source, row, message",
    [
        ("{{ p | money }}", {"p": "lots"}, "expected a number"),
        ("{{ p | money('XYZ1') }}", {"p": 1}, "XYZ1"),
        ("{{ p | money('USD', 'xx_YY') }}", {"p": 1}, "xx_YY"),
        ("{{ d | date }}", {"d": "31/03/2026"}, "expected a date"),
        ("{{ n | number(-1) }}", {"n": 1}, "decimals"),
        ("{{ n | money }}", {"n": float("nan")}, "finite"),
    ],
)
def test_bad_values_are_data_errors_naming_the_field(source, row, message):
    with pytest.raises(DataError) as info:
        render_text(source, row, field="layer 2 text")
    assert info.value.field == "layer 2 text" and message in info.value.reason


def test_filters_are_plain_functions():
    assert filters.money(5) == "$5.00" and filters.plural(1, "a", "b") == "a"
    assert set(filters.FILTERS) == {"money", "number", "date", "plural", "safe_url"}
