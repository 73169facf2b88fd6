"""``pvideo scene push / pull / versions`` on the app's database; the API's submissions pin the
latest version; ``pvideo demo`` seeds the bundled scenes once."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import func, select
from typer.testing import CliRunner

from pvideo.cli import app
from pvideo.cli.demo import seed_scenes
from pvideo.db.models import Campaign, SceneVersion
from pvideo.jobs import scenelibrary as library
from pvideo.settings import PROJECT_ROOT
from tests.conftest import API_KEY, CARD_SCENE, SECRET

CARD_TEXT = "# pushed from a file\n" + yaml.safe_dump(CARD_SCENE, sort_keys=False) + "# the end\n"


@pytest.fixture()
def pvideo(settings):
    """``pvideo ...`` on the test app's database."""
    runner = CliRunner()
    env = {
        "PVIDEO_DATA_DIR": str(settings.data_dir),
        "PVIDEO_SECRET_KEY": SECRET,
        "COLUMNS": "2000",
        "NO_COLOR": "1",
    }

    def invoke(*args: str):
        return runner.invoke(app, list(args), env=env)

    return invoke


def test_push_pull_and_versions(pvideo, tmp_path, runtime):
    scene = tmp_path / "promo.yaml"
    scene.write_bytes(CARD_TEXT.replace("\n", "\r\n").encode())  # CRLF, comments: kept byte for byte
    pushed = pvideo("scene", "push", str(scene), "--note", "first cut")
    assert pushed.exit_code == 0, pushed.output
    assert pushed.stdout.strip() == "promo v1"
    again = pvideo("scene", "push", str(scene))
    assert again.exit_code == 0 and again.stdout.strip() == "promo v1 (unchanged)"

    edited = tmp_path / "edited.yaml"
    edited.write_text(CARD_TEXT.replace("Hi {{ first_name }}!", "Hello {{ first_name }}!"))
    second = pvideo("scene", "push", str(edited), "--name", "promo", "--author", "mia@example.com")
    assert second.exit_code == 0 and second.stdout.strip() == "promo v2"

    out = tmp_path / "out" / "v1.yaml"
    pulled = pvideo("scene", "pull", "promo", "--version", "1", "-o", str(out))
    assert pulled.exit_code == 0, pulled.output
    assert out.read_bytes() == scene.read_bytes()
    latest = pvideo("scene", "pull", "promo")
    assert latest.exit_code == 0 and latest.stdout_bytes == edited.read_bytes()

    listed = pvideo("scene", "versions", "promo")
    assert listed.exit_code == 0
    lines = listed.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["v2", "v1"]
    assert "mia@example.com" in lines[0] and "first cut" in lines[1] and "cli" in lines[1]
    with runtime.db.session() as session:
        assert [v.number for v in library.versions_of(session, "promo")] == [2, 1]


def test_push_refuses_what_does_not_load(pvideo, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump({**CARD_SCENE, "layers": [{"type": "txet"}]}))
    refused = pvideo("scene", "push", str(broken))
    assert refused.exit_code == 1
    assert "broken.yaml" in refused.stderr and "did you mean 'text'" in refused.stderr
    missing = pvideo("scene", "pull", "broken")
    assert missing.exit_code == 1 and "no scene 'broken'" in missing.stderr
    bad_name = pvideo("scene", "push", str(broken), "--name", "../x")
    assert bad_name.exit_code == 1 and "letters, digits" in bad_name.stderr
    not_utf8 = tmp_path / "latin.yaml"
    not_utf8.write_bytes("name: Caf\xe9\n".encode("latin-1"))
    assert "not UTF-8" in pvideo("scene", "push", str(not_utf8)).stderr


def test_the_api_submits_on_the_latest_version(pvideo, client, runtime, tmp_path):
    headers = {"X-API-Key": API_KEY}
    body = {
        "scene": "card",
        "render": "on_demand",
        "rows": [{"customer_id": "c1", "first_name": "Ann", "price": 9.5}],
    }
    on_file = client.post("/api/campaigns", json=body, headers=headers)
    assert on_file.status_code in (200, 201, 202), on_file.text
    scene = tmp_path / "card.yaml"
    scene.write_text(yaml.safe_dump({**CARD_SCENE, "name": "Card from the library"}, sort_keys=False))
    assert pvideo("scene", "push", str(scene)).exit_code == 0
    on_version = client.post("/api/campaigns", json=body, headers=headers)
    assert on_version.status_code in (200, 201, 202), on_version.text
    with runtime.db.session() as session:
        first = session.get(Campaign, on_file.json()["id"])
        second = session.get(Campaign, on_version.json()["id"])
        version = library.get_version(session, "card", 1)
        assert first.scene_version_id is None and first.scene["name"] == "card"
        assert second.scene_version_id == version.id and second.scene["name"] == "Card from the library"
        library.archive_scene(session, "card", author="tests", scenes_dir=runtime.settings.scenes_dir)
    archived = client.post("/api/campaigns", json=body, headers=headers)
    assert archived.status_code == 404 and "archived" in archived.json()["detail"]


def test_demo_seeds_the_bundled_scenes_once(settings, tmp_path):
    from pvideo.runtime import Runtime

    runtime = Runtime.from_settings(settings.model_copy(update={"scenes_dir": PROJECT_ROOT / "scenes"}))
    try:
        bundled = sorted(p.stem for p in (PROJECT_ROOT / "scenes").glob("*.yaml"))
        first = seed_scenes(runtime)
        assert sorted(first) == bundled
        assert seed_scenes(runtime) == first  # a second run: the same versions, none added
        with runtime.db.session() as session:
            assert session.scalar(select(func.count()).select_from(SceneVersion)) == len(bundled)
            welcome = library.get_version(session, "welcome")
        assert welcome.yaml_text.encode() == (PROJECT_ROOT / "scenes" / "welcome.yaml").read_bytes()
    finally:
        runtime.db.dispose()
