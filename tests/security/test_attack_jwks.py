"""A backend client whose jwks_uri answers with far more than a JWK Set, over real HTTP: the sandbox stops reading,
refuses the client and caches nothing."""

from __future__ import annotations

import sqlite3

import requests
from oauth_support import JwksServer, assertion, backend_client, public_jwks, rsa_key

from sandbox.store import Store


def test_an_oversized_jwks_is_refused_unread_and_nothing_is_cached(live_server):
    key = rsa_key("attack-1")
    jwks = public_jwks(key)
    jwks["keys"].append({"kty": "oct", "kid": "padding", "k": "A" * 2_000_000})  # 2 MB behind the real key
    with JwksServer(jwks) as server:
        client = backend_client(Store(str(live_server.db)), jwks_uri=server.url)
        signed = assertion(key, client.client_id, aud=f"{live_server}/auth/token")
        response = requests.post(f"{live_server}/auth/token", timeout=30, data={
            "grant_type": "client_credentials", "scope": "system/Patient.rs", "client_assertion": signed,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "more than 64 KB" in response.json()["error_description"]
    with sqlite3.connect(live_server.db) as conn:
        assert conn.execute("SELECT count(*) FROM jwks_cache WHERE url = ?", (server.url,)).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM tokens WHERE client_id = ?", (client.client_id,)).fetchone() == (0,)
