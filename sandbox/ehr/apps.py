"""Registered apps as the app gallery shows them (UI-GUIDE §2 App gallery): name, purpose, tags, what the app
asks for in plain words, and whether it can be launched from a chart.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from ..auth.clients import Client, ClientRegistry
from ..auth.consent_text import describe_resource_scope
from ..store import Store


def registry(store: Store) -> ClientRegistry:
    return ClientRegistry(store, current_app.config["BASE_URL"])


def user_facing(client: Client) -> bool:
    """Apps a person opens (authorization code); backend services have no one to launch them."""
    return client.allows_grant("authorization_code")


def purpose(client: Client) -> str:
    """The first sentence of the description, or a plain default."""
    text = (client.description or "").strip()
    if not text:
        return "No description registered."
    end = text.find(". ")
    return text if end < 0 else text[:end + 1]


def tags(client: Client) -> list[str]:
    """Text tags of a card (UI-GUIDE §2): who the app is for (by the kinds of scopes it may hold), how it is
    launched, what kind of client it is."""
    scopes = client.scopes
    contexts = scopes.contexts()
    found = [audience for context, audience in (("user", "Clinician"), ("patient", "Patient")) if context in contexts]
    if "launch" in scopes:
        found.append("EHR launch")
    if "launch/patient" in scopes:
        found.append("Standalone")
    found.append("Public client" if client.is_public else "Confidential client")
    if client.launch_mode == "tab":
        found.append("Prefers a new tab")
    return found


def asks_for(client: Client) -> list[str]:
    """What the app may be granted, in words ("Read and search all kinds of data of the selected patient")."""
    words = [describe_resource_scope(s) for s in client.scopes.resource_scopes]
    return words[:3] + ([f"and {len(words) - 3} more"] if len(words) > 3 else [])


def card(client: Client) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "name": client.display_name,
        "initials": "".join(w[0] for w in client.display_name.split()[:2]).upper() or "?",
        "logo": client.logo_uri,
        "purpose": purpose(client),
        "tags": tags(client),
        "asks_for": asks_for(client),
        "launch_uri": client.launch_uri,
        "disabled_reason": None if client.launch_uri else "No launch URL registered",
    }


def cards(store: Store) -> list[dict[str, Any]]:
    """Apps a clinician could launch, launchable ones first, then in registration order."""
    found = [card(c) for c in registry(store).list() if user_facing(c)]
    return sorted(found, key=lambda c: c["launch_uri"] is None)


def backend_count(store: Store) -> int:
    return sum(1 for c in registry(store).list() if not user_facing(c))


def for_context(store: Store, rtype: str) -> list[dict[str, Any]]:
    """Launchable apps allowed `launch/<rtype>`: the ones a chart offers to open with a resource of that type as
    fhirContext (SMART App Launch 2.2 §fhirContext)."""
    return [card(c) for c in registry(store).list()
            if user_facing(c) and c.launch_uri and rtype in c.scopes.launch_types]
