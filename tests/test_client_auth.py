"""Client authentication at the token endpoint: public clients, client_secret_basic / _post (RFC 6749 §2.3.1),
private_key_jwt (RFC 7523 §3, SMART App Launch 2.2 §client-confidential-asymmetric), rate limiting."""

from __future__ import annotations

import base64
import json
import time

import pytest
from oauth_support import (
    ASSERTION_TYPE,
    TOKEN_URL,
    JwksServer,
    assertion,
    backend_client,
    backend_form,
    basic,
    code_form,
    confidential_app,
    ec_key,
    issue,
    new_verifier,
    public_app,
    public_jwks,
    rsa_key,
)

from sandbox.app import create_app
from sandbox.auth import audit
from sandbox.auth.assertions import cache_lifetime

BASIC_CHALLENGE = 'Basic realm="sandbox"'


def post_code(http, store, client, headers=None, **form_extra):
    verifier = new_verifier()
    code = issue(store, client, verifier)
    return http.post("/auth/token", data=code_form(code, verifier, **form_extra), headers=headers or {})


def assert_invalid_client(response, description=None, challenge=False):
    assert response.status_code == 401, response.json
    assert response.json["error"] == "invalid_client"
    if description is not None:
        assert response.json["error_description"] == description
    assert response.headers.get("WWW-Authenticate") == (BASIC_CHALLENGE if challenge else None)
    assert response.headers["Cache-Control"] == "no-store"


# -- public clients ----------------------------------------------------------------------------------------------


def test_a_public_client_identifies_itself_with_client_id(client, store):
    app = public_app(store)
    assert post_code(client, store, app, client_id=app.client_id).status_code == 200


def test_an_unknown_client_is_invalid_client_without_a_challenge(client, store):
    app = public_app(store)
    assert_invalid_client(post_code(client, store, app, client_id="nobody"),
                          "Unknown client_id 'nobody': register the app first")


def test_a_public_client_presenting_a_secret_is_refused(client, store):
    app = public_app(store)
    response = post_code(client, store, app, client_id=app.client_id, client_secret="guess")
    assert_invalid_client(response, f"Client {app.client_id} is registered with token_endpoint_auth_method none, "
                                    "but this request used client_secret_post")


# -- client secrets -----------------------------------------------------------------------------------------------


def test_client_secret_basic(client, store):
    app = confidential_app(store)
    assert post_code(client, store, app, headers=basic(app.client_id, app.client_secret)).status_code == 200


def test_basic_credentials_are_form_urlencoded_before_base64(client, store):
    """RFC 6749 §2.3.1 — id and secret are application/x-www-form-urlencoded inside HTTP Basic."""
    app = confidential_app(store)
    secret = "p@ss word+/:%é"
    store.conn.execute("UPDATE clients SET client_secret = ? WHERE client_id = ?", (secret, app.client_id))
    assert post_code(client, store, app, headers=basic(app.client_id, secret)).status_code == 200
    raw = base64.b64encode(f"{app.client_id}:{secret}".encode()).decode()  # not encoded: "+" reads as a space
    assert_invalid_client(post_code(client, store, app, headers={"Authorization": f"Basic {raw}"}), challenge=True)


def test_python_fhirclient_style_client_id_beside_basic_is_accepted_when_it_matches(client, store):
    app = confidential_app(store)
    headers = basic(app.client_id, app.client_secret)
    assert post_code(client, store, app, headers=headers, client_id=app.client_id).status_code == 200
    assert_invalid_client(post_code(client, store, app, headers=headers, client_id="someone-else"),
                          "The client_id in the body differs from the one in the Authorization header", challenge=True)


def test_a_wrong_secret_over_basic_gets_401_with_a_basic_challenge(client, store):
    app = confidential_app(store)
    response = post_code(client, store, app, headers=basic(app.client_id, "wrong"))
    assert_invalid_client(response, f"The client_secret of {app.client_id} does not match", challenge=True)
    event = audit.recent(store, event="token.refused")[0]
    assert (event.client_id, event.rule) == (app.client_id, f"The client_secret of {app.client_id} does not match")


@pytest.mark.parametrize("value", ["Basic", "Basic !!!notbase64", "Basic " + base64.b64encode(b"no-colon").decode(),
                                   "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
                                   "Basic " + base64.b64encode(b":secret").decode()])
def test_malformed_basic_credentials_get_401_with_a_challenge(client, store, value):
    app = confidential_app(store)
    response = post_code(client, store, app, headers={"Authorization": value})
    assert_invalid_client(response, challenge=True)
    assert response.json["error_description"].startswith("The Authorization header is not valid HTTP Basic")


def test_client_secret_post(client, store):
    app = confidential_app(store, method="client_secret_post")
    response = post_code(client, store, app, client_id=app.client_id, client_secret=app.client_secret)
    assert response.status_code == 200


def test_a_client_must_use_its_registered_method(client, store):
    app = confidential_app(store)  # client_secret_basic
    response = post_code(client, store, app, client_id=app.client_id, client_secret=app.client_secret)
    assert_invalid_client(response, f"Client {app.client_id} is registered with token_endpoint_auth_method "
                                    "client_secret_basic, but this request used client_secret_post")


def test_a_confidential_client_presenting_no_credentials_is_invalid_client(client, store):
    app = confidential_app(store)
    assert_invalid_client(post_code(client, store, app, client_id=app.client_id),
                          f"Client {app.client_id} is confidential: authenticate with client_secret_basic, as "
                          "registered (SMART App Launch 2.2; RFC 6749 §3.2.1)")


def test_no_credentials_at_all_is_invalid_client(client, store):
    assert_invalid_client(post_code(client, store, public_app(store)))


def test_two_authentication_methods_at_once_are_invalid_request(client, store):
    app = confidential_app(store)
    response = post_code(client, store, app, headers=basic(app.client_id, app.client_secret),
                         client_secret=app.client_secret)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"


# -- private_key_jwt ------------------------------------------------------------------------------------------------


@pytest.fixture
def keys():
    return rsa_key(), ec_key()


@pytest.fixture
def backend(store, keys):
    return backend_client(store, keys)


def token_with(http, signed, **extra):
    return http.post("/auth/token", data=backend_form(signed, **extra))


@pytest.mark.parametrize(("alg", "key"), [("RS384", rsa_key), ("ES384", ec_key), ("RS256", rsa_key),
                                          ("ES256", lambda: ec_key("ec-256", "P-256"))])
def test_assertions_signed_with_rs384_es384_rs256_es256_are_accepted(client, store, alg, key):
    app = backend_client(store, [key()])
    response = token_with(client, assertion(key(), app.client_id, alg))
    assert response.status_code == 200, response.json


def test_the_client_id_may_accompany_the_assertion_when_it_matches(client, backend, keys):
    signed = assertion(keys[0], backend.client_id)
    assert token_with(client, signed, client_id=backend.client_id).status_code == 200
    signed = assertion(keys[0], backend.client_id)
    assert_invalid_client(token_with(client, signed, client_id="other"),
                          "The client_id in the body differs from the client assertion's sub (RFC 7523 §3)")


@pytest.mark.parametrize("assertion_type", ["not_an_assertion_type", ASSERTION_TYPE + "x",
                                            "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"])
def test_a_wrong_client_assertion_type_is_a_400(client, backend, keys, assertion_type):
    form = {**backend_form(assertion(keys[0], backend.client_id)), "client_assertion_type": assertion_type}
    response = client.post("/auth/token", data=form)
    assert response.status_code == 400
    assert response.json == {"error": "invalid_request", "error_description":
                             f"client_assertion_type must be exactly {ASSERTION_TYPE} (RFC 7523 §2.2; SMART App "
                             "Launch 2.2 §client-confidential-asymmetric)"}


def test_a_replayed_jti_is_refused(client, backend, keys):
    signed = assertion(keys[0], backend.client_id, jti="only-once")
    assert token_with(client, signed).status_code == 200
    assert_invalid_client(token_with(client, signed), "client_assertion jti 'only-once' was already used: make a new "
                          "assertion, with a new jti, for every request (RFC 7523 §3)")
    other = backend_client(client.application.extensions["store"], keys)
    assert token_with(client, assertion(keys[0], other.client_id, jti="only-once")).status_code == 200


WRONG_AUD = f"client_assertion aud must be the token endpoint URL {TOKEN_URL} (RFC 7523 §3)"


@pytest.mark.parametrize(("changes", "description"), [
    ({"aud": "http://localhost/fhir"}, WRONG_AUD),
    ({"aud": None}, WRONG_AUD),
    ({"aud": ["http://other.example/token"]}, None),
    ({"exp_in": 400}, "client_assertion exp is more than 300 seconds ahead; SMART App Launch 2.2: it SHALL be no "
                      "more than five minutes in the future"),
    ({"exp_in": -61}, "client_assertion has expired (exp is in the past)"),
    ({"exp": None}, "client_assertion has no exp (an integer time); it is required (RFC 7523 §3)"),
    ({"exp": "soon"}, "client_assertion has no exp (an integer time); it is required (RFC 7523 §3)"),
    ({"jti": None}, "client_assertion has no jti; a unique jti is required (RFC 7523 §3; SMART)"),
    ({"iss": "someone-else"}, None),
    ({"nbf": int(time.time()) + 600}, "client_assertion nbf is not a time in the past (RFC 7519 §4.1)"),
])
def test_assertion_claims_that_break_rfc_7523_are_invalid_client(client, backend, keys, changes, description):
    response = token_with(client, assertion(keys[0], backend.client_id, **changes))
    assert_invalid_client(response, description)


@pytest.mark.parametrize("exp_in", [300, 330, -30])
def test_exp_is_checked_with_the_clock_leeway(client, backend, keys, exp_in):
    assert token_with(client, assertion(keys[0], backend.client_id, exp_in=exp_in)).status_code == 200


def test_aud_may_be_a_list_containing_the_token_endpoint(client, backend, keys):
    signed = assertion(keys[0], backend.client_id, aud=["http://other.example", TOKEN_URL])
    assert token_with(client, signed).status_code == 200


def test_an_unknown_kid_is_invalid_client(client, backend):
    stranger = rsa_key("stranger")
    assert_invalid_client(token_with(client, assertion(stranger, backend.client_id)),
                          "No key with kid 'stranger' for RS384 in the client's registered jwks")


def test_a_signature_by_another_key_under_a_known_kid_is_refused(client, backend):
    impostor = rsa_key("impostor")
    signed = assertion(impostor, backend.client_id, header={"kid": "rsa-1"})
    assert_invalid_client(token_with(client, signed),
                          "client_assertion signature does not verify with the client's key 'rsa-1'")


@pytest.mark.parametrize("header", [{"kid": None}, {"kid": ""}])
def test_an_assertion_without_kid_is_refused(client, backend, keys, header):
    response = token_with(client, assertion(keys[0], backend.client_id, header=header))
    assert_invalid_client(response, "client_assertion header has no kid; SMART App Launch 2.2 requires the kid of "
                                    "the signing key")


def test_an_es384_header_with_an_rsa_kid_is_refused(client, backend, keys):
    signed = assertion(ec_key(), backend.client_id, alg="ES384", header={"kid": "rsa-1"})
    assert_invalid_client(token_with(client, signed),
                          "No key with kid 'rsa-1' for ES384 in the client's registered jwks")


@pytest.mark.parametrize("value", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", ""])
def test_garbage_assertions_are_invalid_client_never_a_500(client, backend, value):
    form = {**backend_form("x"), "client_assertion": value}
    response = client.post("/auth/token", data=form)
    assert response.status_code in (400, 401)
    assert response.json["error"] in ("invalid_client", "invalid_request")


def test_unsigned_and_hmac_assertions_are_refused(client, backend):
    from joserfc import jwt
    from joserfc.jwk import OctKey

    now = int(time.time())
    claims = {"iss": backend.client_id, "sub": backend.client_id, "aud": TOKEN_URL, "exp": now + 60, "jti": "h"}
    signed = jwt.encode({"alg": "HS256", "kid": "rsa-1"}, claims, OctKey.import_key("s" * 32), algorithms=["HS256"])
    assert_invalid_client(token_with(client, signed), "client_assertion alg 'HS256' is not accepted; sign with RS384 "
                          "or ES384 (or RS256, ES256) — SMART App Launch 2.2 §client-confidential-asymmetric")


# -- keys from a jwks_uri --------------------------------------------------------------------------------------------


def test_keys_are_fetched_from_the_jwks_uri_and_cached(client, store, keys):
    with JwksServer(public_jwks(*keys), cache_control="public, max-age=120") as server:
        app = backend_client(store, jwks_uri=server.url)
        for key, alg in ((keys[0], "RS384"), (keys[1], "ES384"), (keys[0], "RS384")):
            assert token_with(client, assertion(key, app.client_id, alg)).status_code == 200
        assert server.hits == 1
        fetched_at, expires_at = store.conn.execute(
            "SELECT fetched_at, expires_at FROM jwks_cache WHERE url = ?", (server.url,)).fetchone()
        assert expires_at - fetched_at == 120


def test_no_cache_control_means_fetching_again_every_time(client, store, keys):
    with JwksServer(public_jwks(*keys), cache_control="no-cache") as server:
        app = backend_client(store, jwks_uri=server.url)
        for _ in range(2):
            assert token_with(client, assertion(keys[0], app.client_id)).status_code == 200
        assert server.hits == 2


def test_an_unknown_kid_fetches_the_jwks_again_once(client, store, keys):
    with JwksServer(public_jwks(keys[0])) as server:
        app = backend_client(store, jwks_uri=server.url)
        assert token_with(client, assertion(keys[0], app.client_id)).status_code == 200
        server.jwks = public_jwks(keys[0], keys[1])  # the client rotates in a new key
        assert token_with(client, assertion(keys[1], app.client_id, "ES384")).status_code == 200
        assert server.hits == 2
        assert_invalid_client(token_with(client, assertion(rsa_key("unknown"), app.client_id)),
                              f"No key with kid 'unknown' for RS384 in the client's {server.url}")
        assert server.hits == 3


def test_a_jku_header_must_be_the_registered_jwks_uri(client, store, keys):
    with JwksServer(public_jwks(*keys)) as server:
        app = backend_client(store, jwks_uri=server.url)
        assert token_with(client, assertion(keys[0], app.client_id, header={"jku": server.url})).status_code == 200
        response = token_with(client, assertion(keys[0], app.client_id, header={"jku": "https://evil.example/jwks"}))
        assert_invalid_client(response, "client_assertion header jku 'https://evil.example/jwks' is not the client's "
                                        "registered jwks_uri (SMART App Launch 2.2: the jku header, when present, "
                                        "SHALL match it)")


def test_an_unreachable_jwks_uri_is_invalid_client(client, store, keys):
    with JwksServer(public_jwks(*keys)) as server:
        url = server.url
    app = backend_client(store, jwks_uri=url)
    response = token_with(client, assertion(keys[0], app.client_id))
    assert_invalid_client(response, f"Could not fetch the client's jwks_uri {url}: ConnectionError")


def test_a_jwks_uri_answering_more_than_a_jwk_set_would_is_refused_unread(client, store, keys):
    jwks = public_jwks(*keys)
    jwks["keys"].append({"kty": "oct", "kid": "padding", "k": "A" * 70_000})  # 70 KB of one useless key
    with JwksServer(jwks) as server:
        app = backend_client(store, jwks_uri=server.url)
        response = token_with(client, assertion(keys[0], app.client_id))
    assert_invalid_client(response, f"The client's jwks_uri {server.url} answered with more than 64 KB; a JWK Set "
                                    "is a few kilobytes")
    assert store.conn.execute("SELECT count(*) FROM jwks_cache WHERE url = ?", (server.url,)).fetchone() == (0,)


def test_a_jwks_uri_that_drips_its_answer_is_given_up_on(client, store, keys, monkeypatch):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from sandbox.auth import assertions

    monkeypatch.setattr(assertions, "JWKS_FETCH_TIMEOUT", 1)
    body = json.dumps(public_jwks(*keys)).encode()

    class Drip(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for start in range(0, len(body), 8):  # 8 bytes every 0.1 s: each read is quick, the whole is not
                self.wfile.write(body[start:start + 8])
                self.wfile.flush()
                time.sleep(0.1)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Drip)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    try:
        app = backend_client(store, jwks_uri=url)
        started = time.monotonic()
        response = token_with(client, assertion(keys[0], app.client_id))
        waited = time.monotonic() - started
    finally:
        server.shutdown()
        server.server_close()
    assert_invalid_client(response, f"The client's jwks_uri {url} took longer than 1 s to answer")
    assert waited < len(body) / 8 * 0.1 / 2  # it gave up well before the drip's end


@pytest.mark.parametrize(("header", "seconds"), [
    (None, 300), ("max-age=60", 60), ("public, max-age=0", 0), ("no-store", 0), ("private, no-cache", 0),
    ("max-age=99999999", 86400), ("max-age=abc", 300), ('max-age="30"', 30),
])
def test_cache_lifetime_follows_cache_control(header, seconds):
    assert cache_lifetime(header) == seconds


# -- rate limiting --------------------------------------------------------------------------------------------------


@pytest.fixture
def strict_app(tmp_path):
    return create_app({"DB": str(tmp_path / "strict.sqlite"), "BASE_URL": "http://localhost", "TESTING": True,
                       "ANCHOR_DATE": "2026-06-01", "RATE_LIMIT_FAILURES": 3, "RATE_LIMIT_WINDOW": 60})


def test_repeated_failures_get_429_with_retry_after(strict_app):
    store, http = strict_app.extensions["store"], strict_app.test_client()
    app = confidential_app(store)
    for _ in range(3):
        assert post_code(http, store, app, headers=basic(app.client_id, "wrong")).status_code == 401
    response = post_code(http, store, app, headers=basic(app.client_id, app.client_secret))
    assert response.status_code == 429
    assert response.json["error"] == "slow_down"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.headers["Cache-Control"] == "no-store"
    event = audit.recent(store, event="token.refused")[0]
    assert (event.client_id, event.detail["error"]) == (app.client_id, "slow_down")


def test_failures_are_counted_per_peer_address_too(strict_app):
    store, http = strict_app.extensions["store"], strict_app.test_client()
    app = confidential_app(store)
    remote = {"REMOTE_ADDR": "10.9.8.7"}
    for name in ("a", "b", "c"):
        verifier = new_verifier()
        http.post("/auth/token", data=code_form(issue(store, app, verifier), verifier),
                  headers=basic(name, "x"), environ_base=remote)
    verifier = new_verifier()
    response = http.post("/auth/token", data=code_form(issue(store, app, verifier), verifier),
                         headers=basic(app.client_id, app.client_secret), environ_base=remote)
    assert response.status_code == 429
    assert post_code(http, store, app, headers=basic(app.client_id, app.client_secret)).status_code == 200
