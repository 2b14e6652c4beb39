"""The authorize endpoint: client and redirect_uri first (error pages), then every error back to the app with
error, error_description and state; aud, PKCE S256, scopes, and EHR launches taken once."""

from __future__ import annotations

import pytest
from authorize_support import (
    DEMO,
    DEMO_REDIRECT,
    FHIR,
    VERIFIER,
    authorize_params,
    exchange,
    follow,
    query_of,
    sign_in,
)

from sandbox.auth import audit, launch_context
from sandbox.auth.codes import redeem_code
from sandbox.auth.pkce import s256

pytestmark = pytest.mark.seeded  # client and store work on the seeded database


def launch(store, client_id=DEMO, lifetime=300, **context):
    return launch_context.create(store, client_id, "lori.mcdonald", None, context or {"patient": "story-diabetes"},
                                 lifetime, skip_login=True, skip_consent=True).secret


@pytest.mark.parametrize("overrides, words", [
    ({"client_id": "nobody"}, "not registered"),
    ({"client_id": None}, "not registered"),
    ({"redirect_uri": "http://evil.example/cb"}, "is not one of the URIs registered"),
    ({"redirect_uri": DEMO_REDIRECT + "/"}, "is not one of the URIs registered"),
    ({"redirect_uri": None}, "(missing)"),
])
def test_unknown_client_or_redirect_uri_gets_a_page_never_a_redirect(client, overrides, words):
    response = client.get("/auth/authorize", query_string=authorize_params(**overrides))
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert words in response.text


@pytest.mark.parametrize("overrides, error", [
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"aud": None}, "invalid_request"),
    ({"aud": "http://localhost/other"}, "invalid_request"),
    ({"code_challenge": None}, "invalid_request"),
    ({"code_challenge_method": None}, "invalid_request"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge": "short"}, "invalid_request"),
    ({"scope": None}, "invalid_scope"),
    ({"launch": "no-such-launch"}, "invalid_request"),
])
def test_errors_after_the_redirect_uri_is_known_go_back_to_the_app_with_state(client, overrides, error):
    response = client.get("/auth/authorize", query_string=authorize_params(**overrides))
    assert response.status_code == 302
    assert response.headers["Location"].startswith(DEMO_REDIRECT + "?")
    params = query_of(response.headers["Location"])
    assert params["error"] == error and params["state"] == "st-1" and params["error_description"]
    assert params["iss"] == FHIR  # RFC 9207: the issuer, as discovery names it
    assert "code" not in params


def test_aud_with_a_trailing_slash_is_accepted(client, store):
    response = client.get("/auth/authorize", query_string=authorize_params(aud=FHIR + "/", launch=launch(store)))
    assert "code" in query_of(response.headers["Location"])


def test_ehr_launch_with_skip_flags_comes_straight_back_with_a_bound_code(client, store):
    launch_id = launch(store, patient="story-diabetes", encounter=None, intent="reconcile-medications")
    params = authorize_params(launch=launch_id, scope="launch openid fhirUser patient/Observation.rs bogus/scope",
                              nonce="n-1")
    response = client.get("/auth/authorize", query_string=params)  # no one is signed in: the launch is enough
    assert response.status_code == 302
    code = query_of(response.headers["Location"])["code"]
    assert query_of(response.headers["Location"])["iss"] == FHIR  # RFC 9207
    grant = redeem_code(store, code, "family-x").grant
    trail = store.conn.execute("SELECT id FROM launches WHERE secret = ?", (launch_id,)).fetchone()[0]
    assert (grant.client_id, grant.redirect_uri, grant.user_id, grant.launch_id, grant.nonce) == \
        (DEMO, DEMO_REDIRECT, "lori.mcdonald", trail, "n-1")  # the code joins the launch's trail, not its secret
    assert grant.code_challenge == s256(VERIFIER)
    assert grant.scope == "launch openid fhirUser patient/Observation.rs"  # the unknown scope was dropped
    assert grant.context["patient"] == "story-diabetes"
    assert grant.context["intent"] == "reconcile-medications"


@pytest.mark.parametrize("problem", ["used", "expired", "other-client"])
def test_used_expired_and_foreign_launches_are_refused(client, store, problem):
    if problem == "expired":
        launch_id = launch(store, lifetime=-1)
    elif problem == "other-client":
        launch_id = launch(store, client_id="demo-confidential")
    else:
        launch_id = launch(store)
        client.get("/auth/authorize", query_string=authorize_params(launch=launch_id))
    params = query_of(client.get("/auth/authorize", query_string=authorize_params(launch=launch_id))
                      .headers["Location"])
    assert params["error"] == "invalid_request" and params["state"] == "st-1"
    events = store.conn.execute("SELECT rule FROM audit_events WHERE event = 'launch.refused'").fetchall()
    assert events


def test_v1_scopes_stay_v1_and_refresh_scopes_need_the_refresh_grant(client, store):
    params = authorize_params(launch=launch(store), scope="launch patient/Observation.read offline_access")
    code = query_of(client.get("/auth/authorize", query_string=params).headers["Location"])["code"]
    assert exchange(client, code).json["scope"] == "launch patient/Observation.read offline_access"


def test_post_takes_the_same_parameters(client, store):
    response = client.post("/auth/authorize", data=authorize_params(launch=launch(store)))
    assert "code" in query_of(response.headers["Location"])


def test_standalone_launch_sends_the_person_to_sign_in_first(client):
    response = client.get("/auth/authorize", query_string=authorize_params())
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/portal/login?next=")  # a patient-facing launch (test_portal.py)


def test_a_patient_user_gets_their_own_record_in_context(client, store):
    sign_in(client, "marcus.johnson")
    response = follow(client, client.get("/auth/authorize", query_string=authorize_params()))
    assert "Allow" in response.text  # the consent page, no patient picker
    form = {"request": _hidden(response.text, "request"), "csrf": _hidden(response.text, "csrf"),
            "decision": "approve", "type": "*"}
    done = client.post("/auth/authorize/consent", data=form)
    body = exchange(client, query_of(done.headers["Location"])["code"]).json
    assert body["patient"] == "story-diabetes"


def test_unknown_parameters_are_ignored(client, store):
    params = authorize_params(launch=launch(store), prompt="none", display="popup", foo="bar", ui_locales="fr")
    assert "code" in query_of(client.get("/auth/authorize", query_string=params).headers["Location"])


def test_granular_scopes_are_kept_verbatim_and_others_narrowed_to_the_registration(client, store):
    granular = "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
    params = authorize_params(launch=launch(store), scope=f"launch {granular} patient/Observation.cruds system/*.rs")
    code = query_of(client.get("/auth/authorize", query_string=params).headers["Location"])["code"]
    assert redeem_code(store, code, "f").grant.scope == f"launch {granular} patient/Observation.rs"


def test_refusals_are_audited_with_the_rule_in_words(client, store):
    client.get("/auth/authorize", query_string=authorize_params(aud="http://elsewhere.example/fhir"))
    event = audit.recent(store, event="authorize.refused")[0]
    assert (event.client_id, event.outcome) == (DEMO, audit.FAILURE)
    assert event.rule == ("aud must be this FHIR server's base URL, http://localhost/fhir (received "
                          "http://elsewhere.example/fhir)")


def test_malformed_requests_never_fail_with_500(client):
    for query in ("client_id=demo-app&client_id=x", "client_id=%ff%fe", "redirect_uri=%00", "scope=&aud=&state=",
                  "client_id=demo-app&redirect_uri=http%3A%2F%2Flocalhost%2Fdemo%2Findex.html&response_type=code"
                  "&scope=%00%01&aud=%ff"):
        assert client.get(f"/auth/authorize?{query}").status_code in (302, 400)
    for path in ("/auth/authorize/resume", "/auth/authorize/patient", "/auth/authorize/encounter",
                 "/auth/authorize/consent"):
        assert client.get(path, query_string={"request": "nonsense"}).status_code == 400
        assert client.post(path, data={"request": "nonsense", "csrf": "x"}).status_code in (400, 405)


def _hidden(html, name):
    from authorize_support import hidden

    return hidden(html, name)
