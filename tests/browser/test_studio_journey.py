"""The studio end to end in Chromium, as the people who use it would go through it.

An admin invites a marketer; the marketer sets a password, uploads a 25-row CSV whose
headers are not the field names, maps them, sees exactly the 3 planted bad rows, previews a
row, submits, watches the campaign finish (22 done, 3 failed) without reloading, downloads
the manifest and opens a personal link. An analyst can look but not submit; a signed-out
visitor is sent to sign in. The admin then finds every action of the journey in the audit log
under the right user, filters it to the marketer and downloads it; no one else may open it. Every step leaves a screenshot in test-artifacts/studio-*.png,
and axe-core finds no serious or critical violation on the pages around the wizard (the
wizard's own steps are checked in test_wizard_browser.py).
"""

from __future__ import annotations

import csv
import io
import time

from tests.browser.axe import serious_violations
from tests.studio.conftest import PASSWORD, make_user

BAD_ROWS = {5: ("price", "abc"), 12: ("first_name", ""), 20: ("price", "")}


def journey_csv() -> bytes:
    """25 customers under headers a spreadsheet would have; rows 5, 12 and 20 are bad."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Customer ID", "First Name", "Plan", "Monthly cost"])
    for n in range(1, 26):
        row = {"customer_id": f"C{n:03d}", "first_name": f"Name{n}", "plan": "Gold", "price": f"{n}.50"}
        if n in BAD_ROWS:
            field, value = BAD_ROWS[n]
            row[field] = value
        writer.writerow([row["customer_id"], row["first_name"], row["plan"], row["price"]])
    return out.getvalue().encode()


def _until(page, expression: str, timeout: float = 120.0) -> None:
    """Poll ``expression`` (``wait_for_function`` evaluates strings, which the page's CSP refuses)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, expression
        time.sleep(0.2)


def _sign_in(page, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/studio/sign-in")
    page.fill("#email", email)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("main button[type=submit]")


def test_marketing_runs_a_campaign_in_the_browser(browser, live_app, runtime, artifacts):
    base, _app = live_app
    shot = iter(range(1, 100))

    def snap(page, name: str) -> None:
        page.screenshot(path=str(artifacts / f"studio-{next(shot):02d}-{name}.png"), full_page=True)

    make_user(runtime, "ada@example.com", "admin")
    make_user(runtime, "ann@example.com", "analyst")

    # a signed-out request is sent to sign in
    anonymous = browser.new_context().new_page()
    anonymous.goto(f"{base}/studio/campaigns")
    assert "/studio/sign-in?next=" in anonymous.url
    snap(anonymous, "signed-out")

    # the admin invites a marketer
    admin = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True).new_page()
    _sign_in(admin, base, "ada@example.com")
    admin.goto(f"{base}/studio/users")
    admin.fill("#invite-email", "mia@example.com")
    admin.select_option("#invite-role", "marketing")
    with admin.expect_navigation():
        admin.click("text=Create invite link")
    link = admin.input_value("#invite-link")
    assert link.startswith(f"{base}/studio/invite/")
    snap(admin, "admin-invites")

    # the marketer sets a password and is signed in
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(link)
    assert page.input_value("#email") == "mia@example.com"
    page.fill("#password", "a long and private passphrase")
    page.fill("#password_again", "a long and private passphrase")
    snap(page, "set-password")
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert page.url.endswith("/studio/campaigns")

    # 1. pick the scene
    page.click("text=New campaign")
    page.wait_for_url("**/studio/campaigns/new")
    snap(page, "pick-scene")
    page.click("a[href='/studio/campaigns/new/upload?scene=card']")
    # 2. upload the CSV
    page.set_input_files("#file", files=[{"name": "customers.csv", "mimeType": "text/csv", "buffer": journey_csv()}])
    snap(page, "upload")
    with page.expect_navigation(url="**/columns"):
        page.click("main button[type=submit]")
    # 3. map the columns: three matched by name, "Monthly cost" picked by hand
    assert page.input_value("#field-customer_id") == "Customer ID"
    assert page.input_value("#field-first_name") == "First Name"
    assert page.input_value("#field-price") != "Monthly cost"
    page.select_option("#field-price", "Monthly cost")
    snap(page, "map-columns")
    with page.expect_navigation(url="**/check"):
        page.click("main button[type=submit]")
    # 4. the check: exactly the planted rows, each with its field and reason
    snap(page, "check")
    problem_rows = page.eval_on_selector_all(
        "table[aria-labelledby=problems-title] tbody tr",
        "rows => rows.map(r => [...r.cells].map(c => c.innerText.trim()))",
    )
    assert sorted((int(r[0]), r[1]) for r in problem_rows) == sorted((n, f) for n, (f, _) in BAD_ROWS.items())
    assert all(r[2] for r in problem_rows)
    assert "22" in page.inner_text("[data-good]") and "3" in page.inner_text("[data-bad]")
    # 5. preview a frame and a sample video of one row
    with page.expect_navigation(url="**/preview"):
        page.click("text=Preview a row")
    _until(page, "document.getElementById('frame').complete && document.getElementById('frame').naturalWidth > 0")
    page.click("text=Render sample video")
    page.wait_for_selector("video")
    _until(page, "document.querySelector('video').readyState >= 1")
    snap(page, "preview")
    # 6. options and submit (MP4 only keeps the test short)
    page.goto(page.url.split("/preview")[0] + "/options")
    page.fill("#name", "Journey <b>spring</b>")
    page.check("input[name=outputs][value=mp4]")
    snap(page, "options")
    with page.expect_navigation(url="**/studio/campaigns/*"):
        page.dblclick("main button[type=submit]")  # a double click submits once
    campaign_url = page.url
    campaign_id = campaign_url.rstrip("/").split("/")[-1]
    with runtime.db.session() as session:
        from sqlalchemy import func, select

        from pvideo.db.models import Campaign

        assert session.scalar(select(func.count()).select_from(Campaign)) == 1
        assert session.get(Campaign, campaign_id).submitted_by == "mia@example.com"

    # the progress reaches 22 done + 3 failed without a reload
    page.evaluate("window.stayedOnThePage = true")
    _until(
        page,
        "document.querySelector('[data-count=done]').innerText.trim() === '22' && "
        "document.querySelector('[data-count=failed]').innerText.trim() === '3'",
        timeout=240,
    )
    assert page.evaluate("window.stayedOnThePage === true")
    assert page.locator("[data-live-failures] tr").count() == 3
    _until(page, "document.querySelector('[data-live-status]').innerText.trim() === 'complete'", timeout=30)
    _until(page, "document.querySelectorAll('#links .badge.ok').length === 22", timeout=30)
    assert page.evaluate("window.stayedOnThePage === true")
    snap(page, "campaign-done")

    # the manifest, and one personal link opened
    with page.expect_download() as download:
        page.click("a[href$='manifest.csv']")
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert len(rows) == 25 and sum(r["status"] == "done" for r in rows) == 22
    landing = next(r["landing_url"] for r in rows if r["status"] == "done")
    viewer = browser.new_context().new_page()
    viewer.goto(landing)
    _until(viewer, "document.querySelector('video') && document.querySelector('video').readyState >= 1")
    snap(viewer, "personal-link")
    assert problems == []

    # an analyst sees the campaign but may not submit
    analyst = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    _sign_in(analyst, base, "ann@example.com")
    analyst.goto(campaign_url)
    assert "Journey <b>spring</b>" in analyst.inner_text("h1")
    snap(analyst, "analyst-campaign-390px")
    assert analyst.goto(f"{base}/studio/campaigns/new").status == 403
    upload = page.url  # the marketer's campaign page; the wizard's last step is what submits
    refused = analyst.request.post(f"{base}/studio/campaigns/{campaign_id}/retry", form={"csrf": "x"}, max_redirects=0)
    assert refused.status == 403 and upload
    snap(analyst, "analyst-403")

    # the audit log: every action of the journey, newest first, under the user who did it
    assert analyst.goto(f"{base}/studio/audit").status == 403 and page.goto(f"{base}/studio/audit").status == 403
    admin.click("nav >> text=Audit log")
    admin.wait_for_url("**/studio/audit")
    with runtime.db.session() as session:
        from pvideo.db.models import User

        mia_id = session.scalar(select(User.id).where(User.email == "mia@example.com"))
    logged = "rows => rows.map(r => [r.dataset.action, ...[...r.cells].slice(1, 3).map(c => c.innerText.trim())])"
    assert admin.eval_on_selector_all("tr[data-action]", logged) == [
        ["manifest.download", "mia@example.com", "marketing"],
        ["campaign.submit", "mia@example.com", "marketing"],
        ["user.create", "ada@example.com", "admin"],
    ]
    assert admin.locator(f"tr[data-action='campaign.submit'] a[href='/studio/campaigns/{campaign_id}']").count() == 1
    assert mia_id in admin.inner_text("tr[data-action='user.create']")
    snap(admin, "audit-log")
    admin.fill("#filter-actor", "mia@example.com")
    with admin.expect_navigation():
        admin.click("main form button[type=submit]")
    assert {r[1] for r in admin.eval_on_selector_all("tr[data-action]", logged)} == {"mia@example.com"}
    assert admin.locator("tr[data-action]").count() == 2
    snap(admin, "audit-log-marketer")
    with admin.expect_download() as download:
        admin.click("text=Download CSV")
    exported = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert [(r["action"], r["actor"], r["role"]) for r in exported] == [
        ("manifest.download", "mia@example.com", "marketing"),
        ("campaign.submit", "mia@example.com", "marketing"),
    ]


def test_studio_pages_have_no_serious_accessibility_violation(browser, live_app, runtime):
    base, _app = live_app
    make_user(runtime, "ada@example.com", "admin")
    page = browser.new_context(bypass_csp=True).new_page()
    for path in ("/studio/sign-in",):
        page.goto(base + path)
        assert serious_violations(page) == [], path
    _sign_in(page, base, "ada@example.com")
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 800})
        for path in (
            "/studio/campaigns",
            "/studio/users",
            "/studio/keys",
            "/studio/account",
            "/studio/scenes",
            "/studio/scenes/card",
            "/studio/audit",
        ):
            page.goto(base + path)
            assert serious_violations(page) == [], (path, width)
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (path, width)
