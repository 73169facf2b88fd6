"""``pvideo validate SCENE`` without data: templated CTA links are checked with a sample that passes,
or named as needing data, never reported as a false problem."""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from typer.testing import CliRunner

from pvideo.cli import app
from pvideo.scene.samples import SAMPLE_LINK, data_dependent_hrefs, sample_row
from pvideo.scene.spec import parse_scene
from tests.conftest import CARD_SCENE

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@pytest.fixture()
def validate(tmp_path, assets_dir, scenes_dir):
    def run(data: dict):
        scene = tmp_path / "offer.yaml"
        scene.write_text(yaml.safe_dump(data, sort_keys=False))
        env = {"PVIDEO_ASSETS_DIR": str(assets_dir), "PVIDEO_SCENES_DIR": str(scenes_dir), "COLUMNS": "2000"}
        result = CliRunner().invoke(app, ["validate", str(scene)], env=env)
        return result.exit_code, _ANSI.sub("", result.stdout), _ANSI.sub("", result.stderr)

    return run


def _scene(href: str, field_type: str = "str") -> dict:
    data = copy.deepcopy(CARD_SCENE)
    data["fields"]["offer_url"] = {"type": field_type}
    data["layers"][2]["href"] = href
    return data


def test_str_field_href_is_named_as_needing_data_not_a_problem(validate):
    code, out, err = validate(_scene("{{ offer_url }}"))
    assert code == 0, err
    assert "link scheme" not in out + err
    assert "note: layer 3 (cta 'buy') href '{{ offer_url }}' depends on the data; check it with --data" in out


@pytest.mark.parametrize("href", ["{{ offer_url }}", "{{ offer_url }}&src=video"])
def test_url_field_href_passes_with_its_sample(validate, href):
    code, out, err = validate(_scene(href, "url"))
    assert code == 0, err
    assert "ok:" in out and "note:" not in out


def test_safe_url_filter_href_is_named_as_needing_data(validate):
    code, out, err = validate(_scene("{{ offer_url | safe_url }}"))
    assert code == 0, err
    assert "href '{{ offer_url | safe_url }}' depends on the data" in out


def test_href_bad_for_every_row_is_still_a_problem(validate):
    code, _, err = validate(_scene("javascript:alert('{{ offer_url }}')"))
    assert code == 1
    assert "layer 3 (cta 'buy')" in err and "scheme 'javascript'" in err


def test_static_bad_href_is_still_a_problem(validate):
    code, _, err = validate(_scene("ftp://files.example/offer"))
    assert code == 1 and "scheme 'ftp'" in err


def test_samples_by_field_type():
    data = copy.deepcopy(CARD_SCENE)
    data["fields"].update(
        when={"type": "date"}, n={"type": "int"}, ok={"type": "bool"}, link={"type": "url"}, dflt={"default": "x"}
    )
    row = sample_row(parse_scene(data))
    assert row["link"] == SAMPLE_LINK and row["when"] == "2026-01-01" and row["n"] == 1 and row["ok"] is True
    assert row["dflt"] == "x" and row["first_name"] == "Sample"


def test_card_scene_hrefs_need_no_data():
    spec = parse_scene(CARD_SCENE)
    assert data_dependent_hrefs(spec, sample_row(spec)) == []
