"""Choose-your-path on the decoded timeline, in Chromium, on the MP4 and on HLS.

The template is solid colour blocks (one per section, 30 fps), so a decoded frame says which
section it came from. For each path the viewer picks, the positions the player logs before and
after each jump (``window.pvideoInteractive.log``) must sit on the section boundaries within
one frame, the frame drawn right after each seek must have the colour of the section it
landed in, and no presented frame may come from a branch that was not chosen.
"""

from __future__ import annotations

import pytest

from tests.browser.colours import FRAME, SAMPLER, make_colour_assets, nearest, render_campaign, scene, use_scenes

BLOCKS = [("red", 2), ("green", 1), ("blue", 1), ("yellow", 1), ("magenta", 1), ("cyan", 1)]
SECTIONS = [
    {"name": "intro", "start": 0, "end": 2},
    {"name": "billing", "start": 2, "end": 3},  # then: on past the other branches
    {"name": "savings", "start": 3, "end": 4, "then": "outro"},
    {"name": "support", "start": 4, "end": 5, "then": "end"},
    {"name": "recap", "start": 5, "end": 6},
    {"name": "outro", "start": 6, "end": 7},
]
COLOUR = {
    "intro": "red",
    "billing": "green",
    "savings": "blue",
    "support": "yellow",
    "recap": "magenta",
    "outro": "cyan",
}
CHOICE_AT = 1.5
SCENE = scene(
    "paths",
    "templates/colours.mp4",
    SECTIONS,
    [
        {
            "type": "choice",
            "id": "path",
            "start": CHOICE_AT,
            "question": "Tell me about",
            "options": [
                {"section": "billing", "label": "Billing"},
                {"section": "savings", "label": "Savings"},
                {"section": "support", "label": "Support"},
            ],
            "default": "billing",
            "timeout": 120,
        }
    ],
)
END = 7.0
# the viewer's pick -> the jumps: (from, to, reason, colour landed on)
PATHS = {
    "billing": [(CHOICE_AT, 2.0, "choice", "green"), (3.0, 5.0, "skip", "magenta")],
    "savings": [(CHOICE_AT, 3.0, "choice", "blue"), (4.0, 6.0, "then", "cyan")],
    "support": [(CHOICE_AT, 4.0, "choice", "yellow"), (5.0, END, "end", "cyan")],
}
PLAYED = {  # the sections whose frames show on each path
    "billing": {"intro", "billing", "recap", "outro"},
    "savings": {"intro", "savings", "outro"},
    "support": {"intro", "support", "outro"},
}


@pytest.fixture(scope="module")
def colour_assets(tmp_path_factory, assets_dir):
    return make_colour_assets(assets_dir, tmp_path_factory.mktemp("paths") / "assets", BLOCKS)


@pytest.fixture()
def settings(settings, colour_assets, tmp_path):
    return use_scenes(settings, colour_assets, tmp_path / "scenes", SCENE)


def _section_at(t: float) -> str:
    return next(s["name"] for s in SECTIONS if s["start"] <= t < s["end"]) if t < END else "outro"


def _play_path(
    browser, url: str, pick: str, artifacts, tag: str, init_script: str | None = None
) -> tuple[str, dict, list, float]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.wait_for_function(
        "() => window.pvideoInteractive && window.pvideoPlayer && document.getElementById('pvideo-video').readyState >= 2"
    )
    mode = page.evaluate("window.pvideoPlayer.mode")
    page.evaluate(SAMPLER)
    page.evaluate("() => { const v = document.getElementById('pvideo-video'); v.muted = true; return v.play(); }")
    option = page.locator(f'.pvideo-q-path[data-section="{pick}"]')
    option.wait_for(state="visible", timeout=20_000)
    assert page.evaluate("document.getElementById('pvideo-video').paused")  # the question holds the video
    page.screenshot(path=str(artifacts / f"branch-{tag}-{pick}-question.png"), animations="disabled")
    option.click()
    page.wait_for_function("() => document.getElementById('pvideo-video').ended", timeout=30_000)
    page.screenshot(path=str(artifacts / f"branch-{tag}-{pick}-end.png"), animations="disabled")
    log = page.evaluate("window.pvideoInteractive.log")
    offset = page.evaluate("window.pvideoInteractive.offset")
    duration = page.evaluate("document.getElementById('pvideo-video').duration")
    assert END - FRAME < duration - offset < END + 0.1, (duration, offset)  # HLS: the audio may end a little later
    log = [dict(j, end=duration) for j in log]
    frames = page.evaluate("window.__frames")
    assert not errors, errors
    context.close()
    return mode, frames, log, offset


def _check_path(pick: str, frames: dict, log: list, offset: float) -> None:
    """``offset``: where the first video frame sits on the player's timeline (HLS may start
    its timeline at the audio's first sample, a fraction of a frame earlier)."""
    expected = PATHS[pick]
    assert 0 <= offset < FRAME, offset
    assert [j["reason"] for j in log] == [e[2] for e in expected], log
    for jump, (start, to, _, colour) in zip(log, expected):
        assert abs(jump["from"] - start) <= FRAME, (pick, jump)  # the position reported before the jump
        if to < END:
            assert abs(jump["to"] - to) <= FRAME, (pick, jump)  # ... and after it
        else:  # the end of the video, as the player has it (HLS: the audio may run a little past)
            assert jump["to"] == jump["end"], (pick, jump)
        # the first frame decoded and drawn after that seek is from the section it landed in
        seek = min(frames["seeks"], key=lambda s: abs(s["t"] - jump["to"]))
        assert abs(seek["t"] - jump["to"]) < FRAME, (pick, seek, jump)
        if to < END:
            # (playback resumes at once, so on a busy machine a frame or two may pass before it is drawn)
            assert seek["frame"] is not None and to - FRAME <= seek["frame"] - offset <= to + 4 * FRAME, (pick, seek)
            assert nearest(seek["rgb"])[0] == colour and nearest(seek["rgb"])[1] < 80, (pick, seek)
    # every presented frame shows the section at its media time, and only the path's sections show;
    # a seek takes effect within a frame, so the frame right at a jump's boundary may still show once
    shown = [(f["t"] - offset, *nearest(f["rgb"])) for f in frames["frames"]]
    # each path plays at least 2.5 s (75 frames); a busy machine's browser skips some (60 in one CI run)
    assert len(shown) > 40, len(shown)
    played = {COLOUR[s] for s in PLAYED[pick]}
    at_jumps = [round(e[0]) for e in expected[1:]]  # boundaries left by a jump while playing
    stray = []
    for t, colour, distance in shown:
        assert distance < 80, (pick, t, colour, distance)
        if colour not in played:
            stray.append(t)
        elif all(abs(t - b) > FRAME / 2 for s in SECTIONS for b in (s["start"], s["end"])):
            assert colour == COLOUR[_section_at(t)], (pick, t, colour)
    assert len(stray) <= len(at_jumps), (pick, stray)
    assert all(any(abs(t - b) <= FRAME for b in at_jumps) for t in stray), (pick, stray)


NO_NATIVE_HLS = """(() => {
  // a browser without native HLS (Firefox, older Chromium): the page falls to the vendored hls.js
  const canPlay = HTMLMediaElement.prototype.canPlayType;
  HTMLMediaElement.prototype.canPlayType = function (type) {
    return /mpegurl/i.test(type) ? '' : canPlay.call(this, type);
  };
})();"""


def test_branches_play_on_the_decoded_timeline_on_mp4_and_hls(browser, live_app, artifacts):
    base, app = live_app
    rows = [{"customer_id": "c1"}]
    # MP4 first: the HLS campaign renders the same video and stores its playlist beside it
    _, (mp4_url,) = render_campaign(base, app, "paths", rows, outputs="mp4")
    for pick in PATHS:
        mode, frames, log, offset = _play_path(browser, mp4_url, pick, artifacts, "mp4")
        assert mode == "mp4" and offset == 0
        _check_path(pick, frames, log, offset)
    _, (hls_url,) = render_campaign(base, app, "paths", rows, outputs="both")
    for tag, script, expected_mode in (("hls", None, {"native-hls", "hls.js"}), ("hlsjs", NO_NATIVE_HLS, {"hls.js"})):
        for pick in PATHS:
            mode, frames, log, offset = _play_path(browser, hls_url, pick, artifacts, tag, init_script=script)
            assert mode in expected_mode, (tag, mode)
            _check_path(pick, frames, log, offset)


PATHS_JS = """(file) => {
  const sections = %s;
  const choice = %s;
  const run = (chosen, steps) => {
    const paths = window.pvideoPaths(sections, [choice], chosen, 0.03, () => 7);
    return steps.map(([t, landed]) => { if (landed) paths.landed(); return paths.next(t); });
  };
  return {
    // billing chosen: its end (no then) passes over savings and support; late, the same
    billing: run({path: 'billing'}, [[2.5], [2.98]]),
    billingLate: run({path: 'billing'}, [[2.9], [3.2]]),
    // savings: its then (outro) from its end; seeking into billing (not chosen) leaves it
    savings: run({path: 'savings'}, [[3.5], [3.975], [2.5, true]]),
    support: run({path: 'support'}, [[4.5], [4.99]]),
    // no pick yet: the video plays as it is
    none: run({}, [[1.99], [2.5], [2.99], [3.5]]),
  };
}"""


def test_path_decisions_before_and_after_each_boundary(browser):
    """interactive-paths.js alone (no video): what it decides at each moment of each path."""
    import json

    from api.pages import STATIC_DIR

    page = browser.new_page()
    page.add_script_tag(content=(STATIC_DIR / "interactive-paths.js").read_text())
    choice = SCENE["interactions"][0]
    got = page.evaluate(PATHS_JS % (json.dumps(SECTIONS), json.dumps(choice)))
    page.close()
    assert got["billing"] == [None, {"target": 5, "reason": "skip"}]
    assert got["billingLate"] == [None, {"target": 5, "reason": "skip"}]  # crossed unseen: still passed over
    assert got["savings"] == [None, {"target": 6, "reason": "then"}, {"target": 3, "reason": "skip"}]
    assert got["support"] == [None, {"target": 7, "reason": "end"}]
    assert got["none"] == [None, None, None, None]
