"""The scenes shipped in ``scenes/`` validate against the bundled assets and sample customers."""

from __future__ import annotations

import pytest

from pvideo.jobs.validation import validate_scene
from pvideo.plan.compiler import compile_plan
from pvideo.scene.customers import coerce_row
from pvideo.scene.spec import load_scene
from pvideo.settings import PROJECT_ROOT, Settings

SCENES = sorted((PROJECT_ROOT / "scenes").glob("*.yaml"))
CUSTOMERS = {  # else sample_customers.csv
    "bill": "bill_customers.csv",
    "renewal": "renewal_customers.csv",
    "checkin": "checkin_customers.csv",
}


@pytest.fixture()
def real_settings(tmp_path):
    return Settings(data_dir=tmp_path / "data", assets_dir=PROJECT_ROOT / "assets", secret_key="s" * 40)


@pytest.mark.parametrize("scene", SCENES, ids=[p.stem for p in SCENES])
def test_bundled_scene_validates_with_its_sample_customers(scene, real_settings):
    customers = PROJECT_ROOT / "assets" / CUSTOMERS.get(scene.stem, "sample_customers.csv")
    assert validate_scene(scene, customers, real_settings) == []


def test_offer_badge_is_personal_and_only_for_pro(real_settings):
    spec = load_scene(PROJECT_ROOT / "scenes" / "offer.yaml")
    row = {"customer_id": "C-1", "first_name": "Siobhán", "price": "39.99", "seats": "3"}
    pro = compile_plan(spec, coerce_row(spec, {**row, "plan": "Pro"}), assets_dir=real_settings.assets_dir)
    basic = compile_plan(spec, coerce_row(spec, {**row, "plan": "Basic"}), assets_dir=real_settings.assets_dir)
    assert (
        [o.layer for o in pro.static_overlays]
        == [o.layer for o in basic.static_overlays]
        == ["layer 1 (shape 'panel')"]
    )
    assert {"layer 4 (shape 'pro_badge')", "layer 5 (text 'pro_label')"} <= {o.layer for o in pro.personal_overlays}
    assert not any("pro_" in o.layer for o in basic.overlays)
