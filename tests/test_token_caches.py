"""Each server worker caches clients, users and the signing key; an edit made anywhere (another worker, the CLI)
is seen by the very next request of every worker. Against the real server with two workers: every request opens
a new connection, so the requests land on both workers."""

from __future__ import annotations

import requests

from sandbox.auth.clients import ClientRegistry
from sandbox.auth.keys import SigningKeys
from sandbox.store import Store

TRIES = 12
OLD_REDIRECT, NEW_REDIRECT = "http://127.0.0.1:9/old-callback", "http://127.0.0.1:9/new-callback"


def authorize(live_server, client_id: str, redirect_uri: str) -> int:
    """The status of an authorize request that lacks everything but its client and redirect_uri: a redirect back
    to a registered redirect_uri (with an error), an error page for any other."""
    response = requests.get(f"{live_server}/auth/authorize", params={"client_id": client_id,
                                                                     "redirect_uri": redirect_uri},
                            allow_redirects=False, timeout=10)
    return response.status_code


def test_a_changed_redirect_uri_takes_effect_at_once_in_every_worker(live_server):
    registry = ClientRegistry(Store(str(live_server.db)), live_server)
    app = registry.register({"client_name": "Cache probe", "token_endpoint_auth_method": "none",
                             "redirect_uris": [OLD_REDIRECT], "scope": "openid patient/*.rs"}, origin="cli")
    assert [authorize(live_server, app.client_id, OLD_REDIRECT) for _ in range(TRIES)] == [302] * TRIES

    registry.update(app.client_id, {"redirect_uris": [NEW_REDIRECT]})  # as the CLI or another worker would

    assert [authorize(live_server, app.client_id, OLD_REDIRECT) for _ in range(TRIES)] == [400] * TRIES
    assert [authorize(live_server, app.client_id, NEW_REDIRECT) for _ in range(TRIES)] == [302] * TRIES


def test_a_removed_app_is_unknown_at_once_in_every_worker(live_server):
    registry = ClientRegistry(Store(str(live_server.db)), live_server)
    app = registry.register({"client_name": "Removed probe", "token_endpoint_auth_method": "none",
                             "redirect_uris": [OLD_REDIRECT], "scope": "openid patient/*.rs"}, origin="cli")
    assert [authorize(live_server, app.client_id, OLD_REDIRECT) for _ in range(TRIES)] == [302] * TRIES
    registry.remove(app.client_id)
    pages = [requests.get(f"{live_server}/auth/authorize", params={"client_id": app.client_id,
                                                                   "redirect_uri": OLD_REDIRECT}, timeout=10)
             for _ in range(TRIES)]
    assert [(p.status_code, "Unknown app" in p.text) for p in pages] == [(400, True)] * TRIES


def test_a_key_rotation_reaches_every_worker_at_once(live_server):
    keys = SigningKeys(Store(str(live_server.db)))
    before = keys.current_kid()
    assert {requests.get(f"{live_server}/auth/jwks", timeout=10).json()["keys"][0]["kid"]
            for _ in range(TRIES)} == {before}

    after = keys.rotate()

    published = [requests.get(f"{live_server}/auth/jwks", timeout=10).json()["keys"] for _ in range(TRIES)]
    assert {(jwks[0]["kid"], jwks[1]["kid"]) for jwks in published} == {(after, before)}
