"""The server's signing keys: one current RS256 key shared by every worker, earlier ones still published.

SMART App Launch 2.2 §Scopes for requesting identity data — the id_token is signed with RS256, and the
server publishes its public keys at the OpenID Connect `jwks_uri`. Keys are RSA-2048, generated once and
kept in the database so that every worker process signs with the same key. Each key's `kid` is its
RFC 7638 thumbprint. After `rotate()` the previous public keys stay in the JWKS (at most
``KEEP_PREVIOUS`` of them), so tokens signed before the rotation still verify.
"""

from __future__ import annotations

import json
import time
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from ..store import Store
from .changes import TableCache

ALGORITHM = "RS256"
KEY_SIZE = 2048
KEEP_PREVIOUS = 2
# RFC 7517 §4 / RFC 7518 §6.3.1 — the members a public RSA JWK may carry; everything else stays private.
PUBLIC_MEMBERS = ("kty", "kid", "use", "alg", "n", "e")

# The current key, imported (which costs far more than signing with it), and the published JWK Set, in this
# process until the signing_keys table changes (auth/changes.py): a rotation by any process is seen at once.
_cache = TableCache("signing_keys")


class InvalidToken(Exception):
    """A token whose signature, key id or time claims do not verify."""


class SigningKeys:
    """The signing keys kept in one store."""

    def __init__(self, store: Store):
        self.store = store

    # -- the current key ---------------------------------------------------------------------

    def current_kid(self) -> str:
        """The `kid` of the current key, generating the first key when there is none yet."""
        return self.current_key().kid

    def current_key(self) -> RSAKey:
        return _cache.get(self.store, "current", self._load_current)

    def _load_current(self) -> RSAKey:
        row = self._current_row()
        if row is None:
            self._install(_generate())
            row = self._current_row()
        return RSAKey.import_key(json.loads(row[1]))

    def rotate(self) -> str:
        """Make a new current key; the previous public key stays published. Returns the new `kid`."""
        new_key = _generate()
        now = int(time.time())
        with self.store.transaction() as conn:
            conn.execute("UPDATE signing_keys SET retired_at = ?, private_jwk = NULL WHERE retired_at IS NULL",
                         (now,))
            _insert(conn, new_key, now)
            conn.execute(
                "DELETE FROM signing_keys WHERE kid IN (SELECT kid FROM signing_keys WHERE retired_at IS NOT NULL "
                "ORDER BY retired_at DESC, rowid DESC LIMIT -1 OFFSET ?)",
                (KEEP_PREVIOUS,),
            )
        return new_key.kid

    # -- publishing ----------------------------------------------------------------------------

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """RFC 7517 §5 — the JWK Set of public keys: the current key first, then the retired ones, newest first."""
        self.current_key()
        return _cache.get(self.store, "jwks", self._load_jwks)

    def _load_jwks(self) -> dict[str, list[dict[str, Any]]]:
        rows = self.store.conn.execute(
            "SELECT public_jwk FROM signing_keys ORDER BY retired_at IS NOT NULL, retired_at DESC, rowid DESC"
        ).fetchall()
        return {"keys": [json.loads(row[0]) for row in rows]}

    # -- signing and verifying -------------------------------------------------------------------

    def sign(self, claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
        """A compact JWS (RFC 7515 §7.1) of ``claims`` signed with the current key; header alg, kid, typ JWT."""
        key = self.current_key()
        protected = {"alg": ALGORITHM, "kid": key.kid, "typ": "JWT", **(header or {})}
        return jwt.encode(protected, claims, key, algorithms=[ALGORITHM])

    def verify(self, token: str, leeway: int = 0) -> dict[str, Any]:
        """The claims of a token signed by one of the published keys; `exp`/`nbf`/`iat` checked when present.

        Raises ``InvalidToken`` when the signature, the key id or a time claim does not verify.
        """
        try:
            decoded = jwt.decode(token, KeySet.import_key_set(self.jwks()), algorithms=[ALGORITHM])
            jwt.JWTClaimsRegistry(leeway=leeway).validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise InvalidToken(str(exc) or exc.__class__.__name__) from None
        return decoded.claims

    # -- storage -------------------------------------------------------------------------------------

    def _current_row(self) -> tuple[str, str] | None:
        return self.store.conn.execute(
            "SELECT kid, private_jwk FROM signing_keys WHERE retired_at IS NULL").fetchone()

    def _install(self, key: RSAKey) -> None:
        """Store ``key`` as the first current key unless another worker got there first."""
        with self.store.transaction() as conn:
            if conn.execute("SELECT 1 FROM signing_keys WHERE retired_at IS NULL").fetchone() is None:
                _insert(conn, key, int(time.time()))


def _generate() -> RSAKey:
    """A new RSA-2048 key for RS256 signatures whose `kid` is its RFC 7638 SHA-256 thumbprint."""
    key = RSAKey.generate_key(KEY_SIZE, parameters={"use": "sig", "alg": ALGORITHM}, private=True)
    key.ensure_kid()
    return key


def public_jwk(key: RSAKey) -> dict[str, Any]:
    """The public members of ``key`` only (RFC 7517 §9.2 — never publish private key material)."""
    members = key.as_dict(private=False)
    return {name: members[name] for name in PUBLIC_MEMBERS if name in members}


def _insert(conn, key: RSAKey, now: int) -> None:
    conn.execute(
        "INSERT INTO signing_keys (kid, public_jwk, private_jwk, created_at, retired_at) VALUES (?, ?, ?, ?, NULL)",
        (key.kid, json.dumps(public_jwk(key)), json.dumps(key.as_dict(private=True)), now),
    )
