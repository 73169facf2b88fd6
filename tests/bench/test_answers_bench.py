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
        if kwargs["senders"] == "api":  # the server sending too: slower acknowledgements
            return dict(REPORT, senders="api", quiet=dict(RUN, ack_p99_ms=123.0), rendering=dict(RUN, ack_p99_ms=154.0))
        return dict(REPORT, senders=kwargs["senders"])

    monkeypatch.setattr(answers, "bench_answers", bench)
    return made


def test_defaults_and_the_side_by_side_table(calls, capsys):
    answers.main(["--database-url", "postgresql://x/y"])
    assert calls == [
        (
            "postgresql://x/y",
            {
                "rate": 500.0,
                "seconds": 20.0,
                "workers": 2,
                "clients": 64,
                "quiet_only": False,
                "webhooks": True,
                "senders": "workers",
                "redis_url": "redis://127.0.0.1:6379/14",
            },
        )
    ]
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "500 answers/s offered for 20 s, 2 server processes"
    p99 = next(line for line in lines if line.startswith("ack_p99_ms"))
    assert p99.split()[1:] == ["41.0", "77.0"]


def test_both_sender_layouts_in_one_run_with_their_ratio(calls, capsys):
    answers.main(["--senders", "workers,api"])
    assert [kwargs["senders"] for _, kwargs in calls] == ["workers", "api"]
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split(",")[0].split()[-1] == "workers" and "api, rendering" in lines[1]
    p99 = next(line for line in lines if line.startswith("ack_p99_ms"))
    assert p99.split()[1:] == ["41.0", "77.0", "123.0", "154.0"]
    assert "ack p99, quiet: api / workers = 3.0" in lines
    assert "ack p99, rendering: api / workers = 2.0" in lines


def test_an_unknown_sender_layout_is_refused(calls, capsys):
    with pytest.raises(SystemExit):
        answers.main(["--senders", "everyone"])
    assert "--senders" in capsys.readouterr().err and not calls


def test_json(calls, capsys):
    answers.main(["--json", "--rate", "100", "--quiet-only"])
    assert json.loads(capsys.readouterr().out) == dict(REPORT, senders="workers")
    assert calls[0][1]["rate"] == 100 and calls[0][1]["quiet_only"] is True
