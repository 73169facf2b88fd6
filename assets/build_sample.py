#!/usr/bin/env python3
"""Build pvideo's bundled sample content, deterministically.

Creates, inside ``--out-dir`` (default: the folder this script is in):

* ``templates/welcome.mp4`` - a 1280x720, 30 fps, H.264 + AAC brand "welcome"
  template for the fictional company *Northwind*, in three sections
  (Welcome / Your plan / What's next). Regions where the scene script places
  per-customer overlays are left as plain background (see ``OVERLAY_BOXES``).
* ``templates/bill.mp4`` (9 s: Your bill / What changed / Pay in a tap),
  ``templates/renewal.mp4`` (12 s: Hello again / Your plan / An offer / Renew;
  the offer is the conditional section of ``scenes/renewal.yaml``) and
  ``templates/checkin.mp4`` (12 s: Hello / Billing / Savings / What's next; Billing and
  Savings are the two branches of ``scenes/checkin.yaml``'s choose-your-path), the same
  way, for the bill-explainer, renewal and check-in example scenes (see ``DESIGNS``).
* ``templates/welcome-vertical.mp4`` (360x640, 9:16) and ``templates/welcome-square.mp4``
  (480x480, 1:1) - the welcome template reframed for phones and feeds: the whole
  16:9 picture in the middle over a blurred, zoomed copy of itself (``REFRAMED``).
* ``templates/<name>.vtt`` - each template's own WebVTT captions.
* ``logo.png`` - a 320x320 RGBA Northwind logo with a transparent background.
* ``sample_customers.csv``, ``bill_customers.csv``, ``renewal_customers.csv``,
  ``checkin_customers.csv`` - sample customers for the four example scenes.

Frames are drawn with Pillow + numpy and piped as raw RGB into ffmpeg, which
also muxes a synthesized music bed (numpy sines, written to a temporary WAV).
Nothing is random, so the same inputs give the same files.

Usage::

    python assets/build_sample.py [--out-dir DIR] [--duration SECONDS] [--ffmpeg PATH] [--only bill,renewal]

Needs: Python 3.11+, numpy, pillow, and an ffmpeg with libx264 + aac
(taken from ``--ffmpeg``, ``$PVIDEO_FFMPEG``, imageio-ffmpeg, or ``PATH``).
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
FONT_BOLD = HERE / "fonts" / "Inter-Bold.otf"
FONT_REGULAR = HERE / "fonts" / "Inter-Regular.otf"

# ---------------------------------------------------------------------------
# Video format
# ---------------------------------------------------------------------------
WIDTH, HEIGHT, FPS = 1280, 720, 30
SAMPLE_RATE = 48_000
AUDIO_RMS_DBFS = -18.0
MAX_TEMPLATE_BYTES = 3 * 1024 * 1024

# Regions the scene script fills with per-customer content: keep them calm.
# (x, y, w, h) in pixels.
OVERLAY_BOXES = {
    "greeting": (80, 260, 760, 110),  # visible 1-9 s
    "plan": (80, 390, 760, 70),  # visible 10-19 s
    "cta": (80, 560, 360, 80),  # visible 20-29 s
    "logo": (1080, 40, 160, 160),  # whole video
}

SECTIONS = ("Welcome", "Your plan", "What's next")


@dataclass(frozen=True)
class Design:
    """One template: its sections (equal lengths), the overlay regions kept calm, and its captions
    (they leave gaps where the example scenes put their personalized lines)."""

    name: str
    duration: float
    sections: tuple[str, ...]
    boxes: dict[str, tuple[int, int, int, int]]
    captions: tuple[tuple[float, float, str], ...]


WELCOME = Design(
    "welcome",
    30.0,
    SECTIONS,
    OVERLAY_BOXES,
    (
        (0.5, 4.0, "Welcome to Northwind."),
        (10.5, 14.0, "Here is the plan you picked."),
        (20.5, 24.0, "Ready? Your tour starts with one click."),
    ),
)
BILL = Design(
    "bill",
    9.0,
    ("Your bill", "What changed", "Pay in a tap"),
    {
        "amount": (80, 200, 700, 130),  # visible 0.3-3 s
        "details": (80, 360, 700, 150),  # visible 3-6 s
        "cta": (80, 560, 420, 80),  # visible 6-9 s
    },
    (
        (0.2, 1.4, "Here is your Northwind bill, explained."),
        (3.2, 4.4, "What changed since last month."),
        (6.2, 7.4, "Pay in one tap, any time before the due date."),
    ),
)
RENEWAL = Design(
    "renewal",
    12.0,
    ("Hello again", "Your plan", "An offer", "Renew"),
    {
        "greeting": (80, 220, 740, 110),  # visible 0.3-3 s
        "plan": (80, 360, 740, 150),  # visible 3-6 s
        "offer": (80, 200, 740, 320),  # visible 6-9 s: the conditional section
        "cta": (80, 560, 380, 80),  # visible 9-12 s
    },
    (
        (0.2, 1.4, "Your Northwind plan renews soon."),
        (3.2, 5.8, "Here is what you have today."),
        (6.2, 7.4, "A thank-you offer, for a limited time."),
        (9.2, 11.8, "Renew in one click."),
    ),
)
CHECKIN = Design(
    "checkin",
    12.0,
    ("Hello", "Billing", "Savings", "What's next"),
    {
        "greeting": (80, 220, 740, 110),  # visible 0.3-3 s; the NPS and path questions pause over it
        "billing": (80, 200, 740, 320),  # visible 3-6 s: one branch of the path
        "savings": (80, 200, 740, 320),  # visible 6-9 s: the other branch
        "outro": (80, 220, 740, 110),  # visible 9-12 s: the form and the booking button
    },
    (
        (0.2, 1.4, "A quick check-in from Northwind."),
        (3.2, 4.4, "Here is how your bill works."),
        (6.2, 7.4, "Here is where you could save."),
        (9.2, 10.4, "Thanks for telling us."),
    ),
)
DESIGNS = {d.name: d for d in (WELCOME, BILL, RENEWAL, CHECKIN)}

# ---------------------------------------------------------------------------
# Brand palette (RGB)
# ---------------------------------------------------------------------------
WHITE = (255, 255, 255)
SLATE = (148, 163, 184)
SKY = (56, 189, 248)
MINT = (45, 212, 191)
INDIGO = (129, 140, 248)
# Background gradient (top-left, bottom-right) per section; cross-faded.
SECTION_BG = (
    ((9, 14, 36), (20, 26, 66)),  # deep navy
    ((6, 20, 34), (10, 44, 62)),  # deep teal
    ((14, 12, 38), (34, 22, 68)),  # deep violet
)
# Colour of the soft glows per section.
SECTION_GLOW = (SKY, MINT, INDIGO)


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------
def font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


def smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


def fade_window(t: float, start: float, end: float, ramp: float = 0.6) -> float:
    """1 inside [start, end], easing from/to 0 over ``ramp`` seconds."""
    return smoothstep((t - start) / ramp) * smoothstep((end - t) / ramp)


def find_ffmpeg(explicit: str | None) -> str:
    if explicit:
        return explicit
    if os.environ.get("PVIDEO_FFMPEG"):
        return os.environ["PVIDEO_FFMPEG"]
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:
        pass
    found = shutil.which("ffmpeg")
    if not found:
        sys.exit("ffmpeg not found: pass --ffmpeg, set PVIDEO_FFMPEG or install imageio-ffmpeg")
    return found


# ---------------------------------------------------------------------------
# Logo
# ---------------------------------------------------------------------------
def draw_mark(size: int) -> Image.Image:
    """The Northwind mark: a gradient disc with a white 'N' and a north arrow.

    Drawn 4x larger and downsampled for smooth edges.
    """
    ss = 4
    s = size * ss
    # Diagonal sky -> indigo gradient, masked by a disc.
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) / (s - 1)
    t = np.clip(0.55 * xx + 0.45 * (1.0 - yy), 0.0, 1.0)[..., None]
    grad = (1.0 - t) * np.array(INDIGO, np.float32) + t * np.array(SKY, np.float32)
    disc = Image.new("L", (s, s), 0)
    ImageDraw.Draw(disc).ellipse((0, 0, s - 1, s - 1), fill=255)
    mark = Image.fromarray(grad.astype(np.uint8)).convert("RGBA")
    mark.putalpha(disc)

    d = ImageDraw.Draw(mark)
    # Geometric "N": two verticals joined by a diagonal, in white.
    c = s / 2
    h = s * 0.40  # letter height
    w = s * 0.34  # letter width
    stroke = s * 0.085
    top, bottom = c - h / 2 + s * 0.05, c + h / 2 + s * 0.05
    left, right = c - w / 2, c + w / 2
    d.rectangle((left, top, left + stroke, bottom), fill=WHITE)
    d.rectangle((right - stroke, top, right, bottom), fill=WHITE)
    d.polygon(
        [(left, top), (left + stroke * 1.15, top), (right, bottom), (right - stroke * 1.15, bottom)],
        fill=WHITE,
    )
    # North arrow: a small triangle above the letter.
    tip = s * 0.11
    aw = s * 0.10
    base = top - s * 0.06
    d.polygon([(c, tip), (c + aw / 2, base), (c - aw / 2, base)], fill=WHITE)
    return mark.resize((size, size), Image.Resampling.LANCZOS)


def build_logo(path: Path) -> None:
    size = 320
    logo = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    logo.alpha_composite(draw_mark(size - 16), (8, 8))
    logo.save(path, optimize=True)


# ---------------------------------------------------------------------------
# Customers
# ---------------------------------------------------------------------------
CUSTOMERS = [
    ("C-1001", "Maya", "Plus", "19.99", "maya.patel@example.com"),
    ("C-1002", "D'Andre", "Basic", "9.99", "dandre.obrien@example.com"),
    ("C-1003", "Zoë", "Family", "29.99", "zoe.muller@example.com"),
    ("C-1004", "Siobhán", "Pro", "39.99", "siobhan.kelly@example.com"),
    ("C-1005", "Alexandria-Josephine", "Plus", "19.99", "alex.j.whitfield@example.com"),
    ("C-1006", "Kenji", "Pro", "39.99", "kenji.tanaka@example.com"),
]


BILL_CUSTOMERS = [
    ("B-2001", "Maya", "84.20", "71.50", "2026-12-15", "412", "0"),
    ("B-2002", "D'Andre", "1234.50", "980.00", "2026-12-20", "5120", "1"),
    ("B-2003", "Zoë", "9.99", "12.40", "2027-01-05", "38", "2"),
]
RENEWAL_CUSTOMERS = [
    ("R-3001", "Maya", "Plus", "19.99", "12", "2026-12-04", "20"),
    ("R-3002", "Kenji", "Pro", "39.99", "45", "2027-01-06", "15"),
]
CHECKIN_CUSTOMERS = [
    ("K-4001", "Maya", "maya.patel@example.com", "Plus", "84.20", "12.50", "https://cal.example.com/northwind/jordan"),
    ("K-4002", "D'Andre", "dandre.obrien@example.com", "Basic", "29.99", "4.00", ""),
    ("K-4003", "Zoë", "zoe.muller@example.com", "Pro", "129.00", "31.75", "https://cal.example.com/northwind/amara"),
]
TABLES = {
    "sample_customers.csv": (("customer_id", "first_name", "plan", "price", "email"), CUSTOMERS),
    "bill_customers.csv": (
        ("customer_id", "first_name", "amount", "previous", "due", "kwh", "late_fees"),
        BILL_CUSTOMERS,
    ),
    "renewal_customers.csv": (
        ("customer_id", "first_name", "plan", "price", "days_left", "renews", "discount"),
        RENEWAL_CUSTOMERS,
    ),
    "checkin_customers.csv": (
        ("customer_id", "first_name", "email", "plan", "monthly", "save", "advisor_url"),
        CHECKIN_CUSTOMERS,
    ),
}


def build_customers(path: Path, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    return f"{millis // 3_600_000:02d}:{millis // 60_000 % 60:02d}:{millis // 1000 % 60:02d}.{millis % 1000:03d}"


def build_captions(path: Path, design: Design) -> None:
    """The template's own captions (what its narration would say), as WebVTT."""
    lines = ["WEBVTT", ""]
    for start, end, text in design.captions:
        lines += [f"{vtt_time(start)} --> {vtt_time(end)}", text, ""]
    path.write_text("\n".join(lines), encoding="utf-8")


# ---------------------------------------------------------------------------
# Soundtrack: a soft pad + bass + arpeggio in D major, 64 BPM
# ---------------------------------------------------------------------------
def midi_hz(note: int) -> float:
    return 440.0 * 2.0 ** ((note - 69) / 12.0)


# Chord tones as MIDI notes: Dmaj7, Bm7, Gmaj7, Asus4 -> A.
CHORDS = (
    (62, 66, 69, 73),
    (59, 62, 66, 69),
    (55, 59, 62, 66),
    (57, 62, 64, 69),
)


def synth_music(duration: float) -> np.ndarray:
    """Return float32 stereo samples, shape (n, 2), RMS about -18 dBFS."""
    n = round(duration * SAMPLE_RATE)
    t = np.arange(n, dtype=np.float64) / SAMPLE_RATE
    out = np.zeros((n, 2), dtype=np.float64)

    beat = 60.0 / 64.0
    chord_len = 4 * beat
    n_chords = math.ceil(duration / chord_len)

    for i in range(n_chords):
        notes = CHORDS[i % len(CHORDS)]
        start = i * chord_len
        end = start + chord_len
        # Pad: overlapping, slow attack/release so chords melt into each other.
        s0 = int(start * SAMPLE_RATE)
        s1 = min(n, int((end + 1.2) * SAMPLE_RATE))
        if s0 >= n:
            break
        tt = t[s0:s1] - start
        env = np.minimum(1.0, tt / 0.9) * np.clip((chord_len + 1.2 - tt) / 1.6, 0.0, 1.0)
        env = env**1.5
        for k, note in enumerate(notes):
            f = midi_hz(note)
            detune = 0.6 + 0.2 * k  # Hz, L/R differ -> gentle width
            out[s0:s1, 0] += env * 0.16 * np.sin(2 * np.pi * (f - detune / 2) * tt + k)
            out[s0:s1, 1] += env * 0.16 * np.sin(2 * np.pi * (f + detune / 2) * tt + 2 * k)
        # Bass: chord root two octaves down.
        fb = midi_hz(notes[0] - 24)
        bass = env * 0.30 * (np.sin(2 * np.pi * fb * tt) + 0.15 * np.sin(4 * np.pi * fb * tt))
        out[s0:s1] += bass[:, None]

        # Arpeggio: 8th notes up and down the chord, an octave up, plucked.
        pattern = (0, 1, 2, 3, 2, 1, 2, 3)
        for j, idx in enumerate(pattern):
            a0 = start + j * beat / 2
            p0 = int(a0 * SAMPLE_RATE)
            p1 = min(n, p0 + int(1.4 * SAMPLE_RATE))
            if p0 >= n:
                break
            ta = t[p0:p1] - a0
            f = midi_hz(notes[idx] + 12)
            penv = np.minimum(1.0, ta / 0.006) * np.exp(-ta / 0.35)
            tone = penv * 0.11 * (np.sin(2 * np.pi * f * ta) + 0.2 * np.sin(4 * np.pi * f * ta))
            pan = 0.5 + 0.3 * math.sin(j * math.pi / 4)
            out[p0:p1, 0] += tone * math.cos(pan * math.pi / 2)
            out[p0:p1, 1] += tone * math.sin(pan * math.pi / 2)

    # Master fade-in/out.
    fade = np.minimum(1.0, t / 1.5) * np.clip((duration - t) / 2.5, 0.0, 1.0)
    out *= fade[:, None]

    # Normalize to the target loudness (RMS), keep peaks well below 0 dBFS.
    rms = float(np.sqrt(np.mean(out**2)))
    out *= 10 ** (AUDIO_RMS_DBFS / 20.0) / max(rms, 1e-9)
    peak = float(np.max(np.abs(out)))
    if peak > 0.89:
        out *= 0.89 / peak
    return out.astype(np.float32)


def write_wav(path: Path, samples: np.ndarray) -> None:
    pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm.tobytes())


# ---------------------------------------------------------------------------
# Video frames
# ---------------------------------------------------------------------------
class TemplateRenderer:
    """Draws frame ``i`` of the welcome template as a 720x1280x3 uint8 array.

    Static elements (text, marks) are drawn once; per frame we only compute the
    background (at quarter resolution, then upscaled - it is all soft) and
    composite the animated pieces.
    """

    # The background is rendered at 1/4 size: it only has soft gradients.
    BG_SCALE = 4

    def __init__(self, duration: float, design: Design = WELCOME) -> None:
        self.duration = duration
        self.sections = design.sections
        self.boxes = design.boxes
        self.section_len = duration / len(self.sections)
        self.n_frames = round(duration * FPS)

        bw, bh = WIDTH // self.BG_SCALE, HEIGHT // self.BG_SCALE
        yy, xx = np.mgrid[0:bh, 0:bw].astype(np.float32)
        self.bg_x = xx * self.BG_SCALE
        self.bg_y = yy * self.BG_SCALE
        self.bg_t = np.clip(0.65 * xx / (bw - 1) + 0.35 * yy / (bh - 1), 0.0, 1.0)[..., None]

        # Calm mask: the glows fade out gently towards the left column, where
        # the overlays live (0 left of x=520, 1 right of x=1100; wide and
        # smooth so it never shows as an edge).
        self.calm = smooth_ramp(self.bg_x, 520.0, 1100.0)[..., None]

        self._build_static()

    # -- static layers ------------------------------------------------------
    def _build_static(self) -> None:
        bold_brand = font(FONT_BOLD, 30)
        # Brand lock-up (top left): mark + "Northwind".
        brand = Image.new("RGBA", (360, 64), (0, 0, 0, 0))
        brand.alpha_composite(draw_mark(44), (0, 10))
        ImageDraw.Draw(brand).text((58, 32), "Northwind", font=bold_brand, fill=WHITE, anchor="lm")
        self.brand = brand
        self.brand_pos = (80, 46)

        # Section titles (upper right, under the logo box): number + title.
        num_font = font(FONT_BOLD, 18)
        title_font = font(FONT_BOLD, 46)
        self.titles = []
        for i, name in enumerate(self.sections):
            img = Image.new("RGBA", (400, 110), (0, 0, 0, 0))
            d = ImageDraw.Draw(img)
            right = 399
            number = f"{i + 1:02d} / {len(self.sections):02d}"
            d.text((right, 14), number, font=num_font, fill=SECTION_GLOW[i % len(SECTION_GLOW)], anchor="rm")
            d.text((right, 60), name, font=title_font, fill=WHITE, anchor="rm")
            d.rounded_rectangle((right - 48, 96, right, 100), radius=2, fill=SECTION_GLOW[i % len(SECTION_GLOW)])
            self.titles.append(img)
        self.title_pos = (1200 - 400, 232)

        # Bottom timeline: one label per section under a progress track.
        label_font = font(FONT_REGULAR, 17)
        label_bold = font(FONT_BOLD, 17)
        self.track_x0, self.track_x1, self.track_y = 80, 1200, 668
        seg = (self.track_x1 - self.track_x0) / len(self.sections)
        self.labels = []  # (inactive, active) per section
        for i, name in enumerate(self.sections):
            pair = []
            for active in (False, True):
                img = Image.new("RGBA", (300, 28), (0, 0, 0, 0))
                d = ImageDraw.Draw(img)
                f = label_bold if active else label_font
                colour = WHITE if active else SLATE
                d.text((0, 14), f"{i + 1:02d}  {name}", font=f, fill=colour, anchor="lm")
                pair.append(img)
            self.labels.append((pair, int(self.track_x0 + i * seg), self.track_y + 10))

        self._check_layout()

    def _check_layout(self) -> None:
        """Fail loudly if any drawn text would land in an overlay box."""
        placed = [(self.brand, self.brand_pos)]
        for title in self.titles:  # titles slide up by at most 14 px
            placed += [(title, self.title_pos), (title, (self.title_pos[0], self.title_pos[1] + 14))]
        placed += [(img, (x, y)) for pair, x, y in self.labels for img in pair]
        for img, (px, py) in placed:
            bx0, by0, bx1, by1 = img.getchannel("A").getbbox()
            for name, (x, y, w, h) in self.boxes.items():
                if px + bx0 < x + w and x < px + bx1 and py + by0 < y + h and y < py + by1:
                    raise AssertionError(f"template text overlaps the {name} overlay box")

        # Ripples ("wind") on the right side: distance field around a centre.
        self.rip_box = (860, 300, 1280, 720)  # x0, y0, x1, y1
        self.rip_centre = (1130.0, 520.0)
        x0, y0, x1, y1 = self.rip_box
        ry, rx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        self.rip_dist = np.hypot(rx - self.rip_centre[0], ry - self.rip_centre[1])
        # Feather the ripples out towards the left and top edges of their box,
        # and away from the timeline at the bottom.
        feather = smooth_ramp(rx, x0, x0 + 120) * smooth_ramp(ry, y0, y0 + 90)
        feather *= 1.0 - smooth_ramp(ry, 600.0, 650.0)
        self.rip_feather = feather

    # -- per-frame ----------------------------------------------------------
    def _section_weights(self, t: float) -> np.ndarray:
        """Cross-fade weights of the three sections at time t (sum to 1)."""
        w = np.zeros(len(self.sections), np.float32)
        # A 1 s crossfade centred on each section boundary.
        for k in range(len(self.sections)):
            start = k * self.section_len
            end = start + self.section_len
            lo = smoothstep((t - start + 0.5) / 1.0) if k > 0 else 1.0
            hi = smoothstep((end - t + 0.5) / 1.0) if k < len(self.sections) - 1 else 1.0
            w[k] = lo * hi
        return w / w.sum()

    def _background(self, t: float) -> np.ndarray:
        w = self._section_weights(t)
        c0 = sum(w[k] * np.array(SECTION_BG[k % len(SECTION_BG)][0], np.float32) for k in range(len(self.sections)))
        c1 = sum(w[k] * np.array(SECTION_BG[k % len(SECTION_BG)][1], np.float32) for k in range(len(self.sections)))
        glow = sum(w[k] * np.array(SECTION_GLOW[k % len(SECTION_GLOW)], np.float32) for k in range(len(self.sections)))

        bg = (1.0 - self.bg_t) * c0 + self.bg_t * c1

        # Three soft glows drifting slowly on Lissajous paths (right side).
        light = np.zeros(self.bg_x.shape, np.float32)
        blobs = (
            # cx, cy, ax, ay, fx, fy, sigma, strength
            (1060, 430, 140, 130, 0.050, 0.037, 230, 0.36),
            (880, 20, 120, 30, 0.031, 0.045, 180, 0.22),
            (1060, 780, 160, 30, 0.041, 0.029, 200, 0.24),
        )
        for n, (cx, cy, ax, ay, fx, fy, sig, k) in enumerate(blobs):
            px = cx + ax * math.sin(2 * math.pi * fx * t + n * 1.7)
            py = cy + ay * math.sin(2 * math.pi * fy * t + n * 0.9)
            light += k * np.exp(-((self.bg_x - px) ** 2 + (self.bg_y - py) ** 2) / (2 * sig * sig))
        bg = bg + light[..., None] * self.calm * glow * 0.55
        return bg

    def frame(self, i: int) -> np.ndarray:
        t = i / FPS
        small = np.clip(self._background(t) + 0.5, 0, 255).astype(np.uint8)
        img = Image.fromarray(small).resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR)
        arr = np.asarray(img, dtype=np.float32).copy()

        w = self._section_weights(t)
        glow = sum(w[k] * np.array(SECTION_GLOW[k % len(SECTION_GLOW)], np.float32) for k in range(len(self.sections)))

        # Ripples: three rings expanding from the centre, fading as they grow.
        x0, y0, x1, y1 = self.rip_box
        period, r_max = 6.0, 300.0
        ring_alpha = np.zeros(self.rip_dist.shape, np.float32)
        for k in range(3):
            phase = ((t / period) + k / 3.0) % 1.0
            r = 40.0 + phase * (r_max - 40.0)
            strength = 0.22 * math.sin(math.pi * phase) ** 2
            ring_alpha += strength * np.clip(1.0 - np.abs(self.rip_dist - r) / 1.6, 0.0, 1.0)
        ring_alpha *= self.rip_feather
        region = arr[y0:y1, x0:x1]
        region += ring_alpha[..., None] * (glow - region)

        # Progress track along the bottom.
        ty = self.track_y
        track = arr[ty : ty + 2, self.track_x0 : self.track_x1]
        track += 0.18 * (np.array(SLATE, np.float32) - track)
        progress = min(1.0, t / self.duration)
        fill_x = round(self.track_x0 + (self.track_x1 - self.track_x0) * progress)
        if fill_x > self.track_x0:
            arr[ty : ty + 2, self.track_x0 : fill_x] = glow

        img = Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8))

        # Brand lock-up (fades in over the first 0.8 s).
        paste_faded(img, self.brand, self.brand_pos, smoothstep(t / 0.8))

        # Section title: fades and slides in, fades out before the boundary.
        for k, title in enumerate(self.titles):
            start = k * self.section_len
            a = fade_window(t, start + 0.3, start + self.section_len - 0.2, ramp=0.6)
            if a <= 0.0:
                continue
            slide = round((1.0 - smoothstep((t - start - 0.3) / 0.8)) * 14)
            paste_faded(img, title, (self.title_pos[0], self.title_pos[1] + slide), a)

        # Timeline labels: the current section is highlighted.
        current = min(int(t // self.section_len), len(self.sections) - 1)
        for k, ((inactive, active), lx, ly) in enumerate(self.labels):
            paste_faded(img, active if k == current else inactive, (lx, ly), 1.0)

        return np.asarray(img)


def smooth_ramp(x: np.ndarray, a: float, b: float) -> np.ndarray:
    """Elementwise smoothstep from 0 (x <= a) to 1 (x >= b)."""
    u = np.clip((x - a) / (b - a), 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def paste_faded(dst: Image.Image, src: Image.Image, pos: tuple[int, int], alpha: float) -> None:
    if alpha <= 0.0:
        return
    mask = src.getchannel("A")
    if alpha < 1.0:
        mask = mask.point(lambda v: int(v * alpha + 0.5))
    dst.paste(src.convert("RGB"), pos, mask)


# ---------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------
def build_template(path: Path, duration: float, ffmpeg: str, crf: int, design: Design = WELCOME) -> None:
    renderer = TemplateRenderer(duration, design)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = path.with_name(path.stem + ".tmp.mp4")

    with tempfile.TemporaryDirectory(prefix="pvideo-sample-") as tmp:
        wav = Path(tmp) / "music.wav"
        write_wav(wav, synth_music(duration))
        log = Path(tmp) / "ffmpeg.log"

        cmd = [
            ffmpeg, "-y", "-hide_banner", "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{WIDTH}x{HEIGHT}", "-r", str(FPS), "-i", "-",
            "-i", str(wav),
            "-map", "0:v:0", "-map", "1:a:0",
            "-vf", "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p",
            "-c:v", "libx264", "-preset", "medium", "-crf", str(crf), "-profile:v", "high",
            "-g", str(FPS), "-keyint_min", str(FPS), "-sc_threshold", "0",
            "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
            "-c:a", "aac", "-b:a", "128k", "-ar", str(SAMPLE_RATE), "-ac", "2",
            "-frames:v", str(renderer.n_frames),
            "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
            "-movflags", "+faststart",
            str(tmp_out),
        ]  # fmt: skip
        with log.open("wb") as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=err)
            assert proc.stdin is not None
            try:
                for i in range(renderer.n_frames):
                    proc.stdin.write(renderer.frame(i).tobytes())
            except BrokenPipeError:
                pass
            finally:
                proc.stdin.close()
            rc = proc.wait()
        if rc != 0:
            sys.exit(f"ffmpeg failed ({rc}):\n{log.read_text(errors='replace')}")
    os.replace(tmp_out, path)


REFRAMED = {"welcome-vertical": (360, 640), "welcome-square": (480, 480)}


def build_reframed(source: Path, path: Path, size: tuple[int, int], ffmpeg: str) -> None:
    """``source`` in another aspect ratio: fitted whole into ``size`` over a blurred fill of itself."""
    w, h = size
    graph = (
        f"[0:v]split[a][b];[a]scale={w}:{h}:force_original_aspect_ratio=increase,crop={w}:{h},boxblur=16,"
        f"eq=brightness=-0.08[bg];[b]scale={w}:-2[fg];[bg][fg]overlay=(W-w)/2:(H-h)/2,format=yuv420p[v]"
    )
    cmd = [
        ffmpeg, "-y", "-hide_banner", "-loglevel", "error", "-i", str(source),
        "-filter_complex", graph, "-map", "[v]", "-map", "0:a:0",
        "-c:v", "libx264", "-preset", "medium", "-crf", "30", "-profile:v", "high",
        "-g", str(FPS), "-keyint_min", str(FPS), "-sc_threshold", "0",
        "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
        "-c:a", "aac", "-b:a", "64k", "-ar", str(SAMPLE_RATE), "-ac", "2",
        "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
        "-movflags", "+faststart", str(path),
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"ffmpeg failed ({result.returncode}):\n{result.stderr}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, default=HERE, help="where to write the assets (default: %(default)s)")
    parser.add_argument("--duration", type=float, default=30.0, help="template length in seconds (default: 30)")
    parser.add_argument("--crf", type=int, default=28, help="x264 CRF for the template (default: 28)")
    parser.add_argument("--ffmpeg", help="ffmpeg binary (default: $PVIDEO_FFMPEG, imageio-ffmpeg, PATH)")
    parser.add_argument(
        "--only", default=",".join(DESIGNS), help="comma-separated templates to build (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    if args.duration < 3:
        parser.error("--duration must be at least 3 seconds")
    names = [n for n in args.only.split(",") if n]
    if unknown := set(names) - set(DESIGNS):
        parser.error(f"--only: unknown template(s) {', '.join(sorted(unknown))}; choose from {', '.join(DESIGNS)}")

    out: Path = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    build_logo(out / "logo.png")
    for name, (header, rows) in TABLES.items():
        build_customers(out / name, header, rows)
    for design in DESIGNS.values():
        build_captions(out / "templates" / f"{design.name}.vtt", design)
    ffmpeg = find_ffmpeg(args.ffmpeg)
    failed = False
    for name in names:
        design = DESIGNS[name]
        duration = args.duration if design is WELCOME else design.duration
        template = out / "templates" / f"{name}.mp4"
        build_template(template, duration, ffmpeg, args.crf, design)
        size = template.stat().st_size
        print(f"{template}  {size:,} bytes")
        if size >= MAX_TEMPLATE_BYTES:
            print(f"error: {template} is {size:,} bytes, over the {MAX_TEMPLATE_BYTES:,}-byte budget", file=sys.stderr)
            failed = True
        if design is WELCOME:
            for variant, frame in REFRAMED.items():
                reframed = out / "templates" / f"{variant}.mp4"
                build_reframed(template, reframed, frame, ffmpeg)
                print(f"{reframed}  {reframed.stat().st_size:,} bytes")
    for p in [out / "logo.png", *(out / name for name in TABLES)]:
        print(f"{p}  {p.stat().st_size:,} bytes")
    print(f"done in {time.monotonic() - started:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
