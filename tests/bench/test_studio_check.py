"""``python -m bench.studio_check``: a small run reads the same rows from CSV and XLSX and finds the same bad rows."""

from __future__ import annotations

import json

from bench import studio_check


def test_a_small_run_checks_csv_and_xlsx_alike(tmp_path, capsys):
    for scene in ("welcome", "bill"):
        assert studio_check.main(["--rows", "300", "--scene", scene, "--workdir", str(tmp_path), "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        results = report["results"]
        assert sorted(results) == ["csv", "xlsx"]
        for result in results.values():
            assert (result["rows"], result["good"], result["bad"]) == (300, 297, 3)
            assert result["mapped"] == result["fields"]
            assert result["check_s"] > 0 and result["rows_per_s"] > 0
