"""``python -m bench.events``: its command line (the benchmarks themselves: tests/tracking/test_events_load.py)."""

from __future__ import annotations

import json

import pytest

from bench import events

INGEST = {"seconds": 4.0, "events_per_second": 1500, "statuses": {"200": 12}, "acknowledged_but_lost": 0}
ANALYTICS = {"events": 20000, "median_ms": 12}


@pytest.fixture()
def calls(monkeypatch):
    made: list[tuple[str, str, dict]] = []

    def ingest(url, **kwargs):
        made.append(("ingest", url, kwargs))
        return INGEST

    def analytics(url, **kwargs):
        made.append(("analytics", url, kwargs))
        return ANALYTICS

    monkeypatch.setattr(events, "bench_ingest", ingest)
    monkeypatch.setattr(events, "bench_analytics", analytics)
    monkeypatch.setenv("COLUMNS", "200")
    return made


def test_ingest_defaults_and_table(calls, capsys):
    events.main(["ingest", "--database-url", "postgresql://x/y"])
    assert calls == [
        (
            "ingest",
            "postgresql://x/y",
            {
                "seconds": 60,
                "clients": 50,
                "renders": 2000,
                "workers": 2,
                "access_log": False,
                "batch": 0,
                "rate": 0,
                "batching": events.TRACKER,
            },
        )
    ]
    out = capsys.readouterr().out
    assert "python -m bench.events ingest" in out
    for line in ("events_per_second", "1500", '{"200": 12}', "acknowledged_but_lost"):
        assert line in out


def test_analytics_json(calls, capsys):
    events.main(["analytics", "--database-url", "postgresql://x/y", "--events", "20000", "--json"])
    assert calls == [("analytics", "postgresql://x/y", {"events": 20000})]
    assert json.loads(capsys.readouterr().out) == ANALYTICS
