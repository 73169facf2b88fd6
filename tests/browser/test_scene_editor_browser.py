"""The scene editor end to end in Chromium, as a marketer builds a scene and runs campaigns on it.

Upload a template and a logo, create a scene, drag and resize its text, bind it to a field, add a
templated CTA and move its window, see the frame change inside the box (pixels of the PNG the page
shows); save it blue, then red. A 5-row campaign started while the blue version was the latest
renders blue and one started later renders red (decoded MP4 frames): each pinned its version.
Screenshots go to test-artifacts/editor-*.png; axe-core checks the editor and the library.
"""

from __future__ import annotations

import base64
import io
import re
import subprocess
import time
from pathlib import Path

import av
import numpy as np
import yaml
from PIL import Image
from sqlalchemy import select

from pvideo.db.models import Campaign, Render, SceneVersion
from pvideo.jobs import scenelibrary
from pvideo.settings import Settings
from tests.browser.axe import serious_violations
from tests.browser.conftest import ARTIFACTS
from tests.studio.conftest import PASSWORD, make_user

W, H, SECONDS = 320, 180, 4
BLUE, RED, YELLOW = "#1060e0", "#e02020", "#fac800"
TEMPLATE_CHOICE = "promo.mp4 (uploaded)"
LOGO_BOX = {"x": W - 60, "y": 10, "w": 50, "h": 50}
LOGO_INSIDE = (W - 55, 15, 40, 40)
NAMES = ["Ana", "Ben", "Chen", "Dana", "Eli"]
CUSTOMERS = ("first_name\n" + "".join(f"{name}\n" for name in NAMES)).encode()
STATUS = "[...document.querySelectorAll('[data-frame-status],[data-save-status]')].map(e => e.textContent)"
DOC = """import("/static/vendor/codemirror/codemirror.bundle.js").then((cm) => cm.EditorView.findFromDOM(
    document.querySelector("[data-yaml]").shadowRoot.querySelector(".cm-editor")).state.sliceDoc())"""
"""The YAML panel's text (CodeMirror lives in a shadow root: see editor-yaml.js)."""
CURSOR_LINE = DOC.replace(".state.sliceDoc())", ".state).then((s) => s.doc.lineAt(s.selection.main.head).number)")


def _template(path: Path) -> Path:
    """A 320x180, 4 s test pattern with a tone: small enough for every render to take well under a second."""
    args = [Settings().ffmpeg_exe, "-hide_banner", "-loglevel", "error", "-y"]
    args += ["-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate=25:duration={SECONDS}"]
    args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={SECONDS}"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "25", "-c:a", "aac", str(path)]
    subprocess.run(args, check=True)
    return path


def _until(page, expression: str, timeout: float = 60.0) -> None:
    """Poll ``expression`` (``wait_for_function`` evaluates strings, which the page's CSP refuses)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            page.screenshot(path=str(ARTIFACTS / "editor-timed-out.png"), full_page=True)
        assert time.monotonic() < deadline, (expression, page.evaluate(STATUS))
        time.sleep(0.1)


def _sign_in(page, base: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/studio/sign-in")
    page.fill("#email", email)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("main button[type=submit]")


def _until_text(page, check, timeout: float = 60.0) -> str:
    """Poll the YAML panel's text until ``check(text)``; the text."""
    deadline = time.monotonic() + timeout
    while not check(text := page.evaluate(DOC)):
        assert time.monotonic() < deadline, text
        time.sleep(0.1)
    return text


def _layer_in(text: str, layer_id: str) -> dict:
    return next(layer for layer in yaml.safe_load(text)["layers"] if layer.get("id") == layer_id)


def _layer(page, layer_id: str) -> dict:
    return _layer_in(page.evaluate(DOC), layer_id)


def _fresh(page) -> None:
    """The frame on the page was made for the newest text, row and time (see editor.js)."""
    _until(
        page,
        "(s => s.dataset.wanted !== undefined && s.dataset.shown === s.dataset.wanted)"
        "(document.querySelector('[data-stage]'))",
    )


def _px(value: int | str, whole: int) -> int:
    """A box length in frame pixels (the starter scene writes percents, and drags keep them)."""
    return round(float(value[:-1]) * whole / 100) if isinstance(value, str) else int(value)


def _shown_frame(page) -> np.ndarray:
    """The preview PNG the page shows (a data: URL), as RGB pixels."""
    url = page.get_attribute("[data-frame]", "src")
    assert url and url.startswith("data:image/png;base64,"), url and url[:40]
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))


def _share_near(pixels: np.ndarray, box: tuple[int, int, int, int], color: str, tolerance: int = 48) -> float:
    """The share of the box's pixels within ``tolerance`` of ``color`` on every channel."""
    x, y, w, h = box
    region = pixels[y : y + h, x : x + w].astype(int)
    target = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)])
    return float((np.abs(region - target).max(axis=2) <= tolerance).mean())


def _rendered_frames(runtime, campaign_id: str, at: float, tmp_path: Path) -> list[np.ndarray]:
    """The frame at ``at`` seconds of every row's rendered MP4, decoded."""
    with runtime.db.session() as session:
        renders = session.scalars(select(Render).where(Render.campaign_id == campaign_id)).all()
        assert [r.status for r in renders] == ["done"] * len(NAMES), [(r.status, r.error) for r in renders]
        keys = [r.video_key for r in renders]
    frames = []
    for n, key in enumerate(keys):
        path = tmp_path / f"{campaign_id}-{n}.mp4"
        path.write_bytes(runtime.storage.get_bytes(key))
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            frame = next(f for f in container.decode(stream) if f.time is not None and f.time >= at)
            frames.append(frame.to_ndarray(format="rgb24"))
    return frames


def _start_campaign(page, base: str, scene: str) -> str:
    """The wizard up to its options step: the upload pins the scene's latest version. Its URL."""
    page.goto(f"{base}/studio/campaigns/new/upload?scene={scene}")
    page.set_input_files("#file", files=[{"name": "five.csv", "mimeType": "text/csv", "buffer": CUSTOMERS}])
    with page.expect_navigation(url="**/columns"):
        page.click("main button[type=submit]")
    with page.expect_navigation(url="**/check"):
        page.click("main button[type=submit]")
    return page.url.rsplit("/check", 1)[0]


def _submit_campaign(page, upload_url: str, app, name: str) -> str:
    """The wizard's last step: submit, and let the in-process workers render every row. Its id."""
    page.goto(f"{upload_url}/options")
    page.fill("#name", name)
    page.check("input[name=outputs][value=mp4]")
    with page.expect_navigation(url="**/studio/campaigns/*"):
        page.click("main button[type=submit]")
    app.state.pvideo.queue.join(timeout_ms=120_000)
    return page.url.rstrip("/").split("/")[-1]


def _set(page, field: str, value: str) -> None:
    """Type into a field of the layer form and leave it (a field is applied when left)."""
    page.fill(field, value)
    page.press(field, "Tab")


def _drag_from(page, x: float, y: float, dx: float, dy: float, *, steps: int = 8) -> None:
    """Press the mouse at (x, y), move it by (dx, dy) in steps, release it: a person's drag."""
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y + dy, steps=steps)
    page.mouse.up()


def test_marketer_builds_a_scene_and_campaigns_render_the_version_they_pinned(
    browser, live_app, runtime, artifacts, tmp_path
):
    base, app = live_app
    make_user(runtime, "mia@example.com", "marketing")
    shot = iter(range(1, 100))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("console", lambda m: m.type == "error" and "Content Security Policy" in m.text and problems.append(m.text))

    def snap(name: str) -> None:
        page.screenshot(path=str(artifacts / f"editor-{next(shot):02d}-{name}.png"), full_page=True)

    _sign_in(page, base, "mia@example.com")

    # upload the template video and the logo; the video is ingested
    Image.new("RGB", (64, 64), (250, 200, 0)).save(tmp_path / "brand.png")
    for upload in (_template(tmp_path / "promo.mp4"), tmp_path / "brand.png"):
        page.goto(f"{base}/studio/assets")
        page.set_input_files("#file", str(upload))
        with page.expect_navigation(url="**/studio/assets?uploaded=*"):
            page.click("form[data-upload] button[type=submit]")
    _until(page, "document.querySelectorAll('.asset-state .badge').length === 2", timeout=120)
    assert "failed" not in page.inner_text("table.assets")
    logo = page.locator("tr:has-text('brand.png') code.asset-path").inner_text().strip()
    snap("assets")

    # create the scene on the uploaded video: the editor opens on its starter version
    page.goto(f"{base}/studio/scenes/new")
    page.fill("#scene-name", "promo")
    page.select_option("#scene-video", label=TEMPLATE_CHOICE)
    with page.expect_navigation(url="**/studio/scenes/promo/edit"):
        page.click("main button[type=submit]")
    page.wait_for_selector("[data-box='0']")
    _fresh(page)
    snap("opened")
    assert page.evaluate(DOC).startswith("# promo: made in the studio")

    # drag the text layer into place (onto the left edge), then resize it by its bottom-right handle
    scale = page.locator("[data-stage]").bounding_box()["width"] / W  # screen pixels per frame pixel
    before = _layer(page, "greeting")["box"]
    start = page.locator("[data-box='0']").bounding_box()
    _drag_from(page, start["x"] + start["width"] / 2, start["y"] + start["height"] / 2, -14 * scale, -40 * scale)
    moved = _layer_in(_until_text(page, lambda text: _layer_in(text, "greeting")["box"] != before), "greeting")["box"]
    # 2 px from the left edge snaps onto it; the box keeps its units (percent) and its width
    assert moved["x"] == "0%" and moved["w"] == before["w"] and moved["y"] != before["y"], (before, moved)
    handle = page.locator("[data-box='0'] .handle.se").bounding_box()
    _drag_from(page, handle["x"] + 6, handle["y"] + 6, 10 * scale, 15 * scale)
    text = _until_text(page, lambda text: _layer_in(text, "greeting")["box"] != moved)
    resized = _layer_in(text, "greeting")["box"]
    assert resized["w"] != moved["w"] and resized["h"] != moved["h"] and resized["x"] == moved["x"], (moved, resized)
    assert text.startswith("# promo: made in the studio")  # the comment survived the edits
    snap("dragged-and-resized")

    # undo (Ctrl+Z on the frame) takes the resize back, redo (Ctrl+Shift+Z) makes it again
    page.focus("[data-box='0']")
    page.keyboard.press("Control+z")
    _until_text(page, lambda text: _layer_in(text, "greeting")["box"] == moved)
    page.keyboard.press("Control+Shift+z")
    _until_text(page, lambda text: _layer_in(text, "greeting")["box"] == resized)

    # bind it to first_name and give it a background (the colour the checks look for)
    _set(page, "#layer-text", "Hi {{ first_name }}")
    _until_text(page, lambda text: _layer_in(text, "greeting")["text"] == "Hi {{ first_name }}")
    _set(page, "#layer-background", BLUE)
    _until_text(page, lambda text: _layer_in(text, "greeting").get("background") == BLUE)
    page.fill("#row-first_name", "Zoe")  # the sample row every preview uses

    # a CTA with a templated link, its window moved on the timeline; the logo in a corner
    page.click("[data-add=cta]")
    page.wait_for_selector("[data-bar='1']")
    _set(page, "#layer-href", "https://shop.example/p?n={{ first_name | urlencode }}")
    _until_text(page, lambda text: "first_name | urlencode" in text)
    start_before = _layer(page, "cta_2")["start"]
    bar = page.locator("[data-bar='1']").bounding_box()
    track = page.locator("[data-bar='1']").locator("xpath=..").bounding_box()
    _drag_from(page, bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] / 2, track["width"] * 0.2, 0)
    cta = _layer_in(_until_text(page, lambda text: _layer_in(text, "cta_2")["start"] != start_before), "cta_2")
    assert cta["start"] > start_before and abs((cta["end"] - cta["start"]) - 3) < 0.11, cta
    assert cta["href"] == "https://shop.example/p?n={{ first_name | urlencode }}"
    snap("cta-on-the-timeline")
    page.click("[data-add=image]")
    page.wait_for_selector("[data-box='2']")
    page.fill("#layer-src", logo)
    for name, value in LOGO_BOX.items():
        _set(page, f"#layer-{name}", str(value))
    _until_text(page, lambda text: _layer_in(text, "image_3")["box"] == LOGO_BOX)
    assert _layer(page, "image_3")["src"] == logo

    # the frame at 1 s shows the blue box where the text layer is, and the logo
    box = _layer(page, "greeting")["box"]
    greeting = (_px(box["x"], W), _px(box["y"], H), _px(box["w"], W), _px(box["h"], H))
    page.fill("#playhead", "1")
    page.dispatch_event("#playhead", "input")
    _fresh(page)
    shown = _shown_frame(page)
    assert shown.shape[:2] == (H, W)
    assert _share_near(shown, greeting, BLUE) > 0.5, _share_near(shown, greeting, BLUE)
    assert _share_near(shown, LOGO_INSIDE, YELLOW) > 0.9
    assert page.inner_text("[data-problem-count]") == "0"
    snap("preview-blue")

    # a mistake typed in the YAML is listed with its layer and field; clicking it goes to its line
    page.locator(".cm-line", has_text=re.compile(r"^\s*end: 3$")).first.click()
    page.keyboard.press("End")
    page.keyboard.press("Backspace")
    page.keyboard.type("x")
    page.wait_for_selector("[data-problems] button")
    problem = page.locator("[data-problems] button").first
    assert "greeting" in problem.inner_text() and "end" in problem.inner_text(), problem.inner_text()
    snap("problem-listed")
    page.focus("[data-box='0']")
    problem.click()
    mistake = page.evaluate(DOC).splitlines().index("    end: x") + 1
    assert page.evaluate(CURSOR_LINE) == mistake
    for _ in range(3):  # CodeMirror's own undo, in the YAML panel
        if "end: x" not in page.evaluate(DOC):
            break
        page.keyboard.press("Control+z")
    assert "\n    end: 3\n" in _until_text(page, lambda text: "end: x" not in text)
    _until(page, "document.querySelector('[data-problem-count]').textContent === '0'")
    assert page.input_value("#row-first_name") == "Zoe"  # the sample row outlived the broken text

    # save: a version with the blue box
    page.fill("#save-note", "blue box")
    page.click("[data-save]")
    _until(page, "document.querySelector('[data-save-status]').dataset.version !== undefined")
    blue = int(page.get_attribute("[data-save-status]", "data-version"))
    snap("saved-blue")

    # a campaign started now pins this version (the wizard's upload pins the latest)
    wizard = context.new_page()
    pinned_blue = _start_campaign(wizard, base, "promo")

    # edit the colour and save the next version
    page.click("[data-box='0']")
    _set(page, "#layer-background", RED)
    _until_text(page, lambda text: _layer_in(text, "greeting").get("background") == RED)
    _fresh(page)
    assert _share_near(_shown_frame(page), greeting, RED) > 0.5
    page.fill("#save-note", "red box")
    page.click("[data-save]")
    _until(page, f"document.querySelector('[data-save-status]').dataset.version === '{blue + 1}'")
    snap("saved-red")
    diff = page.get_attribute("[data-diff-link]", "href")
    assert diff.endswith(f"/versions/{blue}/diff/{blue + 1}"), diff

    # the whole video for the sample row, rendered by the engine
    page.click("[data-render-sample]")
    page.wait_for_selector("[data-sample-video]:not([hidden])", timeout=60_000)
    _until(page, "document.querySelector('[data-sample-video]').readyState >= 1")
    snap("sample-video")
    assert problems == []

    # the campaign pinned to the blue version renders blue; one started now renders red
    first = _submit_campaign(wizard, pinned_blue, app, "Blue spring")
    second = _submit_campaign(wizard, _start_campaign(wizard, base, "promo"), app, "Red summer")
    inset = (greeting[0] + 3, greeting[1] + 3, greeting[2] - 6, greeting[3] - 6)
    for campaign_id, color in ((first, BLUE), (second, RED)):
        for frame in _rendered_frames(runtime, campaign_id, 1.0, tmp_path):
            assert _share_near(frame, inset, color) > 0.5, (campaign_id, color, _share_near(frame, inset, color))
            assert _share_near(frame, LOGO_INSIDE, YELLOW) > 0.9
    with runtime.db.session() as session:
        numbers = {
            c.id: n
            for c, n in session.execute(
                select(Campaign, SceneVersion.number).join(SceneVersion, Campaign.scene_version_id == SceneVersion.id)
            )
        }
    assert numbers == {first: blue, second: blue + 1}
    wizard.screenshot(path=str(artifacts / f"editor-{next(shot):02d}-campaign-red.png"), full_page=True)


def test_the_editor_and_the_library_have_no_serious_accessibility_violation(browser, live_app, runtime, artifacts):
    base, _app = live_app
    make_user(runtime, "mia@example.com", "marketing")
    page = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900}).new_page()
    _sign_in(page, base, "mia@example.com")
    page.goto(f"{base}/studio/scenes/card/edit")
    page.wait_for_selector("[data-box='0']")
    page.click("[data-layer='0']")  # the layer form shown, too
    _fresh(page)
    page.focus("[data-box='0']")  # the keyboard moves a box: Shift+arrow 10 px
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("ArrowDown")
    assert _layer_in(_until_text(page, lambda text: "x: 60" in text), "hello")["box"] == {
        "x": 60,
        "y": 41,
        "w": 300,
        "h": 80,
    }
    page.click("[data-play]")  # play runs the playhead (the frame follows as fast as it is made); pause stops it
    _until(page, "Number(document.getElementById('playhead').value) > 0.5")
    page.click("[data-play]")
    assert page.get_attribute("[data-play]", "aria-pressed") == "false"
    found = serious_violations(page)
    assert found == [], "\n".join(found)
    page.screenshot(path=str(artifacts / "editor-axe-1280.png"), full_page=True)
    page.goto(f"{base}/studio/scenes")
    assert serious_violations(page) == []
    assert page.locator("a[href='/studio/scenes/card/edit']").count() >= 1


def test_saving_what_was_opened_keeps_its_bytes_and_analysts_may_not_edit(browser, live_app, runtime, scenes_dir):
    """Comments and CRLF line ends go through the page unchanged: the save finds the same text."""
    text = "# kept as is\r\n" + (scenes_dir / "card.yaml").read_text().replace("\n", "\r\n")
    with runtime.db.session() as session:
        scenelibrary.save_version(session, "crlf", text, author="tests")
        session.commit()
    make_user(runtime, "mia@example.com", "marketing")
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    _sign_in(page, base=live_app[0], email="mia@example.com")
    page.goto(f"{live_app[0]}/studio/scenes/crlf/edit")
    page.wait_for_selector("[data-box='0']")
    assert page.evaluate(DOC) == text
    page.click("[data-save]")
    _until(page, "document.querySelector('[data-save-status]').dataset.version === '1'")
    assert "nothing changed" in page.inner_text("[data-save-status]")
    with runtime.db.session() as session:
        assert [v.yaml_text for v in scenelibrary.versions_of(session, "crlf")] == [text]
    make_user(runtime, "ann@example.com", "analyst")  # analysts may look at scenes, not edit them
    analyst = browser.new_context().new_page()
    _sign_in(analyst, base=live_app[0], email="ann@example.com")
    assert analyst.goto(f"{live_app[0]}/studio/scenes/crlf/edit").status == 403
