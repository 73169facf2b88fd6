"""``python -m bench.queue``: its command line, and a small ingest through ``campaigns.submit`` on Redis."""

from __future__ import annotations

import json

import pytest

from bench import queue

REPORT = {"database": "sqlite", "storage": "file", "ingest": {"rows": 10, "redis_round_trips": 3}}


@pytest.fixture()
def fake_run(monkeypatch):
    calls: list[dict] = []

    def run(settings, **kwargs):
        calls.append({"settings": settings, **kwargs})
        return REPORT

    monkeypatch.setattr(queue, "run", run)
    monkeypatch.setenv("PVIDEO_REDIS_URL", "redis://127.0.0.1:6379/7")
    return calls


def test_needs_redis(fake_run, monkeypatch, capsys):
    monkeypatch.delenv("PVIDEO_REDIS_URL")
    with pytest.raises(SystemExit) as exit_:
        queue.main([])
    assert exit_.value.code == 1
    assert "error: bench.queue measures the Redis queue: set PVIDEO_REDIS_URL" in capsys.readouterr().err
    assert fake_run == []


def test_defaults_and_report(fake_run, capsys):
    queue.main([])
    (call,) = fake_run
    assert (call["rows"], call["renders"], call["scene"]) == (100_000, 20, None)
    assert call["console"] is not None and call["settings"].redis_url == "redis://127.0.0.1:6379/7"
    assert json.loads(capsys.readouterr().out) == REPORT


def test_json(fake_run, capsys, tmp_path):
    queue.main(["--rows", "10", "--renders", "0", "--scene", str(tmp_path / "s.yaml"), "--json"])
    (call,) = fake_run
    assert (call["rows"], call["renders"], call["scene"], call["console"]) == (10, 0, tmp_path / "s.yaml", None)
    out = capsys.readouterr().out
    assert json.loads(out) == REPORT and out == json.dumps(REPORT, indent=2) + "\n"


def test_ingest_stores_and_enqueues_every_row(settings, scenes_dir, redis_url):
    limited = settings.model_copy(update={"redis_url": redis_url, "max_rows": 20})
    report = queue.run(limited, rows=50, renders=0, scene=scenes_dir / "card.yaml")
    ingest = report["ingest"]
    assert ingest["rows"] == 50 and ingest["enqueued"] == 50  # the row limit is raised to the rows asked for
    assert ingest["redis_round_trips"] >= 1
