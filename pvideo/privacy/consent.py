"""Consent-aware tracking, the request's side: what a viewer's request allows, and what a server
may write down about the address it came from.

A campaign's ``tracking`` mode (``full``, ``anonymous``, ``consent``) is applied where its rows
are made (``pvideo.tracking.anonymity``). In ``consent`` mode a viewer's events and answers are
kept whole only when the request says the viewer agreed: the landing page's tracker sends
``consent: true`` with each batch once the viewer pressed Accept (the CTA redirect: ``c=1``).
The server honours that claim in ``consent`` mode only, and never when the request refuses
tracking itself: ``Sec-GPC: 1`` (Global Privacy Control) or ``DNT: 1`` (Do Not Track) make the
request anonymous whatever the page says.

Addresses: no client address is stored or logged whole. Where one is worth writing down (the
access log line, ``api.access_log``), it is cut to its network: the first three bytes of IPv4
(a /24), the first 48 bits of IPv6 (a /48), which name an operator's block, not a household.
"""

from __future__ import annotations

import ipaddress

from pvideo.db.models import TrackingMode
from pvideo.tracking.anonymity import records_personal

IPV4_PREFIX = 24
IPV6_PREFIX = 48


def refuses_tracking(sec_gpc: str | None, dnt: str | None) -> bool:
    """Whether the request's own headers refuse tracking: ``Sec-GPC: 1`` or ``DNT: 1``."""
    return (sec_gpc or "").strip() == "1" or (dnt or "").strip() == "1"


def honoured_consent(claimed: bool, *, sec_gpc: str | None = None, dnt: str | None = None) -> bool:
    """The viewer's agreement as the server takes it: claimed by the page, not refused by the
    request's headers."""
    return bool(claimed) and not refuses_tracking(sec_gpc, dnt)


def records_viewer(mode: str | None, claimed: bool, *, sec_gpc: str | None = None, dnt: str | None = None) -> bool:
    """The whole policy in one call: whether a request of a campaign in ``mode`` (the page's
    claim, the request's headers) is recorded personally (session id, sequence, device clock,
    form fields) rather than only counted."""
    return records_personal(mode, honoured_consent(claimed, sec_gpc=sec_gpc, dnt=dnt))


def shows_banner(mode: str | None) -> bool:
    """Whether a campaign's landing page asks its viewers (the page still skips the banner when
    the browser refuses tracking: ``navigator.globalPrivacyControl`` or Do Not Track)."""
    return mode == TrackingMode.CONSENT


def truncated_address(address: str | None) -> str:
    """``address`` cut to its network (``203.0.113.0/24``, ``2001:db8:1::/48``); ``-`` for none or
    for what is not an IP address (a Unix socket, a test client's name)."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return "-"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = IPV4_PREFIX if ip.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
