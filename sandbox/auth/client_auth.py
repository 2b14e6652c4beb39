"""Client authentication at the token, introspection and revocation endpoints.

Four methods, one per registered ``token_endpoint_auth_method`` — a client must use the one it registered:

- ``none``: public apps send only their client_id (RFC 6749 §2.3; SMART App Launch 2.2 §client-public).
- ``client_secret_basic``: HTTP Basic with the form-urlencoded client_id and secret (RFC 6749 §2.3.1).
- ``client_secret_post``: client_id and client_secret in the body (RFC 6749 §2.3.1).
- ``private_key_jwt``: a signed client assertion (RFC 7523 §2.2 and §3; SMART App Launch 2.2
  §client-confidential-asymmetric), verified here; see ``assertions.py`` for its claims and keys.

Failures are counted per client_id and per peer address; past RATE_LIMIT_FAILURES within RATE_LIMIT_WINDOW
further attempts get 429 with Retry-After. Every refusal is an ``OAuthError`` that names the client it
concerns (``error.who``); the endpoint records it in the audit trail.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from ..store import Store
from . import ratelimit
from .assertions import ASSERTION_TYPE, SeenJti, unverified_client_id, verify_assertion
from .clients import Client, ClientRegistry
from .errors import InvalidClient, InvalidRequest, OAuthError

BASIC_REALM = "sandbox"
BASIC_CHALLENGE = f'Basic realm="{BASIC_REALM}"'


@dataclass(frozen=True)
class Credentials:
    """What a request presented to authenticate its client, before any check."""

    method: str  # none | client_secret_basic | client_secret_post | private_key_jwt
    client_id: str | None
    secret: str | None = None
    assertion: str | None = None

    @property
    def tried_basic(self) -> bool:
        return self.method == "client_secret_basic"


def read_credentials(form: Mapping[str, str], authorization: str | None) -> Credentials:
    """The credentials of a request: an ``Authorization: Basic`` header or form parameters.

    RFC 6749 §2.3 — a client MUST NOT use more than one authentication method in a request. The client_id
    may stand in the body beside Basic credentials (Python fhirclient sends it) when it names the same client.
    """
    body_id = form.get("client_id")
    scheme, _, value = (authorization or "").strip().partition(" ")
    if scheme.lower() == "basic":
        if "client_secret" in form or "client_assertion" in form:
            raise InvalidRequest("The request uses more than one client authentication method: HTTP Basic and "
                                 "credentials in the body (RFC 6749 §2.3)")
        client_id, secret = _decode_basic(value.strip())
        if body_id is not None and body_id != client_id:
            raise InvalidClient("The client_id in the body differs from the one in the Authorization header",
                                headers={"WWW-Authenticate": BASIC_CHALLENGE}).about(client_id=client_id)
        return Credentials("client_secret_basic", client_id, secret=secret)
    if "client_assertion" in form or "client_assertion_type" in form:
        if "client_secret" in form:
            raise InvalidRequest("The request uses more than one client authentication method: client_secret and "
                                 "client_assertion (RFC 6749 §2.3)").about(client_id=body_id)
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise InvalidRequest(f"client_assertion_type must be exactly {ASSERTION_TYPE} (RFC 7523 §2.2; SMART "
                                 "App Launch 2.2 §client-confidential-asymmetric)").about(client_id=body_id)
        if not form.get("client_assertion"):
            raise InvalidRequest("client_assertion is required with client_assertion_type (RFC 7521 §4.2)")
        return Credentials("private_key_jwt", body_id, assertion=form["client_assertion"])
    if "client_secret" in form:
        if body_id is None:
            raise InvalidRequest("client_secret needs the client_id beside it (client_secret_post, RFC 6749 §2.3.1)")
        return Credentials("client_secret_post", body_id, secret=form["client_secret"])
    if body_id is not None:
        return Credentials("none", body_id)
    raise InvalidClient("No client authentication: public apps send client_id; confidential apps use HTTP Basic, "
                        "client_secret_post or a client_assertion, as registered (RFC 6749 §2.3)")


def _decode_basic(value: str) -> tuple[str, str]:
    """RFC 7617 §2 user-pass, where RFC 6749 §2.3.1 form-urlencodes the client_id and the secret first."""
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        decoded = ""
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise InvalidClient("The Authorization header is not valid HTTP Basic: expected "
                            "base64(urlencode(client_id) ':' urlencode(client_secret)) (RFC 6749 §2.3.1)",
                            headers={"WWW-Authenticate": BASIC_CHALLENGE})
    return unquote_plus(client_id), unquote_plus(secret)


def authenticate(store: Store, settings: Mapping[str, Any], form: Mapping[str, str], authorization: str | None,
                 peer: str | None, audiences: Sequence[str], defer: list[SeenJti] | None = None) -> Client:
    """The registered client that made this request, or an OAuthError (401 invalid_client, 400, or 429).
    Given ``defer``, a client assertion's jti is checked but left for the caller to record in its transaction.

    ``audiences`` are the URLs a client assertion's `aud` may name (the token endpoint first).
    """
    try:
        credentials = read_credentials(form, authorization)
    except OAuthError:
        ratelimit.note_failure(store, settings, *ratelimit.keys("client", peer))
        raise
    claimed = credentials.client_id
    if credentials.method == "private_key_jwt":
        claimed = unverified_client_id(credentials.assertion) or claimed
    keys = ratelimit.keys("client", peer)
    try:
        ratelimit.check(store, settings, *keys)
    except OAuthError as error:
        raise error.about(client_id=claimed) from None
    try:
        return _verify(store, settings, credentials, claimed, audiences, defer)
    except OAuthError as error:
        error.about(client_id=claimed)
        if isinstance(error, InvalidClient) and credentials.tried_basic:
            error.headers.setdefault("WWW-Authenticate", BASIC_CHALLENGE)
        ratelimit.note_failure(store, settings, *keys)
        raise


def _verify(store: Store, settings: Mapping[str, Any], credentials: Credentials, client_id: str | None,
            audiences: Sequence[str], defer: list[SeenJti] | None) -> Client:
    if not client_id:
        raise InvalidClient("The client assertion names no client: its iss and sub must be the client_id")
    client = ClientRegistry(store).get(client_id)
    if client is None:
        raise InvalidClient(f"Unknown client_id {client_id!r}: register the app first")
    registered = client.token_endpoint_auth_method
    if credentials.method != registered:
        if credentials.method == "none":
            raise InvalidClient(f"Client {client_id} is confidential: authenticate with {registered}, as "
                                "registered (SMART App Launch 2.2; RFC 6749 §3.2.1)")
        raise InvalidClient(f"Client {client_id} is registered with token_endpoint_auth_method {registered}, "
                            f"but this request used {credentials.method}")
    if credentials.method in ("client_secret_basic", "client_secret_post"):
        if not client.check_secret(credentials.secret):
            raise InvalidClient(f"The client_secret of {client_id} does not match")
    elif credentials.method == "private_key_jwt":
        if credentials.client_id is not None and credentials.client_id != client_id:
            raise InvalidClient("The client_id in the body differs from the client assertion's sub (RFC 7523 §3)")
        verify_assertion(store, settings, client, credentials.assertion, audiences, defer=defer)
    return client
