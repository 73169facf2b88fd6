"""``python -m bench.preview``: a tiny run times previews after edits, quiet and beside a campaign, and a sample."""

from __future__ import annotations

import json

from bench import preview


def test_a_tiny_run_reports_latencies_and_a_sample(tmp_path, capsys):
    argv = ["--scene", "bill", "--edits", "2", "--pause", "0", "--samples", "1", "--warmup", "0.5"]
    assert preview.main([*argv, "--workdir", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["scene"] == "bill" and report["quiet"]["at"] == report["campaign"]["at"]
    for run in ("quiet", "campaign"):
        assert report[run]["runs"] == 2
        assert 0 < report[run]["p50_ms"] <= report[run]["p95_ms"] <= report[run]["max_ms"]
        assert report[run]["cpu_ms_p50"] > 0  # the children of the fork server did the work
    assert report["campaign"]["campaign_running"], "the background campaign stopped early"
    sample = report["sample"]
    assert sample["runs"] == 1 and sample["median_s"] > 0 and sample["size"] == "1280x720"
    assert sample["duration_s"] == 9.0
