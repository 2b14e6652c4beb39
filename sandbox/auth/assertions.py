"""Client assertions: private_key_jwt (RFC 7523 §2.2 and §3; SMART App Launch 2.2 §client-confidential-asymmetric).

The client signs a JWT with its private key (RS384 or ES384; RS256 and ES256 are accepted too) and the server
verifies it with the public key that the header's `kid` selects from the client's registered JWK Set — inline
(`jwks`) or fetched from `jwks_uri` and cached for as long as the response's Cache-Control allows. Claims:

- iss = sub = the client_id (RFC 7523 §3 items 1–2);
- aud = the token endpoint URL, or a list containing it (RFC 7523 §3 item 3);
- exp required, no more than five minutes ahead (SMART: "SHALL be no more than five minutes in the future");
- jti required, accepted once per client until the assertion expires (RFC 7523 §3 item 7).

joserfc verifies the signature; its default algorithm list rejects RS384/ES384, so the algorithm of each
key is passed explicitly.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry
from joserfc.jws import CompactSignature

from .. import bounded_json
from ..store import Store
from .clients import Client
from .errors import InvalidClient
from .registration import EC_CURVES, SIGNING_ALGORITHMS, RegistrationError, check_jwks

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEFAULT_JWKS_MAX_AGE = 300  # seconds a fetched JWK Set is kept when its response says nothing
LONGEST_JWKS_MAX_AGE = 24 * 3600
JWKS_FETCH_TIMEOUT = 5  # seconds for the whole fetch, not only each read
MAX_JWKS_BYTES = 64 * 1024  # a JWK Set of dozens of keys is a few kilobytes


@functools.lru_cache(maxsize=64)
def _read(assertion: str) -> tuple[CompactSignature, dict[str, Any], dict[str, Any]]:
    """The compact JWS, its header and its claims, unverified. Raises InvalidClient when it is not one. Read once
    per assertion (rate limiting, the key lookup and the signature check all need it); callers never change what
    it returns."""
    try:
        compact = jws.extract_compact(assertion.encode())
        claims = bounded_json.loads(compact.payload)
        header = compact.headers()
    except Exception:  # any failure to read the assertion is the client's error
        raise InvalidClient("client_assertion is not a signed JWT (compact JWS, RFC 7515 §7.1)") from None
    if not isinstance(claims, dict) or not isinstance(header, dict):
        raise InvalidClient("client_assertion's payload is not a JSON object of claims (RFC 7519 §7.2)")
    return compact, header, claims


def unverified_client_id(assertion: str | None) -> str | None:
    """Whom an assertion claims to come from (its `sub`, else `iss`), before verification: for rate limiting
    and for finding the client's keys."""
    try:
        _, _, claims = _read(assertion or "")
    except InvalidClient:
        return None
    for name in ("sub", "iss"):
        if isinstance(claims.get(name), str) and claims[name]:
            return claims[name]
    return None


def verify_assertion(store: Store, settings: Mapping[str, Any], client: Client, assertion: str,
                     audiences: Sequence[str], now: int | None = None,
                     defer: list[SeenJti] | None = None) -> dict[str, Any]:
    """The verified claims of ``client``'s assertion; raises InvalidClient naming the rule it breaks. Its jti is
    recorded at once, or, given ``defer``, checked now and added to it for the caller to record (``SeenJti``)."""
    now = int(time.time()) if now is None else now
    compact, header, claims = _read(assertion)
    alg = header.get("alg")
    if alg not in SIGNING_ALGORITHMS:
        raise InvalidClient(f"client_assertion alg {alg!r} is not accepted; sign with RS384 or ES384 (or RS256, "
                            "ES256) — SMART App Launch 2.2 §client-confidential-asymmetric")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidClient("client_assertion header has no kid; SMART App Launch 2.2 requires the kid of the "
                            "signing key")
    jku = header.get("jku")
    if jku is not None and jku != client.jwks_uri:
        raise InvalidClient(f"client_assertion header jku {jku!r} is not the client's registered jwks_uri "
                            "(SMART App Launch 2.2: the jku header, when present, SHALL match it)")
    key = _key_for(store, client, kid, alg, now)
    try:  # the signature over the compact JWS; its claims are the ones read above
        verified = jws.validate_compact(compact, key, algorithms=[alg])
    except (JoseError, ValueError):
        verified = False
    if not verified:
        raise InvalidClient(f"client_assertion signature does not verify with the client's key {kid!r}")
    _check_claims(claims, client.client_id, audiences, settings, now)
    seen = SeenJti(client.client_id, claims["jti"], int(claims["exp"] + settings["CLOCK_LEEWAY"]), now)
    if defer is None:
        with store.transaction() as conn:
            seen.record(conn)
    else:  # the caller records it in its own transaction, with what the request writes
        seen.check(store)
        defer.append(seen)
    return claims


def _check_claims(claims: dict[str, Any], client_id: str, audiences: Sequence[str], settings: Mapping[str, Any],
                  now: int) -> None:
    leeway, longest = settings["CLOCK_LEEWAY"], settings["ASSERTION_MAX_LIFETIME"]
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise InvalidClient(f"client_assertion iss and sub must both be the client_id {client_id!r} (RFC 7523 §3)")
    aud = claims.get("aud")
    named = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not any(a in audiences for a in named if isinstance(a, str)):
        raise InvalidClient(f"client_assertion aud must be the token endpoint URL {audiences[0]} (RFC 7523 §3)")
    exp = claims.get("exp")
    if not _is_time(exp):
        raise InvalidClient("client_assertion has no exp (an integer time); it is required (RFC 7523 §3)")
    if exp <= now - leeway:
        raise InvalidClient("client_assertion has expired (exp is in the past)")
    if exp > now + longest + leeway:
        raise InvalidClient(f"client_assertion exp is more than {longest} seconds ahead; SMART App Launch 2.2: "
                            "it SHALL be no more than five minutes in the future")
    for name in ("nbf", "iat"):
        if name in claims and (not _is_time(claims[name]) or claims[name] > now + leeway):
            raise InvalidClient(f"client_assertion {name} is not a time in the past (RFC 7519 §4.1)")
    if not isinstance(claims.get("jti"), str) or not claims["jti"]:
        raise InvalidClient("client_assertion has no jti; a unique jti is required (RFC 7523 §3; SMART)")


def _is_time(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class SeenJti:
    """RFC 7523 §3 item 7 — the server MAY ensure a JWT is not replayed: each jti once per client, for as long as
    an assertion carrying it could still be accepted."""

    client_id: str
    jti: str
    expires_at: int
    now: int

    def check(self, store: Store) -> None:
        """Refuse a jti already recorded (a read; ``record`` settles a race between two requests)."""
        row = store.conn.execute("SELECT 1 FROM assertion_ids WHERE client_id = ? AND jti = ? AND expires_at >= ?",
                                 (self.client_id, self.jti, self.now)).fetchone()
        if row is not None:
            raise self.replayed()

    def record(self, conn) -> None:
        """Record the jti inside the caller's transaction, or refuse it when it is recorded already. A row whose
        assertion can no longer be accepted is taken over (expired rows are pruned in the background)."""
        taken = conn.execute(
            "INSERT INTO assertion_ids (client_id, jti, expires_at) VALUES (?, ?, ?) ON CONFLICT (client_id, jti) "
            "DO UPDATE SET expires_at = excluded.expires_at WHERE assertion_ids.expires_at < ?",
            (self.client_id, self.jti, self.expires_at, self.now)).rowcount
        if not taken:
            raise self.replayed()

    def replayed(self) -> InvalidClient:
        return InvalidClient(f"client_assertion jti {self.jti!r} was already used: make a new assertion, with a new "
                             "jti, for every request (RFC 7523 §3)")


# -- the client's keys ---------------------------------------------------------------------------------------


def _key_for(store: Store, client: Client, kid: str, alg: str, now: int):
    """The client's public key with this kid that can verify ``alg``; a cached JWK Set is fetched anew once
    when it does not hold the kid (the client may have rotated its keys)."""
    if client.jwks is not None:
        # The registration's own keys, imported once for each registration (a new one replaces the cached Client).
        key = client.imported_keys.get((kid, alg))
        if key is None:
            jwk = _select(client.jwks, kid, alg)
            if jwk is None:
                raise InvalidClient(f"No key with kid {kid!r} for {alg} in the client's registered jwks")
            key = client.imported_keys[(kid, alg)] = _import_or_refuse(jwk, kid)
        return key
    if not client.jwks_uri:
        raise InvalidClient(f"Client {client.client_id} has no public keys registered: register a jwks_uri or jwks")
    jwks, fresh = cached_jwks(store, client.jwks_uri, now)
    jwk = _select(jwks, kid, alg)
    if jwk is None and not fresh:
        jwks = fetch_jwks(store, client.jwks_uri, now)
        jwk = _select(jwks, kid, alg)
    if jwk is None:
        raise InvalidClient(f"No key with kid {kid!r} for {alg} in the client's {client.jwks_uri}")
    return _import_or_refuse(jwk, kid)


def _import_or_refuse(jwk: dict[str, Any], kid: str):
    try:
        return _import(json.dumps(jwk, sort_keys=True))
    except (JoseError, ValueError):
        raise InvalidClient(f"The client's key {kid!r} cannot be read") from None


@functools.lru_cache(maxsize=256)
def _import(jwk_json: str):
    """A public key from its JWK; importing costs more than verifying with it, so imported keys are kept."""
    return JWKRegistry.import_key(json.loads(jwk_json))


def _select(jwks: Mapping[str, Any], kid: str, alg: str) -> dict[str, Any] | None:
    """RFC 7515 §4.1.4 — the key whose kid matches, of the type (and EC curve) the algorithm needs."""
    for jwk in jwks.get("keys", []):
        if jwk.get("kid") != kid or jwk.get("alg", alg) != alg or jwk.get("use", "sig") != "sig":
            continue
        if alg.startswith("RS") and jwk.get("kty") == "RSA":
            return jwk
        if alg.startswith("ES") and jwk.get("kty") == "EC" and EC_CURVES.get(jwk.get("crv")) == alg:
            return jwk
    return None


def cached_jwks(store: Store, url: str, now: int) -> tuple[dict[str, Any], bool]:
    """(the JWK Set at ``url``, whether it was fetched just now): from the cache while it is fresh."""
    row = store.conn.execute("SELECT jwks, expires_at FROM jwks_cache WHERE url = ?", (url,)).fetchone()
    if row is not None and row[1] > now:
        return json.loads(row[0]), False
    return fetch_jwks(store, url, now), True


def fetch_jwks(store: Store, url: str, now: int) -> dict[str, Any]:
    """GET the client's JWK Set and cache it for the response's Cache-Control max-age (RFC 9111 §5.2.2.1)."""
    try:
        with requests.get(url, timeout=JWKS_FETCH_TIMEOUT, headers={"Accept": "application/json"},
                          stream=True) as response:
            if response.status_code != 200:
                raise InvalidClient(f"The client's jwks_uri {url} answered HTTP {response.status_code}")
            content = _read_bounded(response, url)
    except requests.RequestException as exc:
        raise InvalidClient(f"Could not fetch the client's jwks_uri {url}: {exc.__class__.__name__}") from None
    try:
        jwks = check_jwks(bounded_json.loads(content))
    except (ValueError, RegistrationError) as exc:
        detail = getattr(exc, "description", "not JSON")
        raise InvalidClient(f"The client's jwks_uri {url} does not hold a usable JWK Set: {detail}") from None
    max_age = cache_lifetime(response.headers.get("Cache-Control"))
    with store.transaction() as conn:
        conn.execute("INSERT OR REPLACE INTO jwks_cache (url, jwks, fetched_at, expires_at) VALUES (?, ?, ?, ?)",
                     (url, json.dumps(jwks), now, now + max_age))
    return jwks


def _read_bounded(response: requests.Response, url: str) -> bytes:
    """The body of a JWK Set response, refused when it is larger than MAX_JWKS_BYTES or takes longer than
    JWKS_FETCH_TIMEOUT to arrive: a client's jwks_uri must not tie up a request thread or its memory."""
    deadline = time.monotonic() + JWKS_FETCH_TIMEOUT
    body = bytearray()
    while chunk := response.raw.read1(8192, decode_content=True):  # what one read gives: a drip is noticed
        body += chunk
        if len(body) > MAX_JWKS_BYTES:
            raise InvalidClient(f"The client's jwks_uri {url} answered with more than {MAX_JWKS_BYTES // 1024} KB; "
                                "a JWK Set is a few kilobytes")
        if time.monotonic() > deadline:
            raise InvalidClient(f"The client's jwks_uri {url} took longer than {JWKS_FETCH_TIMEOUT} s to answer")
    return bytes(body)


def cache_lifetime(cache_control: str | None) -> int:
    """Seconds a response may be reused: its max-age (at most a day), 0 for no-store/no-cache, else a default."""
    if not cache_control:
        return DEFAULT_JWKS_MAX_AGE
    directives = [d.strip().lower() for d in cache_control.split(",")]
    if "no-store" in directives or "no-cache" in directives:
        return 0
    for directive in directives:
        name, _, value = directive.partition("=")
        if name.strip() == "max-age":
            try:
                return max(0, min(int(value.strip().strip('"')), LONGEST_JWKS_MAX_AGE))
            except ValueError:
                break
    return DEFAULT_JWKS_MAX_AGE
