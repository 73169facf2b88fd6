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

Three more fallbacks are cut to Unicode blocks (see ``BLOCKS``): Noto Sans for the
Latin, Greek and Cyrillic extensions Inter lacks (IPA, Greek Extended, Cyrillic
Supplement and Extended-A/B/C, Latin Extended-C/D/E), Noto Sans Math for the
Mathematical Alphanumeric Symbols (𝐀, 𝔄, 𝟙 ...), operators and arrows, and Noto
Sans Symbols 2 for technical symbols, box drawing, geometric shapes, dingbats
and Braille. Math and Symbols 2 have a regular weight only.
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

BLOCKS = {  # output name -> (file under --src, inclusive code point ranges kept)
    "NotoSans-Regular.ttf": ("truetype/noto/NotoSans-Regular.ttf", "extensions"),
    "NotoSans-Bold.ttf": ("truetype/noto/NotoSans-Bold.ttf", "extensions"),
    "NotoSansMath-Regular.ttf": ("truetype/noto/NotoSansMath-Regular.ttf", "math"),
    "NotoSansSymbols2-Regular.ttf": ("truetype/noto/NotoSansSymbols2-Regular.ttf", "symbols"),
}
RANGES = {
    "extensions": [
        (0x0020, 0x007E), (0x00A0, 0x00FF), (0x0250, 0x036F), (0x0370, 0x03FF), (0x0400, 0x052F),
        (0x1AB0, 0x1AFF), (0x1C80, 0x1C8F), (0x1D00, 0x1DFF), (0x1E00, 0x1FFF), (0x2000, 0x206F),
        (0x2C60, 0x2C7F), (0x2DE0, 0x2DFF), (0xA640, 0xA69F), (0xA720, 0xA7FF), (0xAB30, 0xAB6F),
    ],
    "math": [
        (0x0020, 0x007E), (0x2100, 0x214F), (0x2190, 0x21FF), (0x2200, 0x23FF), (0x27C0, 0x27FF),
        (0x2900, 0x2AFF), (0x1D400, 0x1D7FF), (0x1EE00, 0x1EEFF),
    ],
    "symbols": [
        (0x0020, 0x007E), (0x2190, 0x21FF), (0x2300, 0x23FF), (0x2400, 0x245F), (0x2500, 0x27BF),
        (0x2800, 0x28FF), (0x2B00, 0x2BFF), (0x4DC0, 0x4DFF), (0x1F780, 0x1F8FF),
    ],
}  # fmt: skip


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
    build_blocks(src, out)
    for path in sorted(out.iterdir()):
        print(f"{path.stat().st_size:>10,}  {path.name}")


def build_blocks(src: Path, out: Path) -> None:
    """The block subsets of Noto Sans, Noto Sans Math and Noto Sans Symbols 2 (fonts-noto-core)."""
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    options.drop_tables += ["DSIG"]
    for name, (relative, ranges) in BLOCKS.items():
        font = TTFont(src / relative)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes={cp for first, last in RANGES[ranges] for cp in range(first, last + 1)})
        subsetter.subset(font)
        font.save(out / name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=Path("/usr/share/fonts"))
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "fonts")
    args = parser.parse_args()
    build(args.src, args.out)
