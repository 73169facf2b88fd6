"""The wizard's check step finds exactly the rows submitting the same file makes failed renders.

A 25-row CSV whose headers differ from the field names, with 3 planted bad rows: a price
that is not a number, a missing name, and a link the CTA cannot open (found by ``RowCheck``,
not by the field types).
"""

from __future__ import annotations

import copy
import csv
import io

import pytest
from sqlalchemy import select

from pvideo.access.tokens import ViewerTokens
from pvideo.db.models import Render, RenderStatus
from pvideo.errors import DataError, PvideoError
from pvideo.jobs import campaigns
from pvideo.jobs.checkreport import CheckReport, RowProblem, check_rows, problems_csv
from pvideo.jobs.rowcheck import RowCheck
from pvideo.plan.compiler import compile_plan
from pvideo.render.captions import scene_chapters
from pvideo.scene.customers import coerce_row
from pvideo.scene.mapping import auto_mapping, mapped_rows, mapping_problems
from pvideo.scene.spec import parse_scene
from pvideo.scene.tables import read_table, sniff_kind
from tests.conftest import CARD_SCENE

SOURCE = "people.csv"


def _scene():
    scene = copy.deepcopy(CARD_SCENE)
    scene["name"] = "linkcard"
    scene["fields"]["link"] = {"type": "str", "default": "https://shop.example/"}
    scene["layers"][2]["href"] = "{{ link }}"
    return parse_scene(scene)


def _csv(tmp_path):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Customer ID", "First Name", "Price", "Plan", "Link", "Notes"])
    for n in range(1, 26):
        name = "" if n == 12 else f"Name {n}"
        price = "abc" if n == 5 else f"{n}.5"
        link = "ftp://files.example/x" if n == 20 else ("" if n % 2 else f"https://shop.example/{n}")
        writer.writerow([f"c{n}", name, price, "Gold" if n % 3 == 0 else "", link, "note"])
    path = tmp_path / SOURCE
    path.write_text(out.getvalue())
    return path


def _mapped(spec, path):
    columns, rows = read_table(path, sniff_kind(path, path.name), source=SOURCE)
    mapping = auto_mapping(list(spec.fields), columns)
    assert mapping == {
        "customer_id": "Customer ID",
        "first_name": "First Name",
        "plan": "Plan",
        "price": "Price",
        "link": "Link",
    }
    assert mapping_problems(spec, columns, mapping) == []
    return mapped_rows(rows, mapping)


def test_the_check_report_finds_exactly_the_rows_submit_fails(tmp_path, runtime):
    spec = _scene()
    path = _csv(tmp_path)
    report = check_rows(spec, _mapped(spec, path), assets_dir=runtime.settings.assets_dir, source=SOURCE)
    assert (report.good, report.bad, report.truncated) == (22, 3, False)
    assert [(p.row, p.field) for p in report.problems] == [(5, "price"), (12, "first_name"), (20, "href")]
    assert report.problems[0].message == "expected a number, got 'abc'"
    assert report.problems[1].message == "missing required field"
    assert report.problems[2].message.startswith("layer 3 (cta 'buy') href 'ftp://files.example/x': ")
    assert report.fields == ["customer_id", "first_name", "plan", "price", "link"]
    assert len(report.sample) == 10
    first = report.sample[0]
    assert first["price"] == 1.5 and isinstance(first["price"], float)
    assert (first["plan"], first["link"], first["Notes"]) == ("Basic", "https://shop.example/", "note")
    assert report.sample[4]["price"] == "abc"  # a row whose fields do not coerce is shown as read

    with runtime.db.session() as session:
        submission = campaigns.submit(
            session,
            campaigns.CampaignRequest(spec, _mapped(spec, path), source=SOURCE),
            settings=runtime.settings,
            tokens=ViewerTokens(runtime.settings.signing_key),
        )
        campaign_id = submission.campaign.id
        counts = (submission.campaign.total, submission.campaign.rejected)
    with runtime.db.session() as session:
        failed = session.execute(
            select(Render.row_number, Render.error)
            .where(Render.campaign_id == campaign_id, Render.status == RenderStatus.FAILED)
            .order_by(Render.row_number)
        ).all()
    expected = [(p.row, str(DataError(p.message, row=p.row, field=p.field, source=SOURCE))) for p in report.problems]
    assert [(n, e) for n, e in failed] == expected
    assert counts == (25, 3)


def test_the_row_limit_applies_as_at_submit(tmp_path, runtime):
    spec = _scene()
    with pytest.raises(DataError, match=rf"{SOURCE}: more than 20 rows \(PVIDEO_MAX_ROWS\)"):
        check_rows(
            spec, _mapped(spec, _csv(tmp_path)), assets_dir=runtime.settings.assets_dir, source=SOURCE, max_rows=20
        )


def test_problems_are_capped_and_download_as_safe_csv(tmp_path, runtime):
    spec = _scene()
    report = check_rows(
        spec, _mapped(spec, _csv(tmp_path)), assets_dir=runtime.settings.assets_dir, source=SOURCE, max_problems=2
    )
    assert (report.bad, len(report.problems), report.truncated) == (3, 2, True)
    text = problems_csv(CheckReport(0, 2, [RowProblem(4, None, "=HYPERLINK(1)"), RowProblem(7, "a", "b, c")], []))
    assert list(csv.reader(io.StringIO(text))) == [
        ["row", "field", "message"],
        ["4", "", "'=HYPERLINK(1)"],
        ["7", "a", "b, c"],
    ]


def test_texts_checked_output_by_output_fail_as_their_compile_does(assets_dir):
    """``RowCheck`` renders a text of plain outputs one output at a time, sharing an output between
    texts; the row fails with the same reason and field as its compile, naming the first place."""
    scene = copy.deepcopy(CARD_SCENE)
    scene["layers"][0]["text"] = "Hi {{ first_name }}, {{ price | money('USD') }}"
    scene["layers"].append({**scene["layers"][0], "id": "again", "text": "{{ price | money('USD') }} {{ nickname }}"})
    scene["chapters"] = [{"start": 0, "title": "{{ price | money('USD') }}"}]
    spec = parse_scene(scene)
    check = RowCheck(spec, assets_dir)
    rows = [
        {"customer_id": "c1", "first_name": "Ana", "price": 2.5, "nickname": "A"},
        {"customer_id": "c2", "first_name": "Bo", "price": 1e30, "nickname": "B"},  # too many digits for money
        {"customer_id": "c3", "first_name": "Cy", "price": 2.5},  # no nickname
        {"customer_id": "c4", "first_name": "Di", "price": 2.5, "nickname": "D"},
    ]
    found = []
    for number, raw in enumerate(rows, start=1):
        data = coerce_row(spec, raw)
        problem = check.problem(data, number=number, source="t.csv")
        try:
            compile_plan(spec, data, assets_dir=assets_dir, row_number=number)
            scene_chapters(spec, data, 10.0)
        except PvideoError as exc:
            assert problem is not None and (problem.reason, problem.field) == (exc.reason, exc.field)  # type: ignore[attr-defined]
            found.append((number, problem.field))
        else:
            assert problem is None, problem
    assert found == [(2, "layer 1 (text 'hello') text"), (3, "layer 4 (text 'again') text")]
