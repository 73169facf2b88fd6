"""Only http(s) links leave pvideo: CTA targets and click redirects are checked here."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote, urlsplit, urlunsplit

ALLOWED_SCHEMES = ("http", "https")
MAX_URL_LENGTH = 2048
_INVISIBLE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})  # controls, format (zero-width, bidi), Unicode spaces
_ASCII_INVISIBLE = re.compile("[\x00-\x20\x7f]")  # what a link checked for every row meets most: one C scan


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
    if _ASCII_INVISIBLE.search(url) or (
        not url.isascii() and any(ord(c) > 0x7F and unicodedata.category(c) in _INVISIBLE for c in url)
    ):
        raise ValueError(
            "link contains whitespace or control characters (for a whole URL from the data "
            "write {{ field | safe_url }}, or give the field type: url)"
        )
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise ValueError(f"link scheme {parts.scheme or '(none)'!r} is not allowed; use http or https")
    if not parts.hostname:
        raise ValueError("link has no host")
    return url


_ESCAPED = re.compile(r"%[0-9A-Fa-f]{2}")
_SAFE = "!#$&'()*+,/:;=?@[]~-._"  # URI reserved and unreserved characters: kept as they are


def normalize_url(text: str) -> str:
    """An IRI as a URI, then checked like a CTA link: ``https://bücher.de/ä b?q=1 2`` ->
    ``https://xn--bcher-kva.de/%C3%A4%20b?q=1%202``.

    Surrounding whitespace is dropped; spaces and non-ASCII characters in the path, query and
    fragment are percent-encoded as UTF-8 (an existing ``%XX`` is kept, a lone ``%`` becomes
    ``%25``); the host is IDNA-encoded and lower-cased. Controls and invisible characters are
    still refused. ``ValueError`` says why a value is not an http(s) link.
    """
    text = text.strip()
    if any(ord(c) < 0x20 or ord(c) == 0x7F or (unicodedata.category(c) in {"Cc", "Cf", "Zl", "Zp"}) for c in text):
        raise ValueError("link contains control or invisible characters")
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # e.g. an unclosed [ of an IPv6 host
        raise ValueError(f"link is not a URL: {exc}") from None
    netloc = parts.netloc
    if parts.hostname:
        netloc = _ascii_netloc(netloc)
    uri = urlunsplit((parts.scheme, netloc, _encode(parts.path), _encode(parts.query), _encode(parts.fragment)))
    return check_link(uri)


def _encode(part: str) -> str:
    """Percent-encode what a URI cannot hold, never an existing ``%XX`` escape."""
    pieces = []
    last = 0
    for match in _ESCAPED.finditer(part):
        pieces.append(quote(part[last : match.start()], safe=_SAFE))
        pieces.append(match.group())
        last = match.end()
    pieces.append(quote(part[last:], safe=_SAFE))
    return "".join(pieces)


def _ascii_netloc(netloc: str) -> str:
    """``user@bücher.de:8080`` -> ``user@xn--bcher-kva.de:8080`` (credentials percent-encoded)."""
    userinfo, at, hostport = netloc.rpartition("@")
    host, colon, port = hostport, "", ""
    if not hostport.endswith("]"):  # an IPv6 literal keeps its colons
        host, colon, port = hostport.rpartition(":") if ":" in hostport else (hostport, "", "")
    if any(c.isspace() for c in host):
        raise ValueError(f"link host {host[:100]!r} is not a valid domain name")
    try:
        ascii_host = ".".join(
            label.encode("idna").decode("ascii") if not label.isascii() else label for label in host.split(".")
        )
    except UnicodeError:
        raise ValueError(f"link host {host[:100]!r} is not a valid domain name") from None
    user = quote(userinfo, safe=":%!$&'()*+,;=") if at else ""
    return f"{user}{at}{ascii_host.lower()}{colon}{port}"
