"""Scratch apps: a developer pastes a launch URL and gets an app to launch at once, without the registration form.

The registration is a real one, with the same rules as any other (RFC 7591 metadata, exact redirect URIs, PKCE);
it is marked ``scratch`` and removed after ``clients.SCRATCH_LIFETIME`` unless kept. Without a redirect URI the
app's is taken to be the folder of its launch URL (``…/app/launch.html`` → ``…/app/``), which is where the
official JS client sends the browser back when it is given no redirect URI.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..auth.clients import SCRATCH, Client, ClientRegistry
from ..auth.registration import DEFAULT_APP_SCOPE, InvalidClientMetadata

CLIENT_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def default_redirect(launch_url: str) -> str:
    """The folder of the launch URL, without its query: where fhirclient.js returns when given no redirect."""
    parts = urlsplit(launch_url)
    folder = parts.path[: parts.path.rfind("/") + 1] or "/"
    return urlunsplit((parts.scheme, parts.netloc, folder, "", ""))


def metadata(launch_url: str, redirect_uri: str | None, confidential: bool) -> dict[str, Any]:
    launch_url = launch_url.strip()
    parts = urlsplit(launch_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidClientMetadata("Paste the app's launch URL as an absolute http(s) address, e.g. "
                                    "http://localhost:3000/launch.html", field="launch_uri")
    host = parts.hostname or parts.netloc
    return {
        "client_name": f"Scratch app at {host}{':' + str(parts.port) if parts.port else ''}",
        "token_endpoint_auth_method": "client_secret_basic" if confidential else "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "redirect_uris": [(redirect_uri or "").strip() or default_redirect(launch_url)],
        "launch_uri": launch_url,
        "scope": DEFAULT_APP_SCOPE,
    }


def register(registry: ClientRegistry, launch_url: str, redirect_uri: str | None, confidential: bool,
             owner: str, client_id: str | None = None) -> Client:
    """Register a scratch app for the pasted launch URL (after removing the scratch apps whose day is over), under
    the client id the app already uses when one is given."""
    registry.remove_expired_scratch()
    client_id = (client_id or "").strip() or None
    if client_id is not None and not CLIENT_ID.fullmatch(client_id):
        raise InvalidClientMetadata("A client id is 1 to 64 letters, digits, '-', '_' or '.'", field="client_id")
    return registry.register(metadata(launch_url, redirect_uri, confidential), client_id, origin=SCRATCH,
                             owner=owner)
