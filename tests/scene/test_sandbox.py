"""Scene templates: sandboxed Jinja2, strict about undefined names, output capped."""

from __future__ import annotations

import pytest

from pvideo.errors import DataError, PvideoError, SceneError
from pvideo.scene.sandbox import MAX_OUTPUT_CHARS, render_text

ROW = {"first_name": "Ana", "price": 19.5, "plan": "Plus", "customer_id": 'c 1/"x"&y'}


def test_render_basic():
    assert render_text("Hi {{ first_name }}!", ROW, field="layer 1 text") == "Hi Ana!"
    assert render_text("{{ '%.2f' | format(price) }}", ROW, field="f") == "19.50"
    assert render_text("{{ plan | upper }} {{ first_name.lower() }}", ROW, field="f") == "PLUS ana"


def test_urlencode_filter():
    out = render_text("https://x.example/?c={{ customer_id | urlencode }}", ROW, field="href")
    assert out == "https://x.example/?c=c%201/%22x%22%26y"


def test_no_autoescape():
    assert render_text("{{ v }}", {"v": "<b>&'\""}, field="f") == "<b>&'\""


def test_undefined_name_is_data_error():
    with pytest.raises(DataError) as info:
        render_text("Hi {{ frist_name }}", ROW, field="layer 1 text")
    assert info.value.field == "layer 1 text"
    assert "frist_name" in str(info.value) and "undefined" in str(info.value)


def test_undefined_attribute_is_data_error():
    with pytest.raises(DataError) as info:
        render_text("{{ first_name.nope }}", ROW, field="layer 1 text")
    assert "nope" in str(info.value)


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ first_name.__class__.__mro__ }}",
        "{{ first_name|attr('__class__') }}",
        "{{ ''.__class__.__base__.__subclasses__() }}",
        "{{ '{0.__class__}'.format(first_name) }}",
        "{{ '{0.__init__.__globals__}'.format(first_name) }}",
        "{{ ''.format_map.__self__.__class__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum.__globals__ }}",
        "{{ self.__init__.__globals__ }}",
    ],
)
def test_sandbox_blocks_escapes(source):
    with pytest.raises((SceneError, DataError)) as info:
        render_text(source, ROW, field="layer 2 text")
    # never an object's repr leaking out in the message as if rendered
    assert "<class" not in str(info.value)


def test_sandbox_error_names_field():
    with pytest.raises(SceneError) as info:
        render_text("{{ ''.__class__ }}", ROW, field="layer 2 (text 'hi') text")
    assert str(info.value).startswith("layer 2 (text 'hi') text: ")
    assert "sandbox" in str(info.value)


def test_format_string_escape_never_runs_code(tmp_path):
    marker = tmp_path / "pwned"
    payload = "{{ cycler.__init__.__globals__.os.system('touch " + str(marker) + "') }}"
    with pytest.raises((SceneError, DataError)):
        render_text(payload, ROW, field="f")
    payload2 = "{{ '{0.__init__.__globals__[os].system}'.format(cycler) }}"
    with pytest.raises((SceneError, DataError)):
        render_text(payload2, ROW, field="f")
    assert not marker.exists()


def test_str_format_attribute_does_not_execute():
    # Reading the bound method is allowed by the sandbox; it must not call anything or reveal internals.
    try:
        out = render_text("{{ ''.format }}", ROW, field="f")
    except (SceneError, DataError):
        return
    assert "__" not in out and "globals" not in out


@pytest.mark.parametrize("source", ["{{ d.update({'b': 2}) }}", "{{ l.append(3) }}", "{% do l.append(3) %}"])
def test_row_cannot_be_mutated(source):
    row = {"d": {"a": 1}, "l": [1, 2]}
    with pytest.raises((SceneError, DataError)):
        render_text(source, row, field="f")
    assert row == {"d": {"a": 1}, "l": [1, 2]}


@pytest.mark.parametrize(
    "source",
    [
        "{{ first_name * 1500 }}{{ first_name * 1500 }}{{ first_name * 1500 }}",
        "{% for i in range(20000) %}abc{% endfor %}",
    ],
)
def test_output_capped(source):
    out = render_text(source, ROW, field="f")
    assert len(out) == MAX_OUTPUT_CHARS


def test_long_customer_value_capped():
    out = render_text("Hi {{ v }}", {"v": "x" * 50_000}, field="f")
    assert len(out) == MAX_OUTPUT_CHARS and out.startswith("Hi xxx")


@pytest.mark.parametrize("source", ["{{ first_name ", "{% if %}x{% endif %}", "{{ 'a' ~ }}", "{% for x in %}"])
def test_invalid_syntax_is_scene_error(source):
    with pytest.raises(SceneError) as info:
        render_text(source, ROW, field="f")
    assert "not valid Jinja2" in str(info.value)
    assert repr(source) in str(info.value)


@pytest.mark.parametrize(
    "source,row",
    [
        ("{{ 100 / n }}", {"n": 0}),
        ("{{ name + 1 }}", {"name": "Ana"}),
        ("{{ range(10**9) | list | length }}", {}),
    ],
)
def test_template_runtime_errors_are_pvideo_errors(source, row):
    with pytest.raises(PvideoError):
        render_text(source, row, field="layer 1 text")


@pytest.mark.parametrize(
    "source", ["{{ 'x' * 10**10 }}", "{{ [1] * 10**9 }}", "{{ 10**9 * 'ab' }}", "{{ 3 ** 1000000 }}"]
)
def test_huge_values_are_refused_before_they_are_built(source):
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(SceneError, match="sandbox"):
            render_text(source, {}, field="f")
        assert tracemalloc.get_traced_memory()[1] < 5_000_000
    finally:
        tracemalloc.stop()
