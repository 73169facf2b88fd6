"""``python -m bench.answers``: its command line and table (the benchmark itself needs a quiet machine)."""

from __future__ import annotations

import json

import pytest

from bench import answers

RUN = {"answers_per_second": 500, "ack_p99_ms": 41.0, "delivery_p95_ms": 380.0, "delivered": "10000 of 10000"}
REPORT = {"rate": 500.0, "seconds": 20.0, "server_workers": 2, "quiet": RUN, "rendering": dict(RUN, ack_p99_ms=77.0)}


@pytest.fixture()
def calls(monkeypatch):
    made: list[tuple[str, dict]] = []

    def bench(url, **kwargs):
        made.append((url, kwargs))
        return REPORT

    monkeypatch.setattr(answers, "bench_answers", bench)
    return made


def test_defaults_and_the_side_by_side_table(calls, capsys):
    answers.main(["--database-url", "postgresql://x/y"])
    assert calls == [
        (
            "postgresql://x/y",
            {"rate": 500.0, "seconds": 20.0, "workers": 2, "clients": 64, "quiet_only": False, "webhooks": True},
        )
    ]
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "500 answers/s offered for 20 s, 2 server processes"
    p99 = next(line for line in lines if line.startswith("ack_p99_ms"))
    assert p99.split()[1:] == ["41.0", "77.0"]


def test_json(calls, capsys):
    answers.main(["--json", "--rate", "100", "--quiet-only"])
    assert json.loads(capsys.readouterr().out) == REPORT
    assert calls[0][1]["rate"] == 100 and calls[0][1]["quiet_only"] is True
