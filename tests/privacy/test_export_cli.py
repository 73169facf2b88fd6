"""``pvideo customer export``: the same export on the command line, to stdout, a JSON file or a ZIP."""

from __future__ import annotations

import json
import zipfile

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from pvideo.cli import app
from pvideo.db.models import AuditEntry
from tests.conftest import SECRET
from tests.privacy.export_seed import CUSTOMER, EMAIL, OTHER_EMAIL, seed


@pytest.fixture()
def pvideo(settings):
    env = {
        "PVIDEO_DATA_DIR": str(settings.data_dir),
        "PVIDEO_PUBLIC_BASE_URL": "http://testserver",
        "PVIDEO_SECRET_KEY": SECRET,
        "COLUMNS": "2000",
        "NO_COLOR": "1",
    }
    return lambda *args: CliRunner().invoke(app, list(args), env=env)


@pytest.fixture()
def seeded(client, runtime):
    return seed(runtime, client.app.state.pvideo.tokens, video_size=50_000)


def test_export_to_stdout_json_and_zip(pvideo, runtime, seeded, tmp_path):
    printed = pvideo("customer", "export", CUSTOMER)
    assert printed.exit_code == 0, printed.output
    doc = json.loads(printed.stdout)
    assert {r["data"]["email"] for r in doc["renders"]} == {EMAIL} and OTHER_EMAIL not in printed.stdout

    scoped = pvideo(
        "customer", "export", CUSTOMER, "--campaign", seeded.campaigns[1], "--json", str(tmp_path / "c.json")
    )
    assert scoped.exit_code == 0, scoped.output
    assert [r["campaign_id"] for r in json.loads((tmp_path / "c.json").read_text())["renders"]] == [seeded.campaigns[1]]

    zipped = pvideo("customer", "export", CUSTOMER, "--zip", str(tmp_path / "c.zip"))
    assert zipped.exit_code == 0 and "2 renders, 4 events, 14 media files" in zipped.output
    with zipfile.ZipFile(tmp_path / "c.zip") as archive:
        listed = json.loads(archive.read("export.json"))["media"]
        for item in listed:
            assert archive.read(f"media/{item['render_id']}/{item['name']}") == seeded.objects[item["key"]]
    with runtime.db.session() as session:
        actors = session.scalars(select(AuditEntry.actor).where(AuditEntry.action == "customer.export")).all()
    assert len(actors) == 3 and all(a.startswith("cli") for a in actors)


def test_unknown_customer_and_both_outputs_are_errors(pvideo, seeded, tmp_path):
    unknown = pvideo("customer", "export", "nobody")
    assert unknown.exit_code == 1 and "no customer with that id" in unknown.output
    both = pvideo("customer", "export", CUSTOMER, "--zip", str(tmp_path / "a"), "--json", str(tmp_path / "b"))
    assert both.exit_code == 1 and "not both" in both.output and not (tmp_path / "a").exists()
