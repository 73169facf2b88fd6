"""Only http(s) links leave pvideo: CTA targets and click redirects are checked here."""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

ALLOWED_SCHEMES = ("http", "https")
MAX_URL_LENGTH = 2048
_INVISIBLE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})  # controls, format (zero-width, bidi), Unicode spaces


def check_link(url: str) -> str:
    """Return ``url`` if it is an absolute http(s) URL; raise ``ValueError`` saying why not.

    Whitespace or control characters anywhere (Unicode spaces, zero-width and bidi
    characters too) are refused rather than stripped:
    browsers strip them, which is how ``" javascript:..."`` slips through filters.
    """
    if not url:
        raise ValueError("link is empty")
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"link is longer than {MAX_URL_LENGTH} characters")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F or (ord(c) > 0x7F and unicodedata.category(c) in _INVISIBLE) for c in url):
        raise ValueError("link contains whitespace or control characters (pass customer values through |urlencode)")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise ValueError(f"link scheme {parts.scheme or '(none)'!r} is not allowed; use http or https")
    if not parts.hostname:
        raise ValueError("link has no host")
    return url
