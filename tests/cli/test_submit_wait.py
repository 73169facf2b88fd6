"""``pvideo campaign submit --wait``: rows bound to fail are rejected up front, and a run
with any failed row exits 3 (``ROWS_FAILED_EXIT``), so a script can tell."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from pvideo.cli import app
from pvideo.cli.submission import ROWS_FAILED_EXIT
from tests.jobs.test_submit_rowcheck import LINK_SCENE


@pytest.fixture()
def run(settings, tmp_path, monkeypatch):
    for key, value in {
        "PVIDEO_DATA_DIR": settings.data_dir,
        "PVIDEO_ASSETS_DIR": settings.assets_dir,
        "PVIDEO_SCENES_DIR": settings.scenes_dir,
        "PVIDEO_SECRET_KEY": settings.secret_key,
        "PVIDEO_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite'}",
        "PVIDEO_X264_PRESET": "ultrafast",
        "PVIDEO_LOG_FORMAT": "text",
        "COLUMNS": 2000,
        "NO_COLOR": 1,
    }.items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.delenv("PVIDEO_REDIS_URL", raising=False)  # renders here, in-process
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


@pytest.fixture()
def scene(tmp_path):
    path = tmp_path / "linkcard.yaml"
    path.write_text(yaml.safe_dump(LINK_SCENE, sort_keys=False))
    return path


def test_wait_exits_3_when_a_row_failed_and_names_it(run, scene, tmp_path):
    people = tmp_path / "people.csv"
    people.write_text(
        "customer_id,first_name,offer_url\nc1,Ana,https://shop.example/o?c=1\nc2,Bo,ftp://shop.example/o\n"
    )
    result = run("campaign", "submit", scene, people, "--wait")
    assert result.exit_code == ROWS_FAILED_EXIT == 3, result.output
    assert "Traceback" not in result.output
    assert (
        f"rejected {people}, row 2, field 'href': layer 2 (cta 'buy') href 'ftp://shop.example/o':"
        " link scheme 'ftp' is not allowed" in result.stderr
    )
    campaign_id = result.stdout.strip().splitlines()[-1]
    assert len(campaign_id) == 32  # still printed: the campaign exists and its good row rendered
    assert f"error: 1 of 2 rows failed (pvideo campaign manifest {campaign_id})" in result.stderr
    status = run("campaign", "status", campaign_id)
    assert "done 1" in status.stdout and "failed 1" in status.stdout


def test_wait_exits_0_when_every_row_rendered(run, scene, tmp_path):
    people = tmp_path / "people.csv"
    people.write_text("customer_id,first_name,offer_url\nc1,Ana,https://shop.example/o?c=1\n")
    result = run("campaign", "submit", scene, people, "--wait")
    assert result.exit_code == 0, result.output
    assert "rejected" not in result.stderr and "failed (" not in result.stderr
