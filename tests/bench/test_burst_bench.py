"""``python -m bench.burst``: its command line, report and table (the benchmark itself needs a quiet machine)."""

from __future__ import annotations

import json

import pytest

from bench import burst

REPORT = {
    "workload": "reference",
    "viewers": 20,
    "spread_seconds": 1.0,
    "eager_rows": 40,
    "worker_threads": 2,
    "cpus": 2,
    "load_average_before": [1.5, 1.2, 1.0],
    "load_average_after": [3.1, 1.8, 1.2],
    "video_seconds": 30.0,
    "first_part_p50_seconds": 0.91,
    "first_part_p95_seconds": 1.62,
    "first_part_max_seconds": 1.7,
    "zero_stall_viewers": 19,
    "stall_total_seconds": 0.4,
    "stall_max_seconds": 0.4,
    "stalls": [[]] * 19 + [[0.4]],
    "retries": [[]] * 20,
    "eager_done_before_burst": 3,
    "eager_seconds_before_burst": 9.5,
    "eager_done_during_burst": 2,
    "burst_seconds": 14.2,
    "meets_targets": {"first_part_p95": True, "zero_stall": True, "eager_progresses": True},
}


@pytest.fixture()
def calls(monkeypatch):
    made: list[dict] = []

    def bench(**kwargs):
        made.append(kwargs)
        return REPORT

    monkeypatch.setattr(burst, "bench_burst", bench)
    return made


def test_defaults_and_the_table(calls, capsys):
    burst.main([])
    assert calls == [{"viewers": 20, "eager": 40, "workload": "reference", "spread": 1.0, "worker_threads": 2}]
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "20 viewers within 1 s, eager campaign of 40 rows (reference, 2 worker threads, 2 CPUs)"
    assert lines[1] == "load average before [1.5, 1.2, 1.0], after [3.1, 1.8, 1.2]"
    assert lines[2].split()[4:10] == ["p50", "0.91", "s", "p95", "1.62", "s"] and lines[2].endswith("yes)")
    assert lines[3].startswith("viewers with 0 s stall 19 of 20") and "(target >= 18: yes)" in lines[3]
    assert lines[4] == "eager rows done: 3 in the 9.5 s before, 2 during the 14.2 s burst (progresses: yes)"


def test_options_and_json(calls, capsys):
    burst.main(["--json", "--viewers", "5", "--eager", "8", "--workload", "welcome", "--spread", "0.5"])
    assert calls == [{"viewers": 5, "eager": 8, "workload": "welcome", "spread": 0.5, "worker_threads": 2}]
    assert json.loads(capsys.readouterr().out) == REPORT


def test_a_missed_target_is_flagged(calls, capsys):
    report = dict(REPORT, zero_stall_viewers=12, meets_targets=dict(REPORT["meets_targets"], zero_stall=False))
    assert burst.table(report)[3].endswith("(target >= 18: NO)")


@pytest.mark.parametrize("argv", [["--viewers", "0"], ["--workload", "nowhere"]])
def test_bad_options_are_refused(calls, capsys, argv):
    with pytest.raises(SystemExit):
        burst.main(argv)
    assert not calls and capsys.readouterr().err


def test_percentile_is_the_nearest_rank():
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert burst.percentile(values, 0.95) == 19.0 and burst.percentile(values, 0.5) == 10.0
    assert burst.percentile([3.0], 0.95) == 3.0
