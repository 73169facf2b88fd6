"""Resolved bidi embedding levels from FriBiDi, the Unicode bidi algorithm raqm itself runs.

python-bidi's pure-Python algorithm predates isolates (LRI, RLI, FSI, PDI): it fails
an assertion on them. FriBiDi implements the whole algorithm (UAX #9, with
bracket pairs), and Pillow's raqm layout already needs it, so lines are given
the same levels browsers give them. The library is loaded on first use.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache

from pvideo.errors import AssetError

_PAR_ON = 0x40  # FRIBIDI_PAR_ON: the paragraph direction comes from its first strong character (rules P2, P3)
_Char = ctypes.c_uint32  # FriBidiChar, FriBidiCharType, FriBidiBracketType and FriBidiParType are 32-bit
_Level = ctypes.c_int8  # FriBidiLevel


@lru_cache(maxsize=1)
def _fribidi() -> ctypes.CDLL:
    name = ctypes.util.find_library("fribidi") or "libfribidi.so.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        raise AssetError(
            f"right-to-left text needs the FriBiDi library (Debian: apt-get install libfribidi0): {exc}"
        ) from None
    lib.fribidi_get_bidi_types.argtypes = [ctypes.POINTER(_Char), ctypes.c_int, ctypes.POINTER(_Char)]
    lib.fribidi_get_bidi_types.restype = None
    lib.fribidi_get_bracket_types.argtypes = [
        ctypes.POINTER(_Char),
        ctypes.c_int,
        ctypes.POINTER(_Char),
        ctypes.POINTER(_Char),
    ]
    lib.fribidi_get_bracket_types.restype = None
    lib.fribidi_get_par_embedding_levels_ex.argtypes = [
        ctypes.POINTER(_Char),
        ctypes.POINTER(_Char),
        ctypes.c_int,
        ctypes.POINTER(_Char),
        ctypes.POINTER(_Level),
    ]
    lib.fribidi_get_par_embedding_levels_ex.restype = _Level
    return lib


def embedding_levels(line: str) -> list[int]:
    """The level of each character of ``line`` (one paragraph) after rules P2-I2 and L1.

    Characters rule X9 removes (embedding and override controls) get their neighbour's level.
    """
    lib, count = _fribidi(), len(line)
    chars = (_Char * count)(*map(ord, line))
    types, brackets, levels = (_Char * count)(), (_Char * count)(), (_Level * count)()
    lib.fribidi_get_bidi_types(chars, count, types)
    lib.fribidi_get_bracket_types(chars, count, types, brackets)
    base = _Char(_PAR_ON)
    if count and not lib.fribidi_get_par_embedding_levels_ex(types, brackets, count, ctypes.byref(base), levels):
        raise AssetError("FriBiDi could not resolve the text direction")  # only when it runs out of memory
    return list(levels)
