"""Rebuild the fallback fonts in assets/fonts/ from Debian's Noto packages.

Run once by a maintainer (the outputs are committed); needs fontTools and
``apt-get install fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji``:

    python assets/build_fonts.py [--src /usr/share/fonts] [--out assets/fonts]

Arabic, Hebrew, Devanagari and the color emoji are copied whole. Noto Sans CJK
(about 20 MB per weight) is cut to the characters names are written with: every
hanzi of GB2312 (Simplified Chinese) and Big5 level 1 (Traditional), every kanji
of JIS X 0208 (levels 1 and 2), all 11,172 Hangul syllables, kana, CJK
punctuation and full-width forms. Characters outside that set are drawn by no
bundled font (a box). The SC face of the collection is used: one glyph shape per
unified ideograph, horizontal forms only.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

WHOLE = {  # output name -> path under --src
    "NotoSansArabic-Regular.ttf": "truetype/noto/NotoSansArabic-Regular.ttf",
    "NotoSansArabic-Bold.ttf": "truetype/noto/NotoSansArabic-Bold.ttf",
    "NotoSansHebrew-Regular.ttf": "truetype/noto/NotoSansHebrew-Regular.ttf",
    "NotoSansHebrew-Bold.ttf": "truetype/noto/NotoSansHebrew-Bold.ttf",
    "NotoSansDevanagari-Regular.ttf": "truetype/noto/NotoSansDevanagari-Regular.ttf",
    "NotoSansDevanagari-Bold.ttf": "truetype/noto/NotoSansDevanagari-Bold.ttf",
    "NotoColorEmoji.ttf": "truetype/noto/NotoColorEmoji.ttf",
}
CJK = {  # output name -> (collection under --src, face name inside it)
    "NotoSansCJK-Regular.otf": ("opentype/noto/NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"),
    "NotoSansCJK-Bold.otf": ("opentype/noto/NotoSansCJK-Bold.ttc", "Noto Sans CJK SC"),
}


def _double_byte(codec: str, leads: range, trails: range) -> set[int]:
    """Every character a legacy double-byte code page encodes in the given byte ranges."""
    found = set()
    for lead in leads:
        for trail in trails:
            with contextlib.suppress(UnicodeDecodeError):
                found.update(map(ord, bytes((lead, trail)).decode(codec)))
    return found


def cjk_codepoints() -> set[int]:
    chars = _double_byte("gb2312", range(0xB0, 0xF8), range(0xA1, 0xFF))  # GB2312 hanzi
    chars |= _double_byte("big5", range(0xA4, 0xC7), range(0x40, 0xFF))  # Big5 level 1
    chars |= _double_byte("euc_jp", range(0xB0, 0xF5), range(0xA1, 0xFF))  # JIS X 0208 kanji
    chars |= set(range(0xAC00, 0xD7A4))  # Hangul syllables
    for first, last in [
        (0x3000, 0x303F),
        (0x3040, 0x30FF),
        (0x31F0, 0x31FF),
        (0x3130, 0x318F),
        (0xFF00, 0xFFEF),
        (0x1100, 0x11FF),
    ]:
        chars |= set(range(first, last + 1))  # kana, jamo, punctuation
    return chars


def _face(collection: Path, name: str) -> TTFont:
    for number in range(32):
        font = TTFont(collection, fontNumber=number)
        if font["name"].getDebugName(1) == name:
            return font
    raise SystemExit(f"{name!r} not found in {collection}")


def build(src: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, relative in WHOLE.items():
        shutil.copyfile(src / relative, out / name)
    options = subset.Options()
    options.layout_features = ["ccmp", "kern", "liga", "ljmo", "vjmo", "tjmo"]  # no regional or vertical forms
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    codepoints = cjk_codepoints()
    for name, (relative, face) in CJK.items():
        font = _face(src / relative, face)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=codepoints)
        subsetter.subset(font)
        font.save(out / name)
    for path in sorted(out.iterdir()):
        print(f"{path.stat().st_size:>10,}  {path.name}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=Path("/usr/share/fonts"))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "fonts")
    args = parser.parse_args()
    build(args.src, args.out)
