"""``pvideo campaign submit`` holds to PVIDEO_MAX_ROWS as the API does: a clear error, nothing stored."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pvideo.cli import app
from pvideo.db.engine import Database
from pvideo.db.models import Campaign, Render
from pvideo.jobs.campaigns import INSERT_BATCH

MAX_ROWS = INSERT_BATCH + 10  # past one stored batch: the refusal comes after renders were written


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cli.sqlite'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture()
def run(settings, database_url, monkeypatch):
    for key, value in {
        "PVIDEO_DATA_DIR": settings.data_dir,
        "PVIDEO_ASSETS_DIR": settings.assets_dir,
        "PVIDEO_SCENES_DIR": settings.scenes_dir,
        "PVIDEO_SECRET_KEY": settings.secret_key,
        "PVIDEO_DATABASE_URL": database_url,
        "PVIDEO_MAX_ROWS": MAX_ROWS,
        "PVIDEO_LOG_FORMAT": "text",
        "COLUMNS": 2000,
    }.items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.delenv("PVIDEO_REDIS_URL", raising=False)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def _stored(database_url: str) -> tuple[int, int]:
    db = Database(database_url)
    db.create_schema()
    try:
        with db.session() as session:
            return session.query(Campaign).count(), session.query(Render).count()
    finally:
        db.dispose()


def _people(n: int) -> list[dict[str, str]]:
    # no first_name: every row is rejected at submission, so an accepted campaign needs no render
    return [{"customer_id": f"c{i}", "price": "1"} for i in range(1, n + 1)]


def _write(path, rows: list[dict[str, str]]) -> None:
    if path.suffix == ".json":
        path.write_text(json.dumps(rows))
    else:
        path.write_text("customer_id,first_name,price\n" + "".join(f"{r['customer_id']},,1\n" for r in rows))


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_submit_over_max_rows_fails_cleanly_and_stores_nothing(run, database_url, scenes_dir, tmp_path, suffix):
    before = _stored(database_url)
    people = tmp_path / f"people{suffix}"
    _write(people, _people(MAX_ROWS + 1))
    result = run("campaign", "submit", scenes_dir / "card.yaml", people, "--name", "too-many")
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    # the API's answer for an upload over the limit (422), with the file named the same way
    assert result.stderr.strip() == f"error: {people}: more than {MAX_ROWS} rows (PVIDEO_MAX_ROWS); split the campaign"
    assert result.stdout == ""
    assert _stored(database_url) == before  # neither the campaign nor the renders stored before the refusal


def test_submit_at_max_rows_is_accepted(run, database_url, scenes_dir, tmp_path):
    before_campaigns, before_renders = _stored(database_url)
    people = tmp_path / "people.csv"
    _write(people, _people(MAX_ROWS))
    result = run("campaign", "submit", scenes_dir / "card.yaml", people)
    assert result.exit_code == 0, result.output
    assert f"... {MAX_ROWS} rows rejected in all (see the manifest)" in result.stderr
    assert len(result.stdout.strip().splitlines()[-1]) == 32  # the campaign id
    assert _stored(database_url) == (before_campaigns + 1, before_renders + MAX_ROWS)
