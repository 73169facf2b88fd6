"""``python -m bench.render``: end to end (slow, minutes: ``pytest -m slow``), its report and its command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench import render
from bench.render import run_bench, summarize
from pvideo.settings import PROJECT_ROOT

RUNS = {
    "b": [{"wall": 8.0, "cpu": 8, "rss_mb": 100, "bytes": 1000, "hls_bytes": 10}] * 3,
    "c": [
        {"wall": 2.0, "cpu": 2, "rss_mb": 90, "bytes": 1000, "hls_bytes": 300},
        {"wall": 4.0, "cpu": 2, "rss_mb": 95, "bytes": 1000, "hls_bytes": 300},
        {"wall": 1.0, "cpu": 2, "rss_mb": 99, "bytes": 1000, "hls_bytes": 300},
    ],
    "e": [{"wall": 1.0, "cpu": 1.6, "rss_mb": 80, "encode_only_cpu": 1.25}] * 3,
}


@pytest.mark.slow
def test_bench_reports_every_approach_and_ratio(tmp_path):
    report = run_bench(customers=1, approaches="abcde", workdir=tmp_path)
    assert set(report["approaches"]) == set("abcde") and report["workload"] == "reference"
    assert {"a/c", "b/c", "c/e cpu", "hls/mp4 bytes"} <= set(report["ratios"])
    assert report["approaches"]["b"]["hls_bytes_per_customer"] is None  # the full engine makes no HLS
    assert report["psnr_c_vs_b_personalized"]["sequence_db"] > 35


def test_bench_summary_computes_ratios_from_medians():
    report = summarize(RUNS, 3, 1.0, None)
    assert report["approaches"]["c"]["median_wall_s"] == 2.0 and report["approaches"]["c"]["peak_rss_mb"] == 99
    assert report["ratios"] == {"b/c": 4.0, "c/e cpu": 1.25, "c/encode-only cpu": 1.6, "hls/mp4 bytes": 0.3}


@pytest.fixture()
def fake_run(monkeypatch):
    """``run_bench`` replaced by the summary of ``RUNS``; returns the keyword arguments it was called with."""
    calls: list[dict] = []

    def run(**kwargs):
        calls.append(kwargs)
        for index in range(2):
            kwargs["progress"]("c", index)
        report = summarize(RUNS, kwargs["customers"], 1.5, {"sequence_db": 41.2, "worst_frame_db": 38.0})
        return {"workload": kwargs["name"], **report}

    monkeypatch.setattr(render, "run_bench", run)
    monkeypatch.setenv("COLUMNS", "200")
    return calls


def test_command_line_defaults_and_table(fake_run, capsys):
    render.main([])
    assert [kwargs["name"] for kwargs in fake_run] == ["reference", "welcome"]  # both workloads, one run
    kwargs = fake_run[0]
    assert (kwargs["customers"], kwargs["approaches"], kwargs["slow_customers"], kwargs["workdir"]) == (
        8,
        "abcde",
        None,
        None,
    )
    out, err = capsys.readouterr()
    assert "python -m bench.render: 8 customers" in out and "(c) pvideo segments (default)" in out
    assert "workload reference" in out and "workload welcome" in out
    assert "ratios: b/c = 4.0, c/e cpu = 1.25, c/encode-only cpu = 1.6, hls/mp4 bytes = 0.3" in out
    assert "reference: (c)/(e) CPU = 1.25" in out and "welcome: (c)/(e) CPU = 1.25" in out
    assert "template ingest (once per template version): 1.5 s" in out
    assert "PSNR (c) vs (b) on personalized frames: 41.2 dB sequence, 38.0 dB worst frame" in out
    assert "[2/80] pvideo segments (default) #2" in err


def test_command_line_json(fake_run, capsys, tmp_path):
    render.main(
        [
            *["--customers", "3", "--approaches", "bc", "--slow-customers", "1", "--workdir", str(tmp_path)],
            *["--workloads", "welcome", "--json"],
        ]
    )
    (kwargs,) = fake_run
    assert (kwargs["customers"], kwargs["approaches"], kwargs["slow_customers"], kwargs["workdir"]) == (
        3,
        "bc",
        1,
        tmp_path,
    )
    out, err = capsys.readouterr()
    report = json.loads(out)["workloads"]["welcome"]
    assert report["customers"] == 3 and report["ratios"] == {
        "b/c": 4.0,
        "c/e cpu": 1.25,
        "c/encode-only cpu": 1.6,
        "hls/mp4 bytes": 0.3,
    }
    assert err == ""  # no progress lines with --json


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--approaches", "bx"], "--approaches takes letters from abcde"),
        (["--approaches", ""], "--approaches takes letters from abcde"),
        (["--workloads", "reference,nope"], "--workloads takes names from reference, welcome"),
        (["--customers", "0"], "0 is not >= 1"),
    ],
)
def test_command_line_refuses_bad_options(fake_run, capsys, args, message):
    with pytest.raises(SystemExit) as exit_:
        render.main(args)
    assert exit_.value.code != 0 and message in capsys.readouterr().err
    assert fake_run == []


def test_runs_as_a_module_from_the_repository_root():
    result = subprocess.run(
        [sys.executable, "-m", "bench.render", "--help"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert "--customers" in result.stdout and "--json" in result.stdout and "--child" not in result.stdout
