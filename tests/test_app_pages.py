"""App registration pages: the browser form goes through the same registry rules as RFC 7591 registration."""

from __future__ import annotations

import json
import re

import pytest
from authorize_support import hidden, sign_in

from sandbox.auth.clients import ClientRegistry


@pytest.fixture
def client(seeded_client):
    sign_in(seeded_client, "lori.mcdonald")
    return seeded_client


def csrf(client) -> str:
    return hidden(client.get("/apps/new").text, "csrf")


FORM = {"client_name": "Growth Charts", "client_type": "confidential-symmetric",
        "redirect_uris": "http://localhost:4000/callback\nhttp://127.0.0.1:4000/callback",
        "launch_uri": "http://localhost:4000/launch", "scope": "launch openid fhirUser patient/Observation.rs",
        "launch_mode": "tab"}


def test_pages_need_a_signed_in_user(seeded_client):
    assert seeded_client.get("/apps/").headers["Location"].startswith("/auth/login?next=/apps/")


def test_register_shows_the_secret_once_and_the_app_is_registered(client, seeded_app):
    response = client.post("/apps/new", data={**FORM, "csrf": csrf(client)})
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    client_id = re.search(r'id="client-id">([^<]+)<', page.text).group(1)
    secret = re.search(r'id="client-secret">([^<]+)<', page.text).group(1)
    app = ClientRegistry(seeded_app.extensions["store"]).get(client_id)
    assert app.client_secret == secret and app.token_endpoint_auth_method == "client_secret_basic"
    assert app.redirect_uris == ("http://localhost:4000/callback", "http://127.0.0.1:4000/callback")
    assert app.launch_mode == "tab" and app.origin == "ui"
    assert "client-secret" not in client.get(response.headers["Location"]).text  # shown once
    assert "Growth Charts" in client.get("/apps/").text


def test_invalid_metadata_is_shown_with_the_form_kept(client):
    response = client.post("/apps/new", data={**FORM, "redirect_uris": "not a url", "csrf": csrf(client)})
    assert response.status_code == 400
    assert "The app was not saved" in response.text
    assert 'value="Growth Charts"' in response.text


def test_edit_and_remove(client, seeded_app):
    created = client.post("/apps/new", data={**FORM, "client_type": "public", "csrf": csrf(client)})
    location = created.headers["Location"]
    client_id = location.rsplit("/", 1)[1]
    saved = client.post(location, data={**FORM, "client_type": "public", "client_name": "Renamed",
                                        "pre_approved": "on", "csrf": csrf(client)})
    assert saved.status_code == 302
    app = ClientRegistry(seeded_app.extensions["store"]).get(client_id)
    assert app.client_name == "Renamed" and app.pre_approved and app.client_secret is None
    client.post(f"/apps/{client_id}/remove", data={"csrf": csrf(client)})
    assert ClientRegistry(seeded_app.extensions["store"]).get(client_id) is None


def test_backend_service_with_a_pasted_jwks(client, seeded_app):
    from joserfc.jwk import RSAKey

    key = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS384", "use": "sig"})
    jwks = json.dumps({"keys": [key.as_dict(private=False)]})
    form = {"client_name": "Nightly export", "client_type": "backend", "scope": "system/*.rs", "jwks": jwks,
            "csrf": csrf(client)}
    location = client.post("/apps/new", data=form).headers["Location"]
    app = ClientRegistry(seeded_app.extensions["store"]).get(location.rsplit("/", 1)[1])
    assert app.grant_types == ("client_credentials",) and app.client_type == "backend"


def test_posts_without_the_csrf_token_change_nothing(client, seeded_app):
    before = len(ClientRegistry(seeded_app.extensions["store"]).list())
    assert client.post("/apps/new", data=FORM).status_code == 400
    assert len(ClientRegistry(seeded_app.extensions["store"]).list()) == before
