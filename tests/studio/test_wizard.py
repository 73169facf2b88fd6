"""The new-campaign wizard through the real app: scene, upload, columns, check, preview, options, submit.

A marketer takes a 25-row CSV whose headers are not the scene's field names (three rows
planted bad) through every step; the pages are parsed, the database queried, the frame
and sample video decoded. Bad files are refused on the upload page, and nothing is kept.
"""

from __future__ import annotations

import csv
import io
import os
import re
import time
from datetime import UTC, datetime, timedelta
from html import unescape

import av
import openpyxl
import pytest
from PIL import Image
from sqlalchemy import func, select

from pvideo.db.models import Campaign, ColumnMapping, Render, StudioUpload
from tests.conftest import FPS, HEIGHT, SECONDS, WIDTH
from tests.studio.conftest import csrf_of

HEADERS = ["Customer ID", "First Name", "Plan", "PRICE"]
FIELDS = ["customer_id", "first_name", "plan", "price"]
BAD_ROWS = {5: "price", 12: "first_name", 20: "price"}  # row number -> field to blame


def customers_csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADERS)
    for number in range(1, 26):
        name, price = f"Ann{number}", f"{number}.50"
        if number == 5:
            price = "cheap"
        elif number == 12:
            name = ""
        elif number == 20:
            price = ""
        writer.writerow([f"c{number:03d}", name, "Gold" if number % 2 else "", price])
    return out.getvalue().encode()


def upload(client, content: bytes, filename: str = "customers.csv", scene: str = "card"):
    page = client.get(f"/studio/campaigns/new/upload?scene={scene}")
    assert page.status_code == 200
    return client.post(
        f"/studio/campaigns/new/upload?scene={scene}",
        data={"csrf": csrf_of(page.text)},
        files={"file": (filename, content, "application/octet-stream")},
        follow_redirects=False,
    )


def error_of(html: str) -> str:
    found = re.search(r'<p class="error" role="alert"[^>]*>(.*?)</p>', html, re.S)
    assert found, "no error on the page"
    return unescape(found.group(1))


def selected(html: str, field: str) -> str:
    select_html = re.search(rf'<select id="field-{field}".*?</select>', html, re.S).group(0)
    return unescape(re.search(r'<option value="([^"]*)" selected>', select_html).group(1))


def campaigns_in(runtime) -> int:
    with runtime.db.session() as session:
        return session.scalar(select(func.count()).select_from(Campaign))


def uploads_in(runtime) -> int:
    with runtime.db.session() as session:
        return session.scalar(select(func.count()).select_from(StudioUpload))


def test_the_whole_wizard(marketer, runtime, settings):
    client = marketer
    scenes = client.get("/studio/campaigns/new")
    assert scenes.status_code == 200
    assert 'aria-current="step">Scene' in scenes.text
    assert "/studio/campaigns/new/upload?scene=card" in scenes.text
    assert "price" in scenes.text and "float" in scenes.text and "default: Basic" in scenes.text
    poster = client.get("/studio/scenes/card/poster.png")
    assert poster.status_code == 200, poster.text
    assert Image.open(io.BytesIO(poster.content)).size == (WIDTH, HEIGHT)

    sent = upload(client, customers_csv())
    assert sent.status_code == 303, sent.text
    columns_url = sent.headers["location"]
    upload_id = columns_url.split("/")[3]
    assert columns_url == f"/studio/uploads/{upload_id}/columns"

    columns = client.get(columns_url)
    assert columns.status_code == 200
    mapping = {"customer_id": "Customer ID", "first_name": "First Name", "plan": "Plan", "price": "PRICE"}
    for field, column in mapping.items():
        assert selected(columns.text, field) == column
    assert "default: Basic" in columns.text
    saved = client.post(
        columns_url,
        data={"csrf": csrf_of(columns.text), **{f"field-{f}": c for f, c in mapping.items()}},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"/studio/uploads/{upload_id}/check"
    with runtime.db.session() as session:
        assert session.get(StudioUpload, upload_id).mapping == mapping
        assert session.get(ColumnMapping, "card").mapping == mapping

    check = client.get(f"/studio/uploads/{upload_id}/check")
    assert check.status_code == 200
    assert re.search(r"<b data-good>22</b>", check.text) and re.search(r"<b data-bad>3</b>", check.text)
    problems = re.findall(r'<tr><td class="num">(\d+)</td><td>([^<]*)</td><td>([^<]+)</td></tr>', check.text)
    assert {int(row): field for row, field, _ in problems} == BAD_ROWS
    assert all(message.strip() for _, _, message in problems)
    assert '<th scope="col">price</th>' in check.text and '1.5 <span class="badge">float</span>' in check.text
    assert 'Basic <span class="badge">str</span>' in check.text  # the default filled in
    download = client.get(f"/studio/uploads/{upload_id}/problems.csv")
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [(int(r["row"]), r["field"]) for r in rows] == sorted(BAD_ROWS.items())
    assert all(r["message"] for r in rows)

    preview = client.get(f"/studio/uploads/{upload_id}/preview?pick=row&row=3&t=1.5")
    assert preview.status_code == 200
    assert 'type="range"' in preview.text and "frame.png?row=3&amp;t=1.5" in preview.text
    frame = client.get(f"/studio/uploads/{upload_id}/frame.png?row=3&t=1.5")
    assert frame.status_code == 200 and frame.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(frame.content)).size == (WIDTH, HEIGHT)
    bad = client.get(f"/studio/uploads/{upload_id}/preview?pick=row&row=5")
    assert "data-row-problem" in bad.text and "price" in error_of(bad.text)
    assert client.get(f"/studio/uploads/{upload_id}/frame.png?row=5&t=1").status_code == 422
    by_id = client.get(f"/studio/uploads/{upload_id}/preview?pick=customer&customer=c007")
    assert "<h3>Row 7</h3>" in by_id.text
    assert "<h3>Row " in client.get(f"/studio/uploads/{upload_id}/preview?pick=random").text

    rendered = client.post(
        f"/studio/uploads/{upload_id}/sample",
        data={"csrf": csrf_of(preview.text), "row": "3", "t": "1.5"},
        follow_redirects=False,
    )
    assert rendered.status_code == 303, rendered.text
    with_video = client.get(rendered.headers["location"])
    assert (
        f'<video class="video-frame" controls preload="metadata" src="/studio/uploads/{upload_id}/sample.mp4?row=3"'
        in (with_video.text)
    )
    video = client.get(f"/studio/uploads/{upload_id}/sample.mp4?row=3")
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(video.content)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (WIDTH, HEIGHT)
        assert abs(sum(1 for _ in container.decode(stream)) - FPS * SECONDS) <= 1

    options = client.get(f"/studio/uploads/{upload_id}/options")
    assert options.status_code == 200
    key = re.search(r'name="key" value="([^"]+)"', options.text).group(1)
    form = {
        "csrf": csrf_of(options.text),
        "key": key,
        "name": "Spring welcome",
        "render": "on_demand",
        "outputs": "mp4",
        "webhook_url": "",
        "metadata": '{"team": "spring"}',
    }
    first = client.post(f"/studio/uploads/{upload_id}/options", data=form, follow_redirects=False)
    second = client.post(f"/studio/uploads/{upload_id}/options", data=form, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    campaign_id = first.headers["location"].rsplit("/", 1)[1]
    with runtime.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Campaign)) == 1
        campaign = session.get(Campaign, campaign_id)
        assert (campaign.submitted_by, campaign.name, campaign.meta) == (
            "mia@example.com",
            "Spring welcome",
            {"team": "spring"},
        )
        assert (campaign.total, campaign.rejected) == (25, 3)
        failed = session.scalars(
            select(Render.row_number).where(Render.campaign_id == campaign_id, Render.error.is_not(None))
        )
        assert sorted(failed) == sorted(BAD_ROWS)
        assert session.get(StudioUpload, upload_id).campaign_id == campaign_id
    again = client.get(f"/studio/uploads/{upload_id}/options", follow_redirects=False)
    assert again.headers["location"] == f"/studio/campaigns/{campaign_id}"


def test_a_bad_option_is_named_and_nothing_is_submitted(marketer, runtime):
    upload_id = upload(marketer, customers_csv()).headers["location"].split("/")[3]
    columns = marketer.get(f"/studio/uploads/{upload_id}/columns")
    mapping = {"customer_id": "Customer ID", "first_name": "First Name", "plan": "Plan", "price": "PRICE"}
    marketer.post(
        f"/studio/uploads/{upload_id}/columns",
        data={"csrf": csrf_of(columns.text), **{f"field-{f}": c for f, c in mapping.items()}},
    )
    options = marketer.get(f"/studio/uploads/{upload_id}/options")
    key = re.search(r'name="key" value="([^"]+)"', options.text).group(1)
    form = {"csrf": csrf_of(options.text), "key": key, "render": "eager", "outputs": "both"}
    for field, value, expected in (
        ("metadata", "[1, 2]", "JSON object"),
        ("webhook_url", "ftp://example.com/hook", "http"),
    ):
        refused = marketer.post(f"/studio/uploads/{upload_id}/options", data={**form, field: value})
        assert refused.status_code == 422
        assert expected in unescape(
            re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', refused.text).group(1)
        )
    assert campaigns_in(runtime) == 0


def test_a_required_field_left_unmapped_is_refused(marketer):
    upload_id = upload(marketer, customers_csv()).headers["location"].split("/")[3]
    columns = marketer.get(f"/studio/uploads/{upload_id}/columns")
    refused = marketer.post(
        f"/studio/uploads/{upload_id}/columns",
        data={
            "csrf": csrf_of(columns.text),
            "field-customer_id": "Customer ID",
            "field-first_name": "",
            "field-price": "PRICE",
        },
    )
    assert refused.status_code == 422 and "first_name" in error_of(refused.text)


def workbook(*sheets: str) -> bytes:
    book = openpyxl.Workbook()
    book.active.title = sheets[0]
    for name in sheets[1:]:
        book.create_sheet(name)
    for sheet in book.worksheets:
        sheet.append(HEADERS)
        sheet.append(["c001", "Ann", "Gold", 9.5])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def merged_workbook() -> bytes:
    book = openpyxl.Workbook()
    book.active.append(HEADERS)
    book.active.append(["c001", "Ann", "Gold", 9.5])
    book.active.append(["c002", "Bob", "Gold", 9.5])
    book.active.merge_cells("C2:C3")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_workbook_of_several_sheets_asks_which(marketer, runtime):
    sent = upload(marketer, workbook("Notes", "Customers"), filename="customers.xlsx")
    assert sent.status_code == 303 and sent.headers["location"].endswith("/sheet")
    page = marketer.get(sent.headers["location"])
    assert '<option value="Notes"' in page.text and '<option value="Customers"' in page.text
    wrong = marketer.post(sent.headers["location"], data={"csrf": csrf_of(page.text), "sheet": "Nope"})
    assert wrong.status_code == 422 and "sheet" in error_of(wrong.text)
    chosen = marketer.post(
        sent.headers["location"], data={"csrf": csrf_of(page.text), "sheet": "Customers"}, follow_redirects=False
    )
    assert chosen.status_code == 303 and chosen.headers["location"].endswith("/columns")
    upload_id = chosen.headers["location"].split("/")[3]
    with runtime.db.session() as session:
        assert session.get(StudioUpload, upload_id).sheet == "Customers"
    assert selected(marketer.get(chosen.headers["location"]).text, "price") == "PRICE"
    assert campaigns_in(runtime) == 0


@pytest.mark.parametrize(
    ("filename", "content", "expected"),
    BAD_FILES := [
        ("mixed.csv", "Customer ID,First Name,Price\nc1,Zoë,1\n".encode() + "c2,José,2\n".encode("latin-1"), "UTF-8"),
        ("garbage.csv", bytes(range(256)) * 40, "binary"),
        ("dupes.csv", b"Customer ID,Price,Price\nc1,1,2\n", "duplicate column 'Price'"),
        ("unnamed.csv", b"Customer ID,,Price\nc1,1,2\n", "no name"),
        ("table.pdf", b"%PDF-1.4", ".pdf"),
        ("fake.xlsx", b"just text, not a workbook", "xlsx"),
        ("empty.csv", b"", "empty"),
        ("merged.xlsx", merged_workbook(), "merged cells C2:C3"),
        ("wide.csv", (",".join(f"c{i}" for i in range(100_000)) + "\n").encode(), "100,000 columns"),
        ("cell.csv", b"Customer ID,First Name\nc1," + b"x" * 10_000_000 + b"\n", "larger than"),
    ],
    ids=[name for name, _, _ in BAD_FILES],  # the same on every xdist worker (a workbook holds its time)
)
def test_a_bad_file_is_named_on_the_upload_page_and_nothing_is_kept(
    marketer, runtime, settings, filename, content, expected
):
    sent = upload(marketer, content, filename=filename)
    assert sent.status_code == 422, sent.headers.get("location")
    message = error_of(sent.text)
    assert expected.lower() in message.lower(), message
    assert 'aria-current="step">File' in sent.text
    assert uploads_in(runtime) == 0 and campaigns_in(runtime) == 0
    assert not list((settings.data_dir / "uploads").glob("*/*"))


def test_a_latin1_file_is_read_with_its_accents(marketer, runtime):
    content = "Customer ID,First Name,Price\nc1,Zoë,1.5\nc2,José,2\n".encode("latin-1")
    sent = upload(marketer, content, filename="latin.csv")
    assert sent.status_code == 303, error_of(sent.text)
    upload_id = sent.headers["location"].split("/")[3]
    columns = marketer.get(sent.headers["location"])
    marketer.post(
        sent.headers["location"],
        data={
            "csrf": csrf_of(columns.text),
            "field-customer_id": "Customer ID",
            "field-first_name": "First Name",
            "field-price": "Price",
        },
    )
    check = marketer.get(f"/studio/uploads/{upload_id}/check")
    assert "Zoë <span" in check.text and "José <span" in check.text


def test_an_upload_is_its_senders_only(marketer, runtime, client):
    from tests.studio.conftest import sign_in_as

    upload_id = upload(marketer, customers_csv()).headers["location"].split("/")[3]
    sign_in_as(client, runtime, "max@example.com", "marketing")  # the same client, now someone else
    for path in ("columns", "check", "preview", "options", "problems.csv", "frame.png?row=1&t=0", "sample.mp4?row=1"):
        assert client.get(f"/studio/uploads/{upload_id}/{path}").status_code == 404, path


WIZARD_GETS = (
    "/studio/campaigns/new",
    "/studio/campaigns/new/upload?scene=card",
    "/studio/scenes/card/poster.png",
    "/studio/uploads/{id}/sheet",
    "/studio/uploads/{id}/columns",
    "/studio/uploads/{id}/check",
    "/studio/uploads/{id}/problems.csv",
    "/studio/uploads/{id}/preview",
    "/studio/uploads/{id}/frame.png?row=1&t=0",
    "/studio/uploads/{id}/sample.mp4?row=1",
    "/studio/uploads/{id}/options",
)
WIZARD_POSTS = (
    "/studio/campaigns/new/upload?scene=card",
    "/studio/uploads/{id}/sheet",
    "/studio/uploads/{id}/columns",
    "/studio/uploads/{id}/sample",
    "/studio/uploads/{id}/options",
)


def test_an_analyst_gets_403_on_every_wizard_route(analyst, runtime):
    home = analyst.get("/studio/campaigns")
    token = csrf_of(home.text) if 'name="csrf-token"' in home.text else "x"
    for path in WIZARD_GETS:
        answer = analyst.get(path.format(id="0" * 32))
        assert answer.status_code == 403, path
    for path in WIZARD_POSTS:
        answer = analyst.post(
            path.format(id="0" * 32),
            data={"csrf": token},
            files={"file": ("a.csv", b"a,b\n1,2\n")},
            follow_redirects=False,
        )
        assert answer.status_code == 403, path
    assert uploads_in(runtime) == 0 and campaigns_in(runtime) == 0


def test_signed_out_is_sent_to_sign_in(client):
    answer = client.get("/studio/campaigns/new", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/studio/sign-in")


def test_uploads_older_than_a_day_go_when_a_new_one_comes(marketer, runtime, settings):
    old_id = upload(marketer, customers_csv()).headers["location"].split("/")[3]
    folder = settings.data_dir / "uploads" / old_id
    day_ago = time.time() - 86_400 - 60
    os.utime(folder, (day_ago, day_ago))
    with runtime.db.session() as session:
        session.get(StudioUpload, old_id).created_at = datetime.now(UTC) - timedelta(days=1, minutes=1)
    new_id = upload(marketer, customers_csv()).headers["location"].split("/")[3]
    assert not folder.exists() and (settings.data_dir / "uploads" / new_id / "table.csv").is_file()
    with runtime.db.session() as session:
        assert session.get(StudioUpload, old_id) is None
    assert marketer.get(f"/studio/uploads/{old_id}/columns").status_code == 404


def test_problems_are_paged_from_the_stored_report(marketer, settings):
    rows = "".join(f"c{n},Ann,Gold,{'x' if n <= 120 else '1'}\n" for n in range(1, 131))
    upload_id = upload(marketer, f"{','.join(HEADERS)}\n{rows}".encode()).headers["location"].split("/")[3]
    columns = marketer.get(f"/studio/uploads/{upload_id}/columns")
    marketer.post(
        f"/studio/uploads/{upload_id}/columns",
        data={"csrf": csrf_of(columns.text), **{f"field-{f}": c for f, c in zip(FIELDS, HEADERS, strict=True)}},
    )
    first = marketer.get(f"/studio/uploads/{upload_id}/check")
    assert "<b data-good>10</b>" in first.text and "<b data-bad>120</b>" in first.text
    assert len(re.findall(r'<tr><td class="num">', first.text)) == 50 and "Page 1 of 3" in first.text
    (report,) = (settings.data_dir / "uploads" / upload_id).glob("report-*.json")
    (settings.data_dir / "uploads" / upload_id / "table.csv").write_text("gone")  # paging must not read it
    last = marketer.get(f"/studio/uploads/{upload_id}/check?page=3")
    numbers = [int(n) for n in re.findall(r'<tr><td class="num">(\d+)</td>', last.text)]
    assert numbers == list(range(101, 121)) and "Page 3 of 3 (problems 101–120)" in last.text
    assert 'href="?page=2" rel="prev"' in last.text and 'rel="next"' not in last.text
    assert report.is_file()
    assert len(marketer.get(f"/studio/uploads/{upload_id}/problems.csv").text.splitlines()) == 121
