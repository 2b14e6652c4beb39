"""Helpers of the token-side tests: registered apps, users, codes, client assertions and a JWK Set server."""

from __future__ import annotations

import base64
import functools
import json
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote_plus

from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from sandbox.auth.clients import Client, ClientRegistry
from sandbox.auth.codes import CodeGrant, issue_code
from sandbox.auth.pkce import s256
from sandbox.auth.users import UserDirectory

BASE_URL = "http://localhost"
TOKEN_URL = f"{BASE_URL}/auth/token"
REDIRECT_URI = "http://localhost:3000/callback"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
APP_SCOPE = "openid fhirUser profile launch launch/patient online_access offline_access patient/*.rs user/*.rs"


def register(store, **metadata) -> Client:
    return ClientRegistry(store, BASE_URL).register(metadata)


def public_app(store, grant_types=("authorization_code", "refresh_token"), **metadata) -> Client:
    return register(store, token_endpoint_auth_method="none", grant_types=list(grant_types),
                    redirect_uris=[REDIRECT_URI], scope=APP_SCOPE, **metadata)


def confidential_app(store, method="client_secret_basic", **metadata) -> Client:
    metadata.setdefault("grant_types", ["authorization_code", "refresh_token"])
    return register(store, token_endpoint_auth_method=method, redirect_uris=[REDIRECT_URI], scope=APP_SCOPE,
                    **metadata)


def backend_client(store, keys=(), jwks_uri=None, scope="system/*.rs") -> Client:
    metadata: dict[str, Any] = {"token_endpoint_auth_method": "private_key_jwt", "grant_types": ["client_credentials"],
                                "scope": scope}
    if jwks_uri:
        metadata["jwks_uri"] = jwks_uri
    else:
        metadata["jwks"] = public_jwks(*keys)
    return register(store, **metadata)


def clinician(store, username="alice.smith", fhir_user="Practitioner/prac-1"):
    return UserDirectory(store).create(username, "Dr. Alice Smith", "clinician", fhir_user)


def new_verifier() -> str:
    return secrets.token_urlsafe(48)


def issue(store, client: Client, verifier: str, scope: str = APP_SCOPE, **grant: Any) -> str:
    """A code for ``client`` as the authorize step would issue it; ``lifetime`` defaults to 60 seconds."""
    lifetime = grant.pop("lifetime", 60)
    grant.setdefault("redirect_uri", REDIRECT_URI)
    return issue_code(store, CodeGrant(client.client_id, code_challenge=s256(verifier), scope=scope, **grant), lifetime)


def basic(client_id: str, secret: str) -> dict[str, str]:
    """RFC 6749 §2.3.1 — HTTP Basic with the form-urlencoded client_id and secret."""
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def code_form(code: str, verifier: str | None, client_id: str | None = None, **extra: str) -> dict[str, str]:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, **extra}
    if verifier is not None:
        form["code_verifier"] = verifier
    if client_id is not None:
        form["client_id"] = client_id
    return form


def exchange(http, store, client: Client, scope: str = APP_SCOPE, **grant: Any):
    """Issue a code for ``client`` and exchange it; returns the token response (200 expected by callers)."""
    verifier = new_verifier()
    code = issue(store, client, verifier, scope, **grant)
    if client.is_public:
        return http.post("/auth/token", data=code_form(code, verifier, client.client_id))
    return http.post("/auth/token", data=code_form(code, verifier), headers=basic(client.client_id,
                                                                                   client.client_secret))


# -- keys and assertions ---------------------------------------------------------------------------------------


@functools.cache
def rsa_key(kid: str = "rsa-1") -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid}, private=True)


@functools.cache
def ec_key(kid: str = "ec-1", curve: str = "P-384") -> ECKey:
    return ECKey.generate_key(curve, parameters={"kid": kid}, private=True)


def public_jwks(*keys) -> dict[str, list[dict]]:
    return {"keys": [key.as_dict(private=False) for key in keys]}


def assertion(key, client_id: str, alg: str = "RS384", aud: Any = TOKEN_URL, exp_in: float = 240,
              header: dict | None = None, **claims: Any) -> str:
    """A client assertion (RFC 7523 §3) signed by ``key``; claims given as None are left out."""
    now = int(time.time())
    body = {"iss": client_id, "sub": client_id, "aud": aud, "exp": int(now + exp_in), "iat": now,
            "jti": str(uuid.uuid4()), **claims}
    protected = {"alg": alg, "kid": key.kid, "typ": "JWT", **(header or {})}
    return jwt.encode({k: v for k, v in protected.items() if v is not None},
                      {k: v for k, v in body.items() if v is not None}, key, algorithms=[alg])


def backend_form(signed: str, scope: str = "system/Patient.rs", **extra: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "scope": scope, "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": signed, **extra}


class JwksServer:
    """Serves a JWK Set over HTTP on loopback from a thread; ``jwks`` and ``cache_control`` may change
    between requests, and ``hits`` counts them."""

    def __init__(self, jwks: dict, cache_control: str | None = "max-age=300"):
        self.jwks = jwks
        self.cache_control = cache_control
        self.hits = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.hits += 1
                body = json.dumps(server.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if server.cache_control is not None:
                    self.send_header("Cache-Control", server.cache_control)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"

    def __enter__(self) -> JwksServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
