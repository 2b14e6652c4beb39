"""Token issuance over real HTTP: the token endpoint's three grants as load-client workloads.

Codes, refresh tokens and client assertions can each be used once, so every round gets fresh ones:
codes are issued straight into the database, as the authorize step would issue them; each load client
gets a refresh token family of its own and follows its rotation; each load client signs its client
assertions before it starts measuring (signing costs the load generator, not the server).
"""

from __future__ import annotations

import json
import math
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from .load import Request
from .server import BenchError

# More token requests per second than any grant reaches on this kind of machine: how many codes a round may
# use up. Client assertions cost the load clients ~1 ms each to sign, so fewer are signed ahead (a client that
# runs out signs the rest as it goes): about twice the client_credentials rate of a 2-core machine.
RATE_CEILING = 4000
ASSERTION_RATE_CEILING = 1500
CODE_LIFETIME = 600
SCOPE = "openid fhirUser launch/patient offline_access patient/*.rs"
BACKEND_SCOPE = "system/Patient.rs system/Observation.rs"
REDIRECT_URI = "http://127.0.0.1:9/callback"
KID = "bench-rs384"
FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
TOKEN_PATH = "/auth/token"


@dataclass(frozen=True)
class Setup:
    """The apps, user and patient every token workload uses."""

    db: Path
    base_url: str
    app_id: str
    backend_id: str
    user_id: str
    patient_id: str | None  # the launch patient of codes and refresh tokens (set once ids are collected)
    private_jwk: dict

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN_PATH


def prepare(db: Path, base_url: str, patient_id: str | None = None) -> Setup:
    """Register a public app (with refresh tokens) and a backend service (RS384 key inline) in ``db``.
    The access-check measurements (bench/access.py) mint their tokens for these two clients as well."""
    from joserfc.jwk import RSAKey

    from sandbox.auth.clients import ClientRegistry
    from sandbox.auth.users import UserDirectory
    from sandbox.store import Store

    store = Store(str(db))
    user = UserDirectory(store).first_clinician()
    if user is None:
        raise BenchError("No clinician user in the database: the server derives them from the seeded data at start")
    key = RSAKey.generate_key(2048, parameters={"kid": KID}, private=True)
    registry = ClientRegistry(store, base_url)
    app = registry.register({"client_name": "Bench app", "token_endpoint_auth_method": "none",
                             "grant_types": ["authorization_code", "refresh_token"], "redirect_uris": [REDIRECT_URI],
                             "scope": f"launch {SCOPE}"}, origin="cli")
    backend = registry.register({"client_name": "Bench backend", "token_endpoint_auth_method": "private_key_jwt",
                                 "grant_types": ["client_credentials"], "scope": "system/*.rs",
                                 "jwks": {"keys": [key.as_dict(private=False)]}}, origin="cli")
    return Setup(db, base_url, app.client_id, backend.client_id, user.id, patient_id, key.as_dict(private=True))


def round_budget(seconds: float, clients: int) -> int:
    """How many single-use credentials one load client may need in a round of ``seconds``."""
    return math.ceil(seconds * RATE_CEILING / clients)


def assertion_budget(seconds: float, clients: int) -> int:
    """How many client assertions one load client signs before a round of ``seconds``."""
    return math.ceil(seconds * ASSERTION_RATE_CEILING / clients)


# -- authorization_code ----------------------------------------------------------------------------------------


def issue_codes(setup: Setup, count: int) -> list[tuple[str, str]]:
    """``count`` fresh (code, code_verifier) pairs for the bench app, with the patient in context."""
    from sandbox.auth.codes import CodeGrant, issue_code
    from sandbox.auth.pkce import s256
    from sandbox.store import Store

    store = Store(str(setup.db))
    pairs = []
    with store.transaction():
        for _ in range(count):
            verifier = secrets.token_urlsafe(48)
            grant = CodeGrant(setup.app_id, REDIRECT_URI, s256(verifier), SCOPE, user_id=setup.user_id,
                              context={"patient": setup.patient_id, "need_patient_banner": True})
            pairs.append((issue_code(store, grant, CODE_LIFETIME), verifier))
    return pairs


class CodeExchange:
    """authorization_code with PKCE, answered with an id_token: each load client redeems its share of codes."""

    def __init__(self, setup: Setup, codes: list[tuple[str, str]], index: int, clients: int):
        self.client_id = setup.app_id
        self.codes = codes[index::clients]
        self.position = 0

    def next_request(self) -> Request:
        if self.position >= len(self.codes):
            raise BenchError(f"ran out of codes after {self.position}; raise RATE_CEILING in bench/tokens.py")
        code, verifier = self.codes[self.position]
        self.position += 1
        body = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier, "client_id": self.client_id}
        return Request("POST", TOKEN_PATH, urlencode(body).encode(), FORM)

    def answered(self, body: bytes) -> None:
        if self.position == 1 and b'"id_token"' not in body:
            raise BenchError(f"the code exchange answered without an id_token: {body[:300]!r}")


# -- refresh_token -----------------------------------------------------------------------------------------------


def issue_refresh_tokens(setup: Setup, count: int) -> list[str]:
    """One offline refresh token family per load client, as a code exchange would have started it."""
    from sandbox.auth import tokens
    from sandbox.store import Store

    store = Store(str(setup.db))
    return [tokens.issue(store, family_id=tokens.new_family_id(), client_id=setup.app_id, scope=SCOPE,
                         access_lifetime=3600, user_id=setup.user_id, context={"patient": setup.patient_id},
                         refresh_expires_at=int(time.time()) + 3600).refresh_token for _ in range(count)]


class Refresh:
    """refresh_token: each answer rotates the refresh token, so the next request sends the new one."""

    def __init__(self, setup: Setup, refresh_tokens: list[str], index: int, clients: int):
        self.client_id = setup.app_id
        self.token = refresh_tokens[index]

    def next_request(self) -> Request:
        body = {"grant_type": "refresh_token", "refresh_token": self.token, "client_id": self.client_id}
        return Request("POST", TOKEN_PATH, urlencode(body).encode(), FORM)

    def answered(self, body: bytes) -> None:
        self.token = json.loads(body)["refresh_token"]


# -- client_credentials ------------------------------------------------------------------------------------------


class ClientCredentials:
    """SMART Backend Services: client_credentials with an RS384 client assertion, a new jti each time."""

    def __init__(self, setup: Setup, budget: int, index: int, clients: int):
        from joserfc.jwk import RSAKey

        self.setup = setup
        self.key = RSAKey.import_key(setup.private_jwk)
        self.assertions = [self._sign() for _ in range(budget)]

    def _sign(self) -> str:
        from joserfc import jwt

        now = int(time.time())
        claims = {"iss": self.setup.backend_id, "sub": self.setup.backend_id, "aud": self.setup.token_url,
                  "exp": now + 240, "iat": now, "jti": str(uuid.uuid4())}
        return jwt.encode({"alg": "RS384", "kid": KID, "typ": "JWT"}, claims, self.key, algorithms=["RS384"])

    def next_request(self) -> Request:
        signed = self.assertions.pop() if self.assertions else self._sign()
        body = {"grant_type": "client_credentials", "scope": BACKEND_SCOPE, "client_assertion": signed,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
        return Request("POST", TOKEN_PATH, urlencode(body).encode(), FORM)

    def answered(self, body: bytes) -> None:
        pass
