"""Whether an app is on the same site as the sandbox page that frames it, as browsers decide it.

Browsers treat a framed page from another *site* — scheme plus registrable domain — as third-party: its cookies
are not sent (SameSite) or are partitioned, and its storage is partitioned, so an app that keeps its sign-in
state there loses it inside the EHR's frame. `127.0.0.1` and `localhost` are different sites; `app.example.org`
and `ehr.example.org` are the same site. Without the Public Suffix List the registrable domain is taken as the
last two labels of a host name, which is right for the host names of local development and most test setups.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def site_of(url: str) -> tuple[str, str] | None:
    """(scheme, site) of an absolute http(s) URL, or None."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme not in ("http", "https") or not host:
        return None
    try:
        ipaddress.ip_address(host)
        return parts.scheme, host
    except ValueError:
        labels = host.split(".")
        return parts.scheme, ".".join(labels[-2:])


def cross_site(app_url: str | None, page_url: str) -> bool:
    app, page = site_of(app_url or ""), site_of(page_url)
    return bool(app and page and app != page)


def cross_site_note(app_url: str | None, page_url: str) -> str | None:
    """What the browser will do to an app framed from another site, and the fix; None on the same site."""
    if not cross_site(app_url, page_url):
        return None
    app_host, page_host = urlsplit(app_url or "").netloc, urlsplit(page_url).netloc
    return (f"This app is served from {app_host}, a different site from this sandbox ({page_host}). Inside the "
            "chart's frame the browser treats it as third-party and blocks or partitions its cookies and storage, "
            f"so an app that keeps its sign-in state there loses it. Serve the app and the sandbox on one host name "
            f"(for example both on {urlsplit(page_url).hostname}), or use Open in new tab.")
