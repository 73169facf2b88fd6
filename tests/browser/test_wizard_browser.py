"""The new-campaign wizard's JavaScript in Chromium: a refused file named without leaving the page,
a file dropped on the drop zone and sent with a progress bar, the frame following the time slider,
and the sample video playing; axe-core on every step, and no page wider than a phone at 390 px."""

from __future__ import annotations

import time

from pvideo.access.signin import DashboardSignin
from pvideo.db.models import User
from tests.browser.axe import serious_violations
from tests.conftest import SECRET, WIDTH
from tests.studio.conftest import make_user
from tests.studio.test_wizard import customers_csv

REFUSED_UPLOAD = "Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"


def _signed_in(browser, base, runtime, user_id, **options):
    with runtime.db.session() as session:
        generation = session.get(User, user_id).session_generation
    context = browser.new_context(**options)
    cookie = DashboardSignin(SECRET).user_cookie(user_id, generation)
    context.add_cookies([{"name": "pvideo_studio", "value": cookie, "url": f"{base}/studio"}])
    return context


def _until(page, expression: str, timeout: float = 30.0) -> None:
    """Poll ``expression`` (``wait_for_function`` evaluates strings, which the page's CSP refuses)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, expression
        time.sleep(0.1)


def test_upload_drop_progress_slider_and_sample(browser, live_app, runtime, artifacts):
    base, _app = live_app
    user_id = make_user(runtime, "mia@example.com", "marketing")
    page = _signed_in(browser, base, runtime, user_id, viewport={"width": 1280, "height": 900}).new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto(f"{base}/studio/campaigns/new/upload?scene=card")
    page.set_input_files("#file", files=[{"name": "g.csv", "mimeType": "text/csv", "buffer": bytes(range(256)) * 10}])
    page.click("main button[type=submit]")
    page.wait_for_selector("#step-error")
    assert "binary" in page.inner_text("#step-error")
    assert page.url.endswith("/studio/campaigns/new/upload?scene=card") and page.is_enabled("main button[type=submit]")

    dropped = page.evaluate_handle(
        """(text) => { const files = new DataTransfer();
            files.items.add(new File([text], "customers.csv", {type: "text/csv"})); return files; }""",
        customers_csv().decode(),
    )
    page.dispatch_event("[data-dropzone]", "drop", {"dataTransfer": dropped})
    assert page.evaluate("document.getElementById('file').files[0].name") == "customers.csv"
    with page.expect_navigation(url="**/columns"):
        page.click("main button[type=submit]")
    assert page.evaluate("document.getElementById('upload-progress') === null")  # a new page
    page.click("main button[type=submit]")
    page.wait_for_url("**/check")
    page.screenshot(path=str(artifacts / "wizard-check.png"), full_page=True)

    page.click("text=Preview a row")
    page.wait_for_url("**/preview")
    _until(
        page, f"document.getElementById('frame').complete && document.getElementById('frame').naturalWidth === {WIDTH}"
    )
    page.fill("#t-number", "2.5")
    _until(page, "document.getElementById('frame').src.endsWith('t=2.5')")
    _until(page, "document.getElementById('frame').complete && document.getElementById('frame').naturalWidth > 0")
    assert page.input_value("#t-range") == "2.5"
    assert page.inner_text("[data-frame-status]") == "Frame at 2.5 s"

    page.click("text=Render sample video")
    page.wait_for_selector("video")
    _until(page, "document.querySelector('video').readyState >= 1")
    assert round(page.evaluate("document.querySelector('video').duration")) == 4
    page.screenshot(path=str(artifacts / "wizard-preview.png"), full_page=True)
    assert problems == [REFUSED_UPLOAD]

    upload_id = page.url.split("/")[5]
    audit = _signed_in(browser, base, runtime, user_id, bypass_csp=True).new_page()
    steps = [
        "/studio/campaigns/new",
        "/studio/campaigns/new/upload?scene=card",
        f"/studio/uploads/{upload_id}/columns",
        f"/studio/uploads/{upload_id}/check",
        f"/studio/uploads/{upload_id}/preview?pick=row&row=5",
        f"/studio/uploads/{upload_id}/preview?pick=row&row=1",
        f"/studio/uploads/{upload_id}/options",
    ]
    for path in steps:
        for width in (1280, 390):
            audit.set_viewport_size({"width": width, "height": 800})
            audit.goto(base + path)
            audit.wait_for_load_state("networkidle")
            assert serious_violations(audit) == [], path
            assert audit.evaluate("document.documentElement.scrollWidth") <= width, (path, width)
