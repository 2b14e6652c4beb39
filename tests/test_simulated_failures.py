"""Launches made to fail on purpose: each failure comes from the real code path, the app sees what a real server
sends, and the launch's trail says it was simulated."""

from __future__ import annotations

import time

import pytest
import requests
from authorize_support import authorize_params, exchange, query_of

from sandbox.auth import simulate

pytestmark = pytest.mark.seeded


def launched(client, simulation, scope="launch openid fhirUser patient/*.rs"):
    """A headless launch of the demo app with ``simulate``, through authorize and the token exchange."""
    made = client.post("/api/launches", json={"client_id": "demo-app", "patient": "story-diabetes",
                                              "skip_login": True, "skip_consent": True, "simulate": simulation})
    assert made.status_code == 201, made.json
    back = client.get("/auth/authorize", query_string=authorize_params(launch=made.json["launch"], scope=scope))
    body = exchange(client, query_of(back.headers["Location"])["code"]).json
    trail = made.json["activity_url"].rsplit("/", 1)[1]
    return {"Authorization": f"Bearer {body['access_token']}"}, body, trail


def read(client, bearer):
    return client.get("/fhir/Patient/story-diabetes", headers=bearer)


def test_the_token_response_does_not_carry_the_simulation(client):
    _, body, _ = launched(client, "fhir-500")
    assert "simulate" not in body and body["patient"] == "story-diabetes"


@pytest.mark.parametrize("kind", ["token-expired", "token-revoked"])
def test_a_token_ends_after_n_requests_and_the_bearer_check_refuses_it(client, store, kind):
    bearer, _, trail = launched(client, {"kind": kind, "after": 2})
    assert [read(client, bearer).status_code for _ in range(2)] == [200, 200]
    refused = read(client, bearer)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    assert read(client, bearer).status_code == 401  # for good: the token really ended in the database
    column = "expires_at" if kind == "token-expired" else "revoked_at"
    ended = store.conn.execute(f"SELECT count(*) FROM tokens WHERE {column} <= ?", (int(time.time()),)).fetchone()[0]
    assert ended >= 1
    events = store.conn.execute("SELECT event, rule FROM audit_events WHERE launch_id = ? AND event = 'simulated'",
                                (trail,)).fetchall()
    assert len(events) == 1 and "Simulated on purpose" in events[0][1]


def test_a_server_failure_from_the_nth_request_is_a_500_outcome(client):
    bearer, _, _ = launched(client, {"kind": "fhir-500", "after": 2})
    assert read(client, bearer).status_code == 200
    failed = read(client, bearer)
    assert failed.status_code == 500
    assert failed.json["resourceType"] == "OperationOutcome"


def test_too_many_requests_says_when_to_try_again(client):
    bearer, _, _ = launched(client, "fhir-429")
    throttled = read(client, bearer)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "5"
    assert throttled.json["issue"][0]["code"] == "throttled"


def test_a_slow_server_answers_late_but_answers(client):
    bearer, _, _ = launched(client, {"kind": "fhir-slow", "after": 1, "seconds": 1})
    started = time.monotonic()
    assert read(client, bearer).status_code == 200
    assert time.monotonic() - started >= 1


def test_the_trail_shows_the_simulated_step(client, store):
    from authorize_support import sign_in

    bearer, _, trail = launched(client, {"kind": "fhir-429", "after": 1})
    read(client, bearer)
    sign_in(client)
    page = client.get(f"/activity/{trail}").text
    assert "Simulated failure" in page and "429 Too Many Requests" in page


@pytest.mark.parametrize(("value", "words"), [
    ("no-such", "is not one of"), ({"kind": "fhir-500", "after": 0}, "from 1 to"),
    ({"kind": "fhir-slow", "seconds": 60}, "from 1 to 10"), (["fhir-500"], "kind name or an object")])
def test_a_simulation_the_sandbox_does_not_offer_is_refused_naming_why(client, value, words):
    made = client.post("/api/launches", json={"client_id": "demo-app", "patient": "story-diabetes",
                                              "simulate": value})
    assert made.status_code == 400 and words in made.json["error_description"]


def test_words_for_every_kind():
    for kind in simulate.KINDS:
        assert "N" not in simulate.describe({"kind": kind, "after": 3, "seconds": 2}).replace("FHIR", "")


def test_against_a_real_server_the_app_sees_the_refusal(live_server):
    made = requests.post(f"{live_server}/api/launches", timeout=10, json={
        "client_id": "demo-app", "patient": "story-diabetes", "skip_login": True, "skip_consent": True,
        "simulate": {"kind": "token-revoked", "after": 1}}).json()
    session = requests.Session()
    back = session.get(f"{live_server}/auth/authorize", allow_redirects=False, timeout=10, params=authorize_params(
        launch=made["launch"], redirect_uri=f"{live_server}/demo/index.html", aud=f"{live_server}/fhir",
        scope="launch patient/*.rs"))
    code = query_of(back.headers["Location"])["code"]
    from authorize_support import VERIFIER

    token = session.post(f"{live_server}/auth/token", timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": f"{live_server}/demo/index.html",
        "client_id": "demo-app", "code_verifier": VERIFIER}).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    first = requests.get(f"{live_server}/fhir/Patient/story-diabetes", headers=bearer, timeout=10)
    second = requests.get(f"{live_server}/fhir/Patient/story-diabetes", headers=bearer, timeout=10)
    assert (first.status_code, second.status_code) == (200, 401)


# -- the authorization, the code and the tokens -------------------------------------------------------------------


def launch_only(client, simulation):
    made = client.post("/api/launches", json={"client_id": "demo-app", "patient": "story-diabetes",
                                              "skip_login": True, "skip_consent": True, "simulate": simulation})
    assert made.status_code == 201, made.json
    return made.json["launch"]


def authorize(client, launch, scope="launch openid fhirUser patient/*.rs"):
    return client.get("/auth/authorize", query_string=authorize_params(launch=launch, scope=scope))


@pytest.mark.parametrize(("kind", "title"), [("invalid-client", "Unknown app"),
                                             ("unregistered-redirect", "Redirect URI not registered")])
def test_an_authorization_refused_before_any_redirect_shows_an_error_page(client, kind, title):
    page = authorize(client, launch_only(client, kind))
    assert page.status_code == 400 and title in page.text and "Location" not in page.headers


@pytest.mark.parametrize(("kind", "error"), [("invalid-scope", "invalid_scope"), ("denied-consent", "access_denied")])
def test_an_authorization_refused_at_the_app_comes_back_with_the_error_and_state(client, kind, error):
    back = query_of(authorize(client, launch_only(client, kind)).headers["Location"])
    assert back["error"] == error and back["state"] == "st-1" and "code" not in back


@pytest.mark.parametrize("kind", ["code-expired", "code-used", "pkce-mismatch"])
def test_a_code_the_token_endpoint_refuses_with_invalid_grant(client, store, kind):
    back = authorize(client, launch_only(client, kind))
    refused = exchange(client, query_of(back.headers["Location"])["code"])
    assert refused.status_code == 400 and refused.json["error"] == "invalid_grant"
    assert store.conn.execute("SELECT count(*) FROM audit_events WHERE event = 'simulated'").fetchone()[0] >= 1


def test_a_refresh_token_refused_when_used(client):
    _, body, _ = launched(client, "refresh-refused", scope="launch openid fhirUser offline_access patient/*.rs")
    assert body["refresh_token"]
    refused = client.post("/auth/token", data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"],
                                               "client_id": "demo-app"})
    assert refused.status_code == 400 and refused.json["error"] == "invalid_grant"


def test_a_patient_who_no_longer_exists_is_not_found(client):
    bearer, body, _ = launched(client, "patient-gone")
    assert body["patient"].startswith("story-diabetes-gone-")
    assert client.get(f"/fhir/Patient/{body['patient']}", headers=bearer).status_code == 404


def test_a_short_lived_access_token_expires_after_s_seconds(client):
    bearer, body, _ = launched(client, {"kind": "token-short-lived", "seconds": 3})  # time for the first read on a
    assert body["expires_in"] == 3  # busy machine
    assert read(client, bearer).status_code == 200
    time.sleep(3.2)
    assert read(client, bearer).status_code == 401
