"""Customer files as bytes: the encoding of a table (byte-order mark, UTF-8, cp1252/Latin-1)
and the separator of its columns (comma, semicolon, tab)."""

from __future__ import annotations

import codecs
import csv
import io
import re
from pathlib import Path
from typing import IO

from pvideo.errors import DataError

# A byte-order mark names the encoding (UTF-32 first: its little-endian mark starts like UTF-16's).
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CP1252_HOLES = re.compile(b"[\x81\x8d\x8f\x90\x9d]")  # the bytes cp1252 leaves undefined
UNDECODED = re.compile("[\udc80-\udcff]")  # bytes UTF-8 could not decode (surrogateescape)
_WIDE = re.compile("[^\x00-\x7f\udc80-\udcff]")  # a character UTF-8 did decode, past ASCII
_SCAN_CHUNK = 1 << 20
DELIMITERS = ",;\t"
_SNIFF_CHARS = 4096
MIXED = "not valid UTF-8 text, though the rest of the file is UTF-8: save the table again as UTF-8"


def detect_encoding(binary: IO[bytes]) -> str:
    """The encoding of a table, read from the start of ``binary`` (which is rewound).

    A byte-order mark names it (UTF-8, UTF-16, UTF-32). Without one, UTF-8 when the
    file holds UTF-8 characters (a stray invalid byte is then that row's problem, see
    ``customers.iter_csv``), or is plain ASCII; otherwise cp1252, the Windows "ANSI" export
    of spreadsheets (Latin-1 when a byte cp1252 leaves undefined is present). So any
    file decodes, and a problem is reported by row, never by byte offset.
    """
    head = binary.read(4)
    bom = next((name for mark, name in _BOMS if head.startswith(mark)), None)
    if bom is not None:
        binary.seek(0)
        return bom
    utf8 = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    invalid = wide = holes = False
    chunk, final = head, False
    while not final:
        more = binary.read(_SCAN_CHUNK)
        final = not more
        text = utf8.decode(chunk, final=final)
        invalid = invalid or UNDECODED.search(text) is not None
        wide = wide or _WIDE.search(text) is not None
        holes = holes or _CP1252_HOLES.search(chunk) is not None
        chunk = more
    binary.seek(0)
    return "utf-8" if wide or not invalid else "latin-1" if holes else "cp1252"


def csv_text(binary: IO[bytes]) -> io.TextIOWrapper:
    """A binary table as text in its detected encoding (``detect_encoding``); a byte UTF-8
    cannot decode becomes a lone surrogate that ``customers.iter_csv`` reports with its row."""
    encoding = detect_encoding(binary)
    return io.TextIOWrapper(binary, encoding=encoding, errors=decode_errors(encoding), newline="")


def sniff_delimiter(header: str) -> str:
    """The separator of a table's header line: a comma, semicolon or tab (a comma when unsure)."""
    try:
        return csv.Sniffer().sniff(header[:_SNIFF_CHARS], delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def codec_name(exc: UnicodeDecodeError) -> str:
    """``UTF-16`` for the ``utf-16-le`` a decoder names."""
    return exc.encoding.upper().removesuffix("-LE").removesuffix("-BE")


def decode_errors(encoding: str) -> str:
    """UTF-8 without a mark keeps a stray byte as a lone surrogate, reported with its row;
    a file with a byte-order mark must decode throughout."""
    return "surrogateescape" if encoding == "utf-8" else "strict"


def open_table(path: Path) -> IO[bytes]:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise DataError("file not found", source=str(path)) from None
    except OSError as exc:  # a folder, no permission
        raise DataError(f"cannot read the file: {exc.strerror or exc}", source=str(path)) from None


def json_text(path: Path) -> str:
    """A JSON file's text in its detected encoding (``detect_encoding``)."""
    with open_table(path) as binary:
        encoding = detect_encoding(binary)
        raw = binary.read()
    try:
        text = raw.decode(encoding, errors=decode_errors(encoding))
    except UnicodeDecodeError as exc:
        raise DataError(f"not valid {codec_name(exc)} text", source=str(path)) from None
    bad = UNDECODED.search(text)
    if bad:
        raise DataError(f"line {text.count(chr(10), 0, bad.start()) + 1}: {MIXED}", source=str(path))
    return text.removeprefix("\ufeff")
