"""``pvideo bench`` end to end. Slow (minutes): left out of the default run; ``pytest -m slow``."""

from __future__ import annotations

import pytest

from bench.render import run_bench


@pytest.mark.slow
def test_bench_reports_every_approach_and_ratio(tmp_path):
    report = run_bench(customers=1, approaches="abcd", workdir=tmp_path)
    assert set(report["approaches"]) == set("abcd")
    assert {"a/c", "b/c", "hls/mp4 bytes"} <= set(report["ratios"])
    assert report["approaches"]["b"]["hls_bytes_per_customer"] is None  # the full engine makes no HLS
    assert report["psnr_c_vs_b_personalized"]["sequence_db"] > 35


def test_bench_summary_computes_ratios_from_medians():
    from bench.render import summarize

    runs = {
        "b": [{"wall": 8.0, "cpu": 8, "rss_mb": 100, "bytes": 1000, "hls_bytes": 10}] * 3,
        "c": [
            {"wall": 2.0, "cpu": 2, "rss_mb": 90, "bytes": 1000, "hls_bytes": 300},
            {"wall": 4.0, "cpu": 2, "rss_mb": 95, "bytes": 1000, "hls_bytes": 300},
            {"wall": 1.0, "cpu": 2, "rss_mb": 99, "bytes": 1000, "hls_bytes": 300},
        ],
    }
    report = summarize(runs, 3, 1.0, None)
    assert report["approaches"]["c"]["median_wall_s"] == 2.0 and report["approaches"]["c"]["peak_rss_mb"] == 99
    assert report["ratios"] == {"b/c": 4.0, "hls/mp4 bytes": 0.3}
