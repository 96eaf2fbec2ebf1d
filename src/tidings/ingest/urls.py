"""URL canonicalisation: one spelling per article so it is stored once."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRACKING_PREFIXES = ("utm_", "mc_", "_hs", "pk_", "mtm_")
_TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "ref_src", "cmpid", "ocid", "smid"}
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


_CONTROLS = re.compile(r"[\x00-\x20\x7f]")


def canonicalize_url(url: str) -> str:
    """Lower-case scheme and host, drop default port, fragment and tracking parameters.

    Idempotent: canonicalize_url(canonicalize_url(u)) == canonicalize_url(u).
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{host}:{parts.port}"
    if parts.username:
        netloc = f"{parts.username}{':' + parts.password if parts.password else ''}@{netloc}"
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in _TRACKING_PARAMS and not key.lower().startswith(_TRACKING_PREFIXES)
    ]
    # Controls and spaces left inside the path are percent-encoded (as browsers do), so a later
    # strip() cannot remove them and the result stays canonical.
    path = _CONTROLS.sub(lambda m: f"%{ord(m.group()):02X}", parts.path) or "/"
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))


def same_site(first: str, second: str) -> bool:
    """Whether two URLs share a host (ignoring a leading www.)."""

    def host(url: str) -> str:
        return (urlsplit(url).hostname or "").lower().removeprefix("www.")

    return host(first) == host(second)
