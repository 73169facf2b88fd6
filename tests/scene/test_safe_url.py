"""Whole URLs from customer data: ``| safe_url`` and ``type: url`` turn an IRI into a valid http(s) link."""

from __future__ import annotations

import copy
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pvideo.errors import DataError
from pvideo.plan.compiler import compile_plan
from pvideo.scene.customers import coerce_row
from pvideo.scene.spec import parse_scene
from pvideo.scene.urls import check_link, normalize_url
from tests.conftest import CARD_SCENE

ISSUE_URL = "https://example.com/offer?c=1&utm=ä b"
ISSUE_URI = "https://example.com/offer?c=1&utm=%C3%A4%20b"


@pytest.mark.parametrize(
    "iri,uri",
    [
        (ISSUE_URL, ISSUE_URI),
        ("https://bücher.example/ä b#teil ö", "https://xn--bcher-kva.example/%C3%A4%20b#teil%20%C3%B6"),
        ("https://example.com/a%20b c?x=%C3%A4&y=100%", "https://example.com/a%20b%20c?x=%C3%A4&y=100%25"),
        ("  https://Example.COM:8443/Path  ", "https://example.com:8443/Path"),
        ("https://example.com/\u00a0nbsp", "https://example.com/%C2%A0nbsp"),
        ("https://[::1]:8080/ü", "https://[::1]:8080/%C3%BC"),
        ("http://例え.テスト/パス", "http://xn--r8jz45g.xn--zckzah/%E3%83%91%E3%82%B9"),
    ],
)
def test_iri_becomes_a_uri(iri, uri):
    assert normalize_url(iri) == uri
    assert check_link(uri) == uri


@pytest.mark.parametrize(
    "bad,reason",
    [
        ("javascript:alert(1)", "scheme 'javascript'"),
        ("example.com/offer", "scheme '(none)'"),
        ("https://exa\u200bmple.com/", "control or invisible"),
        ("https://example.com/\u202egnp.exe", "control or invisible"),
        ("https:///path-only", "no host"),
    ],
)
def test_still_only_http_links(bad, reason):
    with pytest.raises(ValueError, match=re.escape(reason)):
        normalize_url(bad)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_normalizing_is_idempotent_and_never_double_encodes(tail):
    try:
        once = normalize_url("https://example.com/" + tail)
    except ValueError:
        return
    assert once.isascii() and " " not in once
    assert normalize_url(once) == once  # an existing %XX is never encoded again
    assert check_link(once) == once


def test_hint_for_a_bad_href_points_to_safe_url():
    with pytest.raises(ValueError) as info:
        check_link(ISSUE_URL)
    assert "safe_url" in str(info.value) and "type: url" in str(info.value)
    assert "urlencode" not in str(info.value)


def _cta_scene(href: str, field_type: str = "str") -> dict:
    data = copy.deepcopy(CARD_SCENE)
    data["fields"]["offer_url"] = {"type": field_type}
    data["layers"][2]["href"] = href
    return data


def _href(data: dict, row: dict, assets_dir) -> str:
    spec = parse_scene(data)
    plan = compile_plan(spec, coerce_row(spec, row), assets_dir=assets_dir)
    return plan.hotspots[0].href


ROW = {"customer_id": "c1", "first_name": "Ana", "price": "3"}


def test_safe_url_filter_in_a_cta(assets_dir):
    href = _href(_cta_scene("{{ offer_url | safe_url }}"), {**ROW, "offer_url": ISSUE_URL}, assets_dir)
    assert href == ISSUE_URI


def test_url_field_type_in_a_cta(assets_dir):
    href = _href(_cta_scene("{{ offer_url }}", "url"), {**ROW, "offer_url": ISSUE_URL}, assets_dir)
    assert href == ISSUE_URI


def test_url_field_refuses_a_non_http_value_naming_row_and_field():
    spec = parse_scene(_cta_scene("{{ offer_url }}", "url"))
    with pytest.raises(DataError) as info:
        coerce_row(spec, {**ROW, "offer_url": "javascript:alert(1)"}, row=7, source="people.csv")
    msg = str(info.value)
    assert msg.startswith("people.csv, row 7, field 'offer_url': expected an http(s) URL")
    assert "scheme 'javascript'" in msg


def test_url_field_default_is_normalized():
    data = _cta_scene("{{ offer_url }}")
    data["fields"]["offer_url"] = {"type": "url", "default": "https://example.com/ä"}
    assert parse_scene(data).fields["offer_url"].default == "https://example.com/%C3%A4"
