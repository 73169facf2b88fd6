"""A made-up customer row, for checking a scene before any data exists.

``pvideo validate SCENE`` (no ``--data``) compiles the scene over ``sample_row``:
each declared field gets a value of its type that passes its own checks (a
``url`` field gets an https link). A CTA whose templated ``href`` still does
not render to an http(s) link with that row, but does when the text fields
hold a link (a ``str`` field holding a whole URL), depends on real values:
validation cannot judge it without data, so it says so
(``data_dependent_hrefs``) instead of reporting a false problem. A calendar interaction's
``href`` is judged the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pvideo.errors import PermanentError
from pvideo.scene.interactions import CalendarInteraction
from pvideo.scene.layers import CtaLayer
from pvideo.scene.sandbox import render_text
from pvideo.scene.spec import FieldSpec, SceneSpec
from pvideo.scene.urls import check_link

SAMPLE_LINK = "https://example.com/sample"
_SAMPLES: dict[str, object] = {
    "str": "Sample",
    "int": 1,
    "float": 1.0,
    "bool": True,
    "date": "2026-01-01",
    "url": SAMPLE_LINK,
}


def sample_value(field: FieldSpec) -> object:
    """The field's default, else a value of its type."""
    return field.default if field.default is not None else _SAMPLES[field.type]


def sample_row(spec: SceneSpec) -> dict[str, object]:
    """A made-up row with every declared field (defaults where given)."""
    return {name: sample_value(f) for name, f in spec.fields.items()}


def data_dependent_hrefs(spec: SceneSpec, row: Mapping[str, Any]) -> list[tuple[int, CtaLayer]]:
    """CTA layers (numbered from 1) whose templated ``href`` is no http(s) link over ``row`` but is
    one when the text fields hold a link: whether it works depends on the data. An ``href`` that
    fails either way (``javascript:{{ x }}``) is not listed: it is a problem for every row."""
    linked = {**row, **{name: SAMPLE_LINK for name, f in spec.fields.items() if f.type == "str"}}
    found = []
    for number, layer in enumerate(spec.layers, start=1):
        if not isinstance(layer, CtaLayer) or ("{{" not in layer.href and "{%" not in layer.href):
            continue
        if not _is_link(layer.href, row) and _is_link(layer.href, linked):
            found.append((number, layer))
    return found


def _is_link(href: str, row: Mapping[str, Any]) -> bool:
    try:
        check_link(render_text(href, row, field="href"))
    except (ValueError, PermanentError):  # a template error too: reported where it is compiled
        return False
    return True


def with_sample_links(spec: SceneSpec, row: Mapping[str, Any]) -> SceneSpec:
    """``spec`` with each data-dependent ``href`` replaced by a sample link, so the rest of those
    CTA layers (label, font, box) and calendar interactions is still checked over the sample row."""
    hrefs = {number for number, _ in data_dependent_hrefs(spec, row)}
    linked = {**row, **{name: SAMPLE_LINK for name, f in spec.fields.items() if f.type == "str"}}
    calendars = {
        item.id
        for item in spec.interactions
        if isinstance(item, CalendarInteraction)
        and "{" in item.href
        and not _is_link(item.href, row)
        and _is_link(item.href, linked)
    }
    if not hrefs and not calendars:
        return spec
    layers = [
        layer.model_copy(update={"href": SAMPLE_LINK}) if number in hrefs else layer
        for number, layer in enumerate(spec.layers, start=1)
    ]
    interactions = [
        item.model_copy(update={"href": SAMPLE_LINK}) if item.id in calendars else item for item in spec.interactions
    ]
    return spec.model_copy(update={"layers": layers, "interactions": interactions})
