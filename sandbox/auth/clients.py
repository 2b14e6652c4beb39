"""Registered apps (OAuth clients) and their registry.

Every way of registering an app — RFC 7591 dynamic registration, `sandbox apps add`, the UI form and
the seed apps of ``seed_data/apps.json`` — goes through ``ClientRegistry.register``, which validates the
metadata with ``registration.validate_metadata``.
"""

from __future__ import annotations

import hmac
import json
import secrets
import string
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..store import Store
from . import audit
from .changes import TableCache
from .registration import SECRET_METHODS, InvalidClientMetadata, client_type, validate_metadata
from .scopes import ScopeSet
from .users import ADMIN_ID

SEED_APPS = Path(__file__).resolve().parents[2] / "seed_data" / "apps.json"
CLIENT_ID_ALPHABET = string.ascii_letters + string.digits
CLIENT_ID_LENGTH = 22  # ~131 bits
SECRET_BYTES = 32
ORIGINS = ("seed", "cli", "dynamic", "ui")
_COLUMNS = "client_id, client_secret, client_type, metadata, origin, owner, created_at, updated_at"
_cache = TableCache("clients")  # a registration edited anywhere is seen by the next request of every process


def new_client_id() -> str:
    """A random client_id of letters and digits (URL-safe, never starts with "-")."""
    return "".join(secrets.choice(CLIENT_ID_ALPHABET) for _ in range(CLIENT_ID_LENGTH))


def new_client_secret() -> str:
    """A URL-safe secret with 256 bits of entropy (RFC 6749 §10.10: hard to guess)."""
    return secrets.token_urlsafe(SECRET_BYTES)


@dataclass(frozen=True)
class Client:
    """A registered app: RFC 7591 client metadata plus the sandbox's own launch settings."""

    client_id: str
    client_type: str  # public | confidential-symmetric | confidential-asymmetric | backend
    token_endpoint_auth_method: str  # none | client_secret_basic | client_secret_post | private_key_jwt
    client_secret: str | None = field(default=None, repr=False)
    client_name: str | None = None
    description: str | None = None
    redirect_uris: tuple[str, ...] = ()
    grant_types: tuple[str, ...] = ("authorization_code",)
    response_types: tuple[str, ...] = ("code",)
    scope: str = ""
    jwks: dict[str, Any] | None = field(default=None, compare=False)
    jwks_uri: str | None = None
    logo_uri: str | None = None
    client_uri: str | None = None
    launch_uri: str | None = None
    pre_approved: bool = False  # sandbox: skip the consent screen
    launch_mode: str = "embedded"  # sandbox: embedded frame or new browser tab
    launch_intent: str | None = None  # sandbox: the `intent` EHR launches of this app carry
    origin: str = "dynamic"
    owner: str | None = None  # the user who registered it through /apps; the administrator for every other app
    created_at: int = 0
    updated_at: int = 0
    # Public keys of `jwks` imported for verifying (by kid and alg): this registration's, made once.
    imported_keys: dict[tuple[str, str], Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def display_name(self) -> str:
        return self.client_name or self.client_id

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    @property
    def scopes(self) -> ScopeSet:
        """The scopes this app may be granted."""
        return ScopeSet.parse(self.scope)

    def has_redirect_uri(self, uri: str) -> bool:
        """RFC 6749 §3.1.2.3 / SMART 2.2 — the redirect_uri must match a registered one exactly."""
        return uri in self.redirect_uris

    def allows_grant(self, grant_type: str) -> bool:
        return grant_type in self.grant_types

    def check_secret(self, secret: str | None) -> bool:
        """Compare a presented client_secret in constant time."""
        if self.client_secret is None or secret is None:
            return False
        return hmac.compare_digest(self.client_secret.encode(), secret.encode())

    def metadata(self) -> dict[str, Any]:
        """The registered client metadata (RFC 7591 §2), without the client_id and secret."""
        values = {
            "client_name": self.client_name, "description": self.description,
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "grant_types": list(self.grant_types), "response_types": list(self.response_types),
            "redirect_uris": list(self.redirect_uris), "scope": self.scope, "jwks": self.jwks,
            "jwks_uri": self.jwks_uri, "logo_uri": self.logo_uri, "client_uri": self.client_uri,
            "launch_uri": self.launch_uri, "pre_approved": self.pre_approved, "launch_mode": self.launch_mode,
            "launch_intent": self.launch_intent,
        }
        return {k: v for k, v in values.items() if v is not None}

    def registration_response(self) -> dict[str, Any]:
        """RFC 7591 §3.2.1 — client_id, client_id_issued_at, the secret with client_secret_expires_at
        (0: never) when one was issued, and every registered metadata value."""
        response: dict[str, Any] = {"client_id": self.client_id, "client_id_issued_at": self.created_at}
        if self.client_secret is not None:
            response["client_secret"] = self.client_secret
            response["client_secret_expires_at"] = 0
        return {**response, **self.metadata()}


# Apps registered by pasting a launch URL (the "Try an app" page): marked, and removed after a day unless kept.
SCRATCH = "scratch"
SCRATCH_LIFETIME = 24 * 3600


class ClientRegistry:
    """The apps registered in one store."""

    def __init__(self, store: Store, base_url: str | None = None):
        self.store = store
        self.base_url = base_url

    def register(self, metadata: Mapping[str, Any], client_id: str | None = None, origin: str = "dynamic",
                 require_keys: bool = True, owner: str = ADMIN_ID) -> Client:
        """Validate ``metadata`` and register a new app, owned by ``owner``. A secret is issued for client_secret_*
        methods.

        Raises ``RegistrationError`` for invalid metadata or a ``client_id`` already in use.
        """
        values = validate_metadata(metadata, self.base_url, require_keys=require_keys)
        client_id = client_id or new_client_id()
        secret = new_client_secret() if values["token_endpoint_auth_method"] in SECRET_METHODS else None
        now = int(time.time())
        with self.store.transaction() as conn:
            if self.get(client_id) is not None:
                raise InvalidClientMetadata(f"client_id {client_id!r} is already registered")
            conn.execute(
                f"INSERT INTO clients ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (client_id, secret, _type_of(values), json.dumps(values), origin, owner, now, now),
            )
        return self.get(client_id)

    def get(self, client_id: str) -> Client | None:
        return _cache.get(self.store, client_id, lambda: self._load(client_id))

    def _load(self, client_id: str) -> Client | None:
        row = self.store.conn.execute(f"SELECT {_COLUMNS} FROM clients WHERE client_id = ?", (client_id,)).fetchone()
        return _client(row) if row else None

    def list(self) -> list[Client]:
        """Every app, oldest first."""
        rows = self.store.conn.execute(f"SELECT {_COLUMNS} FROM clients ORDER BY created_at, rowid").fetchall()
        return [_client(row) for row in rows]

    def update(self, client_id: str, changes: Mapping[str, Any], require_keys: bool | None = None,
               by: str | None = None) -> Client:
        """Change some metadata of an app (a None value removes a field) and validate the result; ``by`` names the
        user making the change, for the audit trail.

        response_types follows grant_types unless given; giving jwks or jwks_uri replaces the other. The
        secret is kept while the app authenticates with a secret, issued when it starts to, and dropped
        when it stops. A private_key_jwt app declared without keys may be changed without adding them.
        A change that ends the app's grants (``grants_end_when``) also ends its pre-approval, which the administrator
        gave to the registration as it was, unless the same change sets pre_approved.
        Raises ``KeyError`` for an unknown app and ``RegistrationError`` for invalid metadata.
        """
        client = self.get(client_id)
        if client is None:
            raise KeyError(client_id)
        if require_keys is None:
            keyless = client.jwks is None and client.jwks_uri is None and client.token_endpoint_auth_method == \
                changes.get("token_endpoint_auth_method", client.token_endpoint_auth_method)
            require_keys = not keyless or "jwks" in changes or "jwks_uri" in changes
        merged = client.metadata()
        if "grant_types" in changes and "response_types" not in changes:
            merged.pop("response_types", None)
        if "jwks" in changes or "jwks_uri" in changes:
            merged.pop("jwks", None)
            merged.pop("jwks_uri", None)
        merged.update(changes)
        values = validate_metadata({k: v for k, v in merged.items() if v is not None}, self.base_url,
                                   require_keys=require_keys)
        secret = None
        if values["token_endpoint_auth_method"] in SECRET_METHODS:
            secret = client.client_secret or new_client_secret()
        ends_grants = grants_end_when(client, values)
        if ends_grants and "pre_approved" not in changes:
            values["pre_approved"] = False
        with self.store.transaction() as conn:
            conn.execute(
                "UPDATE clients SET client_secret = ?, client_type = ?, metadata = ?, updated_at = ? "
                "WHERE client_id = ?",
                (secret, _type_of(values), json.dumps(values), int(time.time()), client_id),
            )
            if ends_grants:
                end_grants(conn, client_id)
                audit.record(self.store, "app.grants_ended", client_id=client_id, user_id=by, rule=ends_grants)
        return self.get(client_id)

    def remove(self, client_id: str) -> bool:
        """Remove an app and end every grant it holds. Returns whether it existed."""
        with self.store.transaction() as conn:
            end_grants(conn, client_id)
            return conn.execute("DELETE FROM clients WHERE client_id = ?", (client_id,)).rowcount > 0

    def keep(self, client_id: str) -> bool:
        """Make a scratch app a registered app like any other (no longer removed after SCRATCH_LIFETIME)."""
        with self.store.transaction() as conn:
            return conn.execute("UPDATE clients SET origin = 'ui', updated_at = ? WHERE client_id = ? AND "
                                "origin = ?", (int(time.time()), client_id, SCRATCH)).rowcount > 0

    def remove_expired_scratch(self, now: float | None = None) -> list[str]:
        """Remove the scratch apps older than SCRATCH_LIFETIME, ending their grants; their client ids."""
        cutoff = int(now if now is not None else time.time()) - SCRATCH_LIFETIME
        expired = [row[0] for row in self.store.conn.execute(
            "SELECT client_id FROM clients WHERE origin = ? AND created_at < ?", (SCRATCH, cutoff))]
        for client_id in expired:
            self.remove(client_id)
        return expired


def grants_end_when(before: Client, after: Mapping[str, Any]) -> str | None:
    """Why an app's change ends its existing grants, or None: tokens and codes issued to a confidential client, or
    bound to redirect URIs, must not outlive the registration that made them safe (RFC 9700 §4.1, §4.13)."""
    if not before.is_public and after["token_endpoint_auth_method"] == "none":
        return "The app changed from confidential to public: its tokens and codes were revoked"
    if tuple(after.get("redirect_uris", ())) != before.redirect_uris:
        return "The app's redirect URIs changed: its tokens and codes were revoked"
    return None


def end_grants(conn, client_id: str) -> None:
    """Revoke every token of an app and spend its unredeemed codes (inside the caller's transaction)."""
    now = int(time.time())
    conn.execute("UPDATE tokens SET revoked_at = ? WHERE client_id = ? AND revoked_at IS NULL", (now, client_id))
    conn.execute("UPDATE codes SET used_at = ? WHERE client_id = ? AND used_at IS NULL", (now, client_id))


def register_seed_apps(store: Store, base_url: str, path: Path = SEED_APPS) -> list[Client]:
    """Register the apps declared in ``seed_data/apps.json`` under their fixed client_ids.

    Idempotent: an app already registered is brought in line with its declaration (its secret and
    registration time stay), so a changed BASE_URL reaches the seed apps' URLs on the next seed.
    """
    registry = ClientRegistry(store, base_url)
    registered = []
    with store.transaction():
        for declaration in json.loads(path.read_text()):
            metadata = {k: v for k, v in declaration.items() if k != "client_id"}
            client_id = declaration["client_id"]
            if registry.get(client_id) is None:
                registered.append(registry.register(metadata, client_id, origin="seed", require_keys=False))
            else:
                registered.append(registry.update(client_id, metadata, require_keys=False))
    return registered


def _type_of(values: Mapping[str, Any]) -> str:
    return client_type(values["token_endpoint_auth_method"], values["grant_types"])


def _client(row: tuple) -> Client:
    client_id, secret, ctype, metadata_json, origin, owner, created_at, updated_at = row
    values = json.loads(metadata_json)
    for name in ("redirect_uris", "grant_types", "response_types"):
        values[name] = tuple(values.get(name, ()))
    return Client(client_id=client_id, client_secret=secret, client_type=ctype, origin=origin,
                  owner=owner or ADMIN_ID, created_at=created_at, updated_at=updated_at, **values)
