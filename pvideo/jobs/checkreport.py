"""The new-campaign wizard's check step: every row judged as ``campaigns.submit`` will judge it.

A row is bad here exactly when submitting it would make it a failed render: the same
``iter_valid`` (a field missing or mistyped) then the same ``RowCheck`` (a template, link
or asset that would fail its compile), and the same row limit. Nothing is stored.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pvideo.jobs.manifest import spreadsheet_safe
from pvideo.jobs.rowcheck import RowCheck
from pvideo.plan.assets import AssetsDir
from pvideo.plan.compiler import check_assets
from pvideo.scene.customers import CustomerRow, iter_valid, limit_rows
from pvideo.scene.spec import SceneSpec


@dataclass(frozen=True)
class RowProblem:
    """Why one row would fail: its number (from 1, as in the file), the field if one is to blame,
    and the reason without a row or field prefix."""

    row: int
    field: str | None
    message: str


@dataclass
class CheckReport:
    good: int
    bad: int
    problems: list[RowProblem]
    """The first ``max_problems`` problems, in row order; ``truncated`` when there were more."""
    sample: list[dict[str, Any]]
    """The first rows as the scene reads them (typed, defaults filled); a row whose fields do
    not coerce is shown as read."""
    fields: list[str] = field(default_factory=list)
    """The scene's fields, in order: the sample's first columns."""
    truncated: bool = False


def check_rows(
    spec: SceneSpec,
    rows: Iterable[CustomerRow],
    *,
    assets_dir: AssetsDir,
    source: str,
    sample_size: int = 10,
    max_problems: int = 10_000,
    max_rows: int | None = None,
) -> CheckReport:
    """Read every row once and report good and bad counts, the problems and a sample.

    A scene missing an asset raises ``AssetError`` and a table over ``max_rows`` rows raises
    ``DataError``, as ``campaigns.submit`` does; so does a problem with the file itself met
    while reading (a cell over the size limit, text that does not decode).
    """
    check_assets(spec, assets_dir)
    if max_rows is not None:
        rows = limit_rows(rows, max_rows, source=source)
    report = CheckReport(good=0, bad=0, problems=[], sample=[], fields=list(spec.fields))
    check = RowCheck(spec, assets_dir)
    for row, data, error in iter_valid(spec, rows, source=source):
        if data is not None and error is None:
            error = check.problem(data, number=row.number, source=source)
        if len(report.sample) < sample_size:
            report.sample.append(dict(data if data is not None else row.data))
        if error is None:
            report.good += 1
            continue
        report.bad += 1
        if len(report.problems) < max_problems:
            report.problems.append(RowProblem(row.number, error.field, error.reason))
        else:
            report.truncated = True
    return report


def problems_csv(report: CheckReport) -> str:
    """The problems as CSV (``row,field,message``), safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["row", "field", "message"])
    for problem in report.problems:
        writer.writerow([problem.row, spreadsheet_safe(problem.field or ""), spreadsheet_safe(problem.message)])
    return out.getvalue()
