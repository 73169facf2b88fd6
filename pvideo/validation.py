"""``pvideo validate``: every problem in a scene and its customers, without rendering."""

from __future__ import annotations

from pathlib import Path

from pvideo.customers import iter_valid, read_customers
from pvideo.errors import DataError, PvideoError
from pvideo.plan import check_assets, compile
from pvideo.settings import Settings
from pvideo.spec import load_scene


def validate_scene(scene: Path, customers: Path | None, settings: Settings) -> list[str]:
    """Problems as lines naming file, row and field; empty when all is well."""
    try:
        spec = load_scene(scene)
    except PvideoError as exc:
        return [str(exc)]
    if customers is None:
        sample = sample_row(spec)
        try:
            compile(spec, sample, assets_dir=settings.assets_dir)
        except PvideoError as exc:
            return [f"{scene}: {exc}"]
        return []
    try:
        rows = read_customers(customers, spec)
    except PvideoError as exc:
        return [str(exc)]
    problems = []
    try:
        check_assets(spec, settings.assets_dir)  # a missing font or file is reported once, not per row
        assets_ok = True
    except PvideoError as exc:
        problems.append(f"{scene}: {exc}")
        assets_ok = False
    for row, data, error in iter_valid(spec, rows, source=str(customers)):
        if error is None and assets_ok:
            try:
                compile(spec, data, assets_dir=settings.assets_dir, row_number=row.number)
            except PvideoError as exc:
                error = exc
        if isinstance(error, DataError):
            problems.append(str(DataError(error.reason, row=row.number, field=error.field, source=str(customers))))
        elif error is not None:
            problems.append(f"{customers}, row {row.number}: {error}")
    return problems


def sample_row(spec) -> dict[str, object]:
    """A made-up row with every declared field (defaults where given)."""
    return {name: f.default if f.default is not None else _sample(f.type) for name, f in spec.fields.items()}


def _sample(kind: str) -> object:
    return {"str": "Sample", "int": 1, "float": 1.0, "bool": True, "date": "2026-01-01"}[kind]
