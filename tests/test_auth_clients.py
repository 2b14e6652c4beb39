"""Client metadata rules (RFC 7591 §2, SMART client types), the client registry, seed apps and `sandbox apps`."""

from __future__ import annotations

import json
import re
import time

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc.jwk import ECKey, RSAKey

from sandbox.auth.cli import apps as apps_cli
from sandbox.auth.clients import SEED_APPS, ClientRegistry, register_seed_apps
from sandbox.auth.registration import (
    DEFAULT_APP_SCOPE,
    DEFAULT_BACKEND_SCOPE,
    RegistrationError,
    validate_metadata,
)
from sandbox.settings import load
from sandbox.store import Store

BASE = "http://localhost:8080"
REDIRECT = "https://app.example.org/callback"


@pytest.fixture(scope="module")
def rsa_jwk() -> dict:
    return RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "alg": "RS384"}, private=True).as_dict(private=True)


@pytest.fixture(scope="module")
def ec_jwk() -> dict:
    return ECKey.generate_key("P-384", parameters={"kid": "ec-1"}, private=True).as_dict(private=True)


def public(jwk: dict) -> dict:
    return {k: v for k, v in jwk.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}


@pytest.fixture
def registry(store):
    return ClientRegistry(store, BASE)


# -- what is accepted, and how it is normalised ---------------------------------------------------------------

def test_a_public_app_gets_the_rfc_7591_defaults_and_the_default_scopes():
    values = validate_metadata({"token_endpoint_auth_method": "none", "redirect_uris": [REDIRECT]})
    assert values == {
        "token_endpoint_auth_method": "none", "grant_types": ["authorization_code"], "response_types": ["code"],
        "redirect_uris": [REDIRECT], "scope": DEFAULT_APP_SCOPE, "pre_approved": False, "launch_mode": "embedded",
    }


def test_without_an_auth_method_the_rfc_7591_default_client_secret_basic_applies(registry):
    client = registry.register({"redirect_uris": [REDIRECT]})
    assert (client.token_endpoint_auth_method, client.client_type) == ("client_secret_basic", "confidential-symmetric")
    assert client.client_secret is not None


@pytest.mark.parametrize(("metadata", "client_type"), [
    ({"token_endpoint_auth_method": "none"}, "public"),
    ({"token_endpoint_auth_method": "client_secret_basic"}, "confidential-symmetric"),
    ({"token_endpoint_auth_method": "client_secret_post"}, "confidential-symmetric"),
    ({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://app.example.org/jwks.json"},
     "confidential-asymmetric"),
    ({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://localhost:9000/jwks.json",
      "grant_types": ["client_credentials"], "redirect_uris": None}, "backend"),
])
def test_the_client_type_follows_from_auth_method_and_grants(registry, metadata, client_type):
    client = registry.register({"redirect_uris": [REDIRECT], **metadata})
    assert client.client_type == client_type
    assert (client.client_secret is not None) == (client_type == "confidential-symmetric")


def test_a_backend_services_client_has_no_redirects_no_response_types_and_system_scopes():
    values = validate_metadata({"token_endpoint_auth_method": "private_key_jwt", "grant_types": ["client_credentials"],
                                "jwks_uri": "https://backend.example.org/jwks"})
    assert values["redirect_uris"] == [] and values["response_types"] == []
    assert values["scope"] == DEFAULT_BACKEND_SCOPE


def test_unknown_scopes_are_dropped_never_an_error():
    values = validate_metadata({"token_endpoint_auth_method": "none", "redirect_uris": [REDIRECT],
                                "scope": "launch bogus patient/Observation.rs patient/Nonsense.read openid launch"})
    assert values["scope"] == "launch patient/Observation.rs openid"


def test_paths_are_joined_with_the_base_url_for_apps_the_sandbox_serves():
    values = validate_metadata({"token_endpoint_auth_method": "none", "redirect_uris": ["/demo/index.html"],
                                "launch_uri": "/demo/launch.html", "logo_uri": "/static/logo.png"}, BASE + "/")
    assert values["redirect_uris"] == [BASE + "/demo/index.html"]
    assert values["launch_uri"] == BASE + "/demo/launch.html"
    assert values["logo_uri"] == BASE + "/static/logo.png"


def test_http_redirects_are_allowed_for_any_host_and_duplicates_collapse():
    uris = ["http://app.example.org/cb", "http://127.0.0.1:3000/cb?x=1", "http://app.example.org/cb"]
    values = validate_metadata({"token_endpoint_auth_method": "none", "redirect_uris": uris})
    assert values["redirect_uris"] == uris[:2]


def test_metadata_the_server_does_not_know_is_ignored():
    values = validate_metadata({"token_endpoint_auth_method": "none", "redirect_uris": [REDIRECT],
                                "software_id": "x", "contacts": ["a@example.org"], "client_id": "chosen"})
    assert not {"software_id", "contacts", "client_id"} & set(values)


def test_public_rsa_and_ec_keys_are_accepted(rsa_jwk, ec_jwk):
    jwks = {"keys": [public(rsa_jwk), public(ec_jwk)]}
    values = validate_metadata({"token_endpoint_auth_method": "private_key_jwt", "redirect_uris": [REDIRECT],
                                "jwks": jwks})
    assert values["jwks"] == jwks


def test_an_es256_key_alone_is_enough():
    jwk = ECKey.generate_key("P-256", parameters={"kid": "p256"}, private=False).as_dict()
    values = validate_metadata({"token_endpoint_auth_method": "private_key_jwt", "redirect_uris": [REDIRECT],
                                "jwks": {"keys": [jwk]}})
    assert values["jwks"]["keys"][0]["kid"] == "p256"


def test_sandbox_launch_settings_are_kept():
    values = validate_metadata({"token_endpoint_auth_method": "none", "redirect_uris": [REDIRECT],
                                "pre_approved": True, "launch_mode": "tab"})
    assert (values["pre_approved"], values["launch_mode"]) == (True, "tab")


# -- what is refused, with the RFC 7591 §3.2.2 error code ---------------------------------------------------

PUBLIC = {"token_endpoint_auth_method": "none", "redirect_uris": [REDIRECT]}
BACKEND = {"token_endpoint_auth_method": "private_key_jwt", "grant_types": ["client_credentials"],
           "jwks_uri": "https://backend.example.org/jwks"}
PKJWT = {"token_endpoint_auth_method": "private_key_jwt", "redirect_uris": [REDIRECT]}
RSA_PUBLIC = {"kty": "RSA", "kid": "k", "e": "AQAB"}  # completed with the fixture's modulus below

REFUSED = [
    # redirect_uris (RFC 6749 §3.1.2, RFC 7591 §2)
    ({"token_endpoint_auth_method": "none"}, "invalid_redirect_uri",
     "redirect_uris is required for the authorization_code grant"),
    ({**PUBLIC, "redirect_uris": []}, "invalid_redirect_uri", "redirect_uris is required"),
    ({**PUBLIC, "redirect_uris": REDIRECT}, "invalid_redirect_uri", "redirect_uris must be an array of strings"),
    ({**PUBLIC, "redirect_uris": [42]}, "invalid_redirect_uri", "redirect_uris must be an array of strings"),
    ({**PUBLIC, "redirect_uris": ["callback.html"]}, "invalid_redirect_uri", "must be an absolute http or https URL"),
    ({**PUBLIC, "redirect_uris": ["https://app.example.org/cb#done"]}, "invalid_redirect_uri",
     "has a fragment, which RFC 6749 §3.1.2 forbids"),
    ({**PUBLIC, "redirect_uris": ["https://*.example.org/cb"]}, "invalid_redirect_uri", "contains a wildcard"),
    ({**PUBLIC, "redirect_uris": ["ftp://app.example.org/cb"]}, "invalid_redirect_uri", "absolute http or https"),
    ({**PUBLIC, "redirect_uris": ["https:///cb"]}, "invalid_redirect_uri", "absolute http or https"),
    ({**BACKEND, "redirect_uris": [REDIRECT]}, "invalid_redirect_uri",
     "redirect_uris are only used by the authorization_code grant"),
    # grant and response types
    ({**PUBLIC, "grant_types": ["implicit"]}, "invalid_client_metadata", "grant_types implicit not supported"),
    ({**PUBLIC, "grant_types": ["password", "authorization_code"]}, "invalid_client_metadata",
     "grant_types password not supported"),
    ({**PUBLIC, "grant_types": ["refresh_token"]}, "invalid_client_metadata",
     "grant_types refresh_token needs authorization_code as well"),
    ({**PUBLIC, "response_types": ["token"]}, "invalid_client_metadata", "response_types token not supported"),
    ({**PUBLIC, "response_types": []}, "invalid_client_metadata",
     "grant_types authorization_code needs response_types code"),
    ({**BACKEND, "response_types": ["code"]}, "invalid_client_metadata",
     "response_types code needs grant_types authorization_code"),
    ({**PUBLIC, "grant_types": "authorization_code"}, "invalid_client_metadata", "grant_types must be an array"),
    # authentication method
    ({**PUBLIC, "token_endpoint_auth_method": "client_secret_jwt"}, "invalid_client_metadata",
     "token_endpoint_auth_method 'client_secret_jwt' is not supported"),
    ({**BACKEND, "token_endpoint_auth_method": "none", "jwks_uri": None}, "invalid_client_metadata",
     "the client_credentials grant requires token_endpoint_auth_method private_key_jwt"),
    ({**BACKEND, "token_endpoint_auth_method": "client_secret_basic", "jwks_uri": None}, "invalid_client_metadata",
     "requires token_endpoint_auth_method private_key_jwt"),
    ({**BACKEND, "grant_types": ["client_credentials", "authorization_code"], "redirect_uris": [REDIRECT]},
     "invalid_client_metadata", "cannot also use authorization_code"),
    ({**BACKEND, "grant_types": ["client_credentials", "refresh_token"]}, "invalid_client_metadata",
     "cannot also use refresh_token"),
    ({**BACKEND, "scope": "system/Patient.rs patient/Observation.rs launch"}, "invalid_client_metadata",
     "may only hold system/ scopes; remove patient/Observation.rs launch"),
    ({**PUBLIC, "scope": "launch patient/*.rs system/*.cruds"}, "invalid_client_metadata",
     "system/ scopes are for backend services (client_credentials with private_key_jwt), not apps a person "
     "authorizes; remove system/*.cruds"),
    ({**PKJWT, "jwks_uri": "https://app.example.org/jwks", "scope": "openid system/Patient.rs"},
     "invalid_client_metadata", "system/ scopes are for backend services"),
    # keys (SMART client-confidential-asymmetric, RFC 7591 §2 jwks / jwks_uri)
    (PKJWT, "invalid_client_metadata", "private_key_jwt needs the client's public keys: jwks_uri or jwks"),
    ({**PKJWT, "jwks_uri": "https://app.example.org/jwks", "jwks": {"keys": []}}, "invalid_client_metadata",
     "jwks and jwks_uri must not both be present"),
    ({**PUBLIC, "jwks_uri": "https://app.example.org/jwks"}, "invalid_client_metadata",
     "jwks and jwks_uri are only used with private_key_jwt, not none"),
    ({**PKJWT, "jwks_uri": "jwks.json"}, "invalid_client_metadata", "jwks_uri 'jwks.json' must be an absolute"),
    ({**PKJWT, "jwks": {"keys": []}}, "invalid_client_metadata", "jwks must be a JWK Set"),
    ({**PKJWT, "jwks": [RSA_PUBLIC]}, "invalid_client_metadata", "jwks must be a JWK Set"),
    ({**PKJWT, "jwks": {"keys": ["k"]}}, "invalid_client_metadata", "jwks key 0 is not a JSON object"),
    ({**PKJWT, "jwks": {"keys": [{"kty": "oct", "kid": "s", "k": "c2VjcmV0"}]}}, "invalid_client_metadata",
     "carries private or symmetric key material (k)"),
    ({**PKJWT, "jwks": {"keys": [{**RSA_PUBLIC, "n": "AQAB", "d": "AQAB"}]}}, "invalid_client_metadata",
     "jwks key 'k' carries private or symmetric key material (d); register public keys only"),
    ({**PKJWT, "jwks": {"keys": [{"kty": "RSA", "n": "x", "e": "AQAB"}]}}, "invalid_client_metadata",
     "has no kid; SMART requires kid on every key"),
    ({**PKJWT, "jwks": {"keys": [{"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "x"}]}}, "invalid_client_metadata",
     "has kty 'OKP'; use RSA or EC"),
    ({**PKJWT, "jwks": {"keys": [{**RSA_PUBLIC, "n": "AQAB"}]}}, "invalid_client_metadata",
     "jwks key 'k' is not a valid RSA public key"),
    ({**PKJWT, "jwks": {"keys": [{"kty": "EC", "kid": "e", "crv": "P-384", "x": "AQAB", "y": "AQAB"}]}},
     "invalid_client_metadata", "jwks key 'e' is not a valid EC public key"),
    # other fields
    ({**PUBLIC, "launch_uri": "launch.html"}, "invalid_client_metadata",
     "launch_uri 'launch.html' must be an absolute http or https URL"),
    ({**PUBLIC, "logo_uri": "javascript:alert(1)"}, "invalid_client_metadata", "logo_uri"),
    ({**PUBLIC, "client_name": ["My app"]}, "invalid_client_metadata", "client_name must be a string"),
    ({**PUBLIC, "scope": ["openid"]}, "invalid_client_metadata", "scope must be a string"),
    ({**PUBLIC, "pre_approved": "yes"}, "invalid_client_metadata", "pre_approved must be true or false"),
    ({**PUBLIC, "launch_mode": "popup"}, "invalid_client_metadata", "launch_mode must be one of embedded, tab"),
]


@pytest.mark.parametrize(("metadata", "error", "description"), REFUSED,
                         ids=[f"{i}-{d[:40]}" for i, (_, _, d) in enumerate(REFUSED)])
def test_invalid_metadata_is_refused_with_the_rfc_7591_error(metadata, error, description):
    metadata = {k: v for k, v in metadata.items() if v is not None}
    with pytest.raises(RegistrationError) as raised:
        validate_metadata(metadata)
    assert raised.value.error == error
    assert description in raised.value.description
    assert raised.value.as_json() == {"error": error, "error_description": raised.value.description}


def test_metadata_that_is_not_an_object_is_refused():
    with pytest.raises(RegistrationError, match="must be a JSON object"):
        validate_metadata(["redirect_uris"])  # type: ignore[arg-type]


@pytest.mark.parametrize("change", [
    {"use": "enc"}, {"key_ops": ["encrypt"]}, {"alg": "RS512"}, {"alg": "PS256"},
])
def test_a_jwks_without_any_key_for_smart_signatures_is_refused(rsa_jwk, change):
    with pytest.raises(RegistrationError, match="jwks has no key for signatures with RS384, ES384, RS256, ES256"):
        validate_metadata({**PKJWT, "jwks": {"keys": [{**public(rsa_jwk), **change}]}})


def test_an_ec_key_whose_alg_does_not_fit_its_curve_is_no_signing_key(ec_jwk):
    with pytest.raises(RegistrationError, match="jwks has no key for signatures"):
        validate_metadata({**PKJWT, "jwks": {"keys": [{**public(ec_jwk), "alg": "ES256"}]}})


def test_a_private_ec_key_is_refused(ec_jwk):
    with pytest.raises(RegistrationError, match=r"jwks key 'ec-1' carries private .* \(d\)"):
        validate_metadata({**PKJWT, "jwks": {"keys": [ec_jwk]}})


# -- the registry ------------------------------------------------------------------------------------------------

def test_register_get_list_remove(registry):
    first = registry.register({**PUBLIC, "client_name": "First"})
    second = registry.register({**PUBLIC, "client_name": "Second"}, origin="cli")
    assert registry.get(first.client_id) == first
    assert [c.client_id for c in registry.list()] == [first.client_id, second.client_id]
    assert second.origin == "cli" and first.origin == "dynamic"
    assert registry.remove(first.client_id) is True
    assert registry.remove(first.client_id) is False
    assert registry.get(first.client_id) is None


def test_removing_an_app_revokes_its_tokens(registry):
    from sandbox.auth.tokens import active_token, issue, new_family_id

    app = registry.register({**PUBLIC, "client_name": "Gone soon"})
    token = issue(registry.store, family_id=new_family_id(), client_id=app.client_id, scope="patient/*.rs",
                  access_lifetime=3600).access_token
    assert active_token(registry.store, token) is not None
    registry.remove(app.client_id)
    assert active_token(registry.store, token) is None


def grants_of(registry, client_id: str) -> tuple[str, str, str]:
    """An access token, a refresh token and an unredeemed code of the app."""
    from sandbox.auth.codes import CodeGrant, issue_code
    from sandbox.auth.tokens import issue, new_family_id

    issued = issue(registry.store, family_id=new_family_id(), client_id=client_id, scope="patient/*.rs offline_access",
                   access_lifetime=3600, refresh_expires_at=int(time.time()) + 3600)
    code = issue_code(registry.store, CodeGrant(client_id, REDIRECT, "challenge", "patient/*.rs"), 60)
    return issued.access_token, issued.refresh_token, code


def grants_hold(registry, access: str, refresh: str, code: str) -> tuple[bool, bool, bool]:
    from sandbox.auth.codes import redeem_code
    from sandbox.auth.tokens import active_token, find, inactive_reason

    return (active_token(registry.store, access) is not None,
            inactive_reason(registry.store, find(registry.store, refresh)) is None,
            redeem_code(registry.store, code, "probe").grant is not None)


@pytest.mark.parametrize(("change", "why"), [
    ({"token_endpoint_auth_method": "none"}, "The app changed from confidential to public"),
    ({"redirect_uris": [REDIRECT, REDIRECT + "/other"]}, "The app's redirect URIs changed"),
])
def test_going_public_or_new_redirect_uris_end_the_apps_grants_and_say_why(registry, change, why):
    from sandbox.auth import audit

    app = registry.register({"redirect_uris": [REDIRECT]})
    grants = grants_of(registry, app.client_id)
    registry.update(app.client_id, change)
    assert grants_hold(registry, *grants) == (False, False, False)
    [event] = audit.recent(registry.store, client_id=app.client_id, event="app.grants_ended")
    assert event.rule.startswith(why) and event.rule.endswith("its tokens and codes were revoked")


@pytest.mark.parametrize("change", [
    {"client_name": "Renamed", "scope": "launch patient/Observation.rs"},
    {"token_endpoint_auth_method": "client_secret_post"},  # a public app becoming confidential gains trust
    {"redirect_uris": [REDIRECT, REDIRECT]},  # the same URIs, written twice
])
def test_other_changes_keep_the_apps_grants(registry, change):
    from sandbox.auth import audit

    app = registry.register({**PUBLIC} if "token_endpoint_auth_method" in change else {"redirect_uris": [REDIRECT]})
    grants = grants_of(registry, app.client_id)
    registry.update(app.client_id, change)
    assert grants_hold(registry, *grants) == (True, True, True)
    assert audit.recent(registry.store, client_id=app.client_id, event="app.grants_ended") == []


def test_a_change_that_ends_the_grants_ends_the_pre_approval_unless_it_sets_it(registry):
    app = registry.register({**PUBLIC, "pre_approved": True})
    assert registry.update(app.client_id, {"client_name": "Renamed"}).pre_approved
    assert not registry.update(app.client_id, {"redirect_uris": [REDIRECT + "/new"]}).pre_approved
    again = registry.update(app.client_id, {"redirect_uris": [REDIRECT], "pre_approved": True})
    assert again.pre_approved  # the administrator approving the new registration in the same change


def test_apps_belong_to_the_administrator_unless_registered_for_someone(registry):
    assert registry.register(PUBLIC).owner == "admin"
    assert registry.register(PUBLIC, origin="ui", owner="lori.mcdonald").owner == "lori.mcdonald"


def test_an_older_database_gains_the_owner_column_and_its_apps_belong_to_the_administrator(tmp_path):
    from sandbox.auth.schema import ensure_schema

    old = Store(str(tmp_path / "old.sqlite"))
    old.conn.executescript(
        "CREATE TABLE clients (client_id TEXT PRIMARY KEY, client_secret TEXT, client_type TEXT NOT NULL, "
        "metadata TEXT NOT NULL, origin TEXT NOT NULL DEFAULT 'dynamic', created_at INTEGER NOT NULL, "
        "updated_at INTEGER NOT NULL);")
    old.conn.execute("INSERT INTO clients VALUES ('old-app', NULL, 'public', ?, 'ui', 1, 1)",
                     (json.dumps(validate_metadata(PUBLIC)),))
    ensure_schema(old)
    ensure_schema(old)  # every worker runs it; the second run finds the column there
    assert "owner" in {row[1] for row in old.conn.execute("PRAGMA table_info(clients)")}
    assert ClientRegistry(old).get("old-app").owner == "admin"


def test_client_ids_and_secrets_are_random_and_url_safe(registry):
    clients = [registry.register({"redirect_uris": [REDIRECT]}) for _ in range(5)]
    assert len({c.client_id for c in clients}) == 5
    assert len({c.client_secret for c in clients}) == 5
    for client in clients:
        assert re.fullmatch(r"[A-Za-z0-9]{22}", client.client_id)
        assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", client.client_secret)  # 32 random bytes


def test_a_fixed_client_id_cannot_be_registered_twice(registry):
    registry.register(PUBLIC, client_id="my-app")
    with pytest.raises(RegistrationError, match="client_id 'my-app' is already registered"):
        registry.register(PUBLIC, client_id="my-app")


def test_the_registration_response_carries_the_secret_and_all_metadata(registry):
    client = registry.register({"redirect_uris": [REDIRECT], "client_name": "Chart Helper", "scope": "launch openid"})
    assert client.registration_response() == {
        "client_id": client.client_id, "client_id_issued_at": client.created_at,
        "client_secret": client.client_secret, "client_secret_expires_at": 0,
        "client_name": "Chart Helper", "token_endpoint_auth_method": "client_secret_basic",
        "grant_types": ["authorization_code"], "response_types": ["code"], "redirect_uris": [REDIRECT],
        "scope": "launch openid", "pre_approved": False, "launch_mode": "embedded",
    }


def test_client_helpers(registry):
    client = registry.register({"redirect_uris": [REDIRECT], "scope": "launch patient/*.rs"})
    assert client.has_redirect_uri(REDIRECT) and not client.has_redirect_uri(REDIRECT + "/")
    assert client.check_secret(client.client_secret) and not client.check_secret("guess")
    assert not client.check_secret(None)
    assert client.allows_grant("authorization_code") and not client.allows_grant("client_credentials")
    assert client.scopes.scopes == ("launch", "patient/*.rs")
    assert client.client_secret not in repr(client)


def test_update_validates_and_manages_the_secret(registry):
    client = registry.register({**PUBLIC, "client_name": "Before"})
    assert client.client_secret is None
    confidential = registry.update(client.client_id, {"token_endpoint_auth_method": "client_secret_post"})
    assert confidential.client_type == "confidential-symmetric" and confidential.client_secret
    renamed = registry.update(client.client_id, {"client_name": "After"})
    assert (renamed.client_name, renamed.client_secret) == ("After", confidential.client_secret)
    public_again = registry.update(client.client_id, {"token_endpoint_auth_method": "none", "client_name": None})
    assert public_again.client_secret is None and public_again.client_name is None
    with pytest.raises(RegistrationError, match="fragment"):
        registry.update(client.client_id, {"redirect_uris": [REDIRECT + "#x"]})
    with pytest.raises(KeyError):
        registry.update("nobody", {"client_name": "x"})


def test_update_switches_between_jwks_and_jwks_uri(registry, rsa_jwk):
    client = registry.register({**PKJWT, "jwks_uri": "https://app.example.org/jwks"})
    with_keys = registry.update(client.client_id, {"jwks": {"keys": [public(rsa_jwk)]}})
    assert with_keys.jwks_uri is None and with_keys.jwks["keys"][0]["kid"] == "rsa-1"
    with pytest.raises(RegistrationError, match="private_key_jwt needs the client's public keys"):
        registry.update(client.client_id, {"jwks": None})


# -- seed apps -----------------------------------------------------------------------------------------------------

def test_seed_apps_are_registered_under_fixed_ids_with_base_url_paths(store):
    declared = json.loads(SEED_APPS.read_text())
    apps = {c.client_id: c for c in register_seed_apps(store, BASE)}
    assert list(apps) == [d["client_id"] for d in declared]
    demo = apps["demo-app"]
    assert (demo.client_type, demo.origin) == ("public", "seed")
    assert demo.redirect_uris == (BASE + "/demo/index.html",)
    assert demo.launch_uri == BASE + "/demo/launch.html"
    assert apps["demo-confidential"].client_type == "confidential-symmetric"
    assert apps["demo-confidential"].client_secret
    backend = apps["demo-backend"]
    assert (backend.client_type, backend.jwks, backend.jwks_uri) == ("backend", None, None)
    assert "no keys yet" in backend.description


def test_seeding_apps_again_is_idempotent_and_follows_a_new_base_url(store):
    first = {c.client_id: c for c in register_seed_apps(store, BASE)}
    again = {c.client_id: c for c in register_seed_apps(store, "https://ehr.example.org")}
    assert len(ClientRegistry(store).list()) == len(first)
    assert again["demo-app"].redirect_uris == ("https://ehr.example.org/demo/index.html",)
    assert again["demo-confidential"].client_secret == first["demo-confidential"].client_secret
    assert again["demo-app"].created_at == first["demo-app"].created_at


def test_the_keyless_seed_backend_can_be_renamed_and_then_given_keys(store):
    register_seed_apps(store, BASE)
    registry = ClientRegistry(store, BASE)
    assert registry.update("demo-backend", {"client_name": "Nightly export"}).client_name == "Nightly export"
    keyed = registry.update("demo-backend", {"jwks_uri": "http://localhost:9000/jwks.json"})
    assert keyed.jwks_uri == "http://localhost:9000/jwks.json"
    register_seed_apps(store, BASE)  # a later seed keeps the keys the developer added
    assert registry.get("demo-backend").jwks_uri == "http://localhost:9000/jwks.json"


# -- sandbox apps ----------------------------------------------------------------------------------------------------

@pytest.fixture
def cli_values(tmp_path):
    return load({"DB": str(tmp_path / "cli.sqlite"), "BASE_URL": BASE}, environ={})


def test_cli_adds_lists_shows_and_removes_apps(cli_values):
    runner = CliRunner()
    added = runner.invoke(apps_cli, ["add", "--name", "Growth Chart", "--auth-method", "client_secret_basic",
                                     "--redirect-uri", "http://localhost:3000/cb", "--scope", "launch patient/*.rs"],
                          obj=cli_values)
    assert added.exit_code == 0, added.output
    client_id = re.search(r"^client_id: +(\S+)$", added.output, re.M).group(1)
    secret = re.search(r"^client_secret: +(\S+)$", added.output, re.M).group(1)
    stored = ClientRegistry(Store(cli_values["DB"])).get(client_id)
    assert (stored.client_secret, stored.origin, stored.scope) == (secret, "cli", "launch patient/*.rs")

    listed = runner.invoke(apps_cli, ["list"], obj=cli_values)
    assert listed.output.splitlines()[0].split() == ["CLIENT_ID", "TYPE", "ORIGIN", "NAME"]
    assert listed.output.splitlines()[1].split() == [client_id, "confidential-symmetric", "cli", "Growth", "Chart"]
    assert secret not in runner.invoke(apps_cli, ["list", "--json"], obj=cli_values).output

    shown = json.loads(runner.invoke(apps_cli, ["show", client_id], obj=cli_values).output)
    assert shown["client_secret"] == secret and shown["redirect_uris"] == ["http://localhost:3000/cb"]

    removed = runner.invoke(apps_cli, ["remove", client_id], obj=cli_values)
    assert (removed.exit_code, removed.output) == (0, f"Removed {client_id}.\n")
    missing = runner.invoke(apps_cli, ["remove", client_id], obj=cli_values)
    assert missing.exit_code == 1 and f"No app has client_id '{client_id}'" in missing.output


def test_cli_add_with_fixed_id_jwks_file_and_json_output(cli_values, tmp_path, rsa_jwk):
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [public(rsa_jwk)]}))
    result = CliRunner().invoke(apps_cli, [
        "add", "--client-id", "my-backend", "--auth-method", "private_key_jwt", "--grant-type", "client_credentials",
        "--jwks", str(jwks_file), "--scope", "system/Patient.rs", "--json"], obj=cli_values)
    assert result.exit_code == 0, result.output
    response = json.loads(result.output)
    assert response["client_id"] == "my-backend" and "client_secret" not in response
    assert response["jwks"] == {"keys": [public(rsa_jwk)]}


def test_cli_reports_the_broken_rule(cli_values):
    result = CliRunner().invoke(apps_cli, ["add", "--auth-method", "none", "--redirect-uri", "https://a.example/#x"],
                                obj=cli_values)
    assert result.exit_code == 1
    assert "Error: invalid_redirect_uri: redirect_uri 'https://a.example/#x' has a fragment" in result.output


def test_cli_updates_only_the_flags_given(cli_values):
    runner = CliRunner()
    runner.invoke(apps_cli, ["add", "--client-id", "tab-app", "--auth-method", "none", "--redirect-uri", "/cb"],
                  obj=cli_values)
    result = runner.invoke(apps_cli, ["update", "tab-app", "--launch-mode", "tab", "--pre-approved"], obj=cli_values)
    assert result.exit_code == 0, result.output
    client = ClientRegistry(Store(cli_values["DB"])).get("tab-app")
    assert (client.launch_mode, client.pre_approved, client.redirect_uris) == ("tab", True, (BASE + "/cb",))
    moved = runner.invoke(apps_cli, ["update", "tab-app", "--redirect-uri", "/elsewhere"], obj=cli_values)
    assert moved.exit_code == 0 and json.loads(moved.output)["pre_approved"] is False  # a new registration
    unknown = runner.invoke(apps_cli, ["update", "nobody", "--name", "x"], obj=cli_values)
    assert unknown.exit_code == 1 and "No app has client_id 'nobody'" in unknown.output


def test_cli_update_ends_the_grants_as_the_pages_do(cli_values):
    runner = CliRunner()
    runner.invoke(apps_cli, ["add", "--client-id", "server-app", "--redirect-uri", REDIRECT], obj=cli_values)
    registry = ClientRegistry(Store(cli_values["DB"]), BASE)
    grants = grants_of(registry, "server-app")
    result = runner.invoke(apps_cli, ["update", "server-app", "--auth-method", "none"], obj=cli_values)
    assert result.exit_code == 0, result.output
    assert grants_hold(registry, *grants) == (False, False, False)


# -- no input makes validation fail other than with a registration error -----------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
    | st.sampled_from(["none", "private_key_jwt", "client_credentials", "code", "https://a.example/cb", "/cb"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)
FIELDS = ["client_name", "token_endpoint_auth_method", "grant_types", "response_types", "redirect_uris", "scope",
          "jwks", "jwks_uri", "launch_uri", "logo_uri", "pre_approved", "launch_mode", "description"]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES, max_size=6))
def test_any_json_metadata_is_either_valid_or_a_registration_error(metadata):
    try:
        values = validate_metadata(metadata, BASE)
    except RegistrationError as exc:
        assert exc.error in ("invalid_client_metadata", "invalid_redirect_uri")
        return
    assert values["token_endpoint_auth_method"] in ("none", "client_secret_basic", "client_secret_post",
                                                    "private_key_jwt")
    assert all("#" not in uri for uri in values["redirect_uris"])


def test_a_request_sees_its_own_edits_at_once_and_other_processes_edits_from_its_next_request(app, registry):
    """A request reads the tables' change counters once (auth/changes.py), and again after it writes itself."""
    import sqlite3

    store = registry.store
    client_id = registry.register({"client_name": "Before", "redirect_uris": [REDIRECT],
                                   "token_endpoint_auth_method": "none"}).client_id
    with app.test_request_context():
        assert registry.get(client_id).client_name == "Before"
        assert registry.update(client_id, {"client_name": "Edited here"}).client_name == "Edited here"
        assert registry.get(client_id).client_name == "Edited here"
        elsewhere = sqlite3.connect(store.path)  # another worker process, as far as this one can tell
        row = elsewhere.execute("SELECT metadata FROM clients WHERE client_id = ?", (client_id,)).fetchone()
        with elsewhere:
            elsewhere.execute("UPDATE clients SET metadata = ? WHERE client_id = ?",
                              (json.dumps({**json.loads(row[0]), "client_name": "Edited elsewhere"}), client_id))
        elsewhere.close()
        assert registry.get(client_id).client_name == "Edited here"  # this request's reading of the counters
    with app.test_request_context():
        assert registry.get(client_id).client_name == "Edited elsewhere"
    assert registry.get(client_id).client_name == "Edited elsewhere"  # outside a request: read every time
