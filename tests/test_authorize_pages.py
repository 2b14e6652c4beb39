"""The pages of a standalone launch as a person meets them: sign-in, patient and encounter pickers, consent;
CSRF tokens on every form, no framing by other sites, deny going back to the app."""

from __future__ import annotations

import pytest
from authorize_support import DEMO_REDIRECT, authorize_params, exchange, follow, hidden, query_of, sign_in

pytestmark = pytest.mark.seeded  # client and store work on the seeded database


def start(client, **overrides):
    return follow(client, client.get("/auth/authorize", query_string=authorize_params(**overrides)))


def test_the_whole_standalone_flow_with_a_narrowed_consent(client):
    scope = "openid fhirUser launch/patient launch/encounter patient/Observation.rs patient/Condition.rs"
    login = start(client, scope=scope)
    assert "Sandbox sign-in: no password needed" in login.text
    picked = follow(client, client.post("/auth/login", data={
        "csrf": hidden(login.text, "csrf"), "next": hidden(login.text, "next"), "username": "lori.mcdonald"}))
    assert "Choose the patient for this app" in picked.text
    request_id, csrf = hidden(picked.text, "request"), hidden(picked.text, "csrf")
    search = client.get("/auth/authorize/patient", query_string={"request": request_id, "q": "johnson"})
    assert "JOHNSON, Marcus" in search.text
    encounters = follow(client, client.post("/auth/authorize/patient", data={
        "request": request_id, "csrf": csrf, "patient": "story-diabetes"}))
    assert "Choose the encounter for JOHNSON" in encounters.text
    encounter_id = hidden(encounters.text, "encounter")
    consent = follow(client, client.post("/auth/authorize/encounter", data={
        "request": request_id, "csrf": csrf, "encounter": encounter_id}))
    assert "Read and search lab results, vital signs and other observations of JOHNSON, Marcus" in consent.text
    assert "Read and search conditions and health problems of JOHNSON, Marcus" in consent.text
    done = client.post("/auth/authorize/consent", data={
        "request": request_id, "csrf": csrf, "decision": "approve", "type": ["Observation"]})  # Condition unchecked
    assert done.headers["Location"].startswith(DEMO_REDIRECT)
    body = exchange(client, query_of(done.headers["Location"])["code"]).json
    assert body["scope"] == "openid fhirUser launch/patient launch/encounter patient/Observation.rs"
    assert (body["patient"], body["encounter"]) == ("story-diabetes", encounter_id)
    assert body["need_patient_banner"] is True


def test_deny_returns_access_denied_with_state(client):
    sign_in(client)
    picker = start(client)
    request_id, csrf = hidden(picker.text, "request"), hidden(picker.text, "csrf")
    consent = follow(client, client.post("/auth/authorize/patient", data={
        "request": request_id, "csrf": csrf, "patient": "story-child"}))
    assert "Allow" in consent.text
    denied = client.post("/auth/authorize/consent", data={"request": request_id, "csrf": csrf, "decision": "deny"})
    params = query_of(denied.headers["Location"])
    assert params["error"] == "access_denied" and params["state"] == "st-1" and "code" not in params


@pytest.mark.parametrize("csrf", [None, "", "forged"])
def test_forms_without_the_right_csrf_token_do_nothing(client, csrf):
    sign_in(client)
    picker = start(client)
    form = {"request": hidden(picker.text, "request"), "patient": "story-diabetes"}
    if csrf is not None:
        form["csrf"] = csrf
    response = client.post("/auth/authorize/patient", data=form)
    assert response.status_code == 400
    assert "security token did not match" in response.text
    login = client.post("/auth/login", data={"username": "lori.mcdonald", **({"csrf": csrf} if csrf else {})})
    assert login.status_code == 400


def test_pages_cannot_be_framed_by_other_sites(client):
    login = start(client)
    sign_in(client)
    picker = start(client)
    for page in (login, picker):
        assert page.headers["Content-Security-Policy"] == "frame-ancestors 'self'"
        assert page.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_a_wrong_user_name_is_refused_and_said_so(client):
    page = client.get("/auth/login")
    response = client.post("/auth/login", data={"csrf": hidden(page.text, "csrf"), "username": "nobody.here"})
    assert response.status_code == 401
    assert "did not match a sandbox user" in response.text


def test_failed_sign_ins_are_rate_limited(seeded_app):
    seeded_app.config["RATE_LIMIT_FAILURES"] = 3
    client = seeded_app.test_client()
    page = client.get("/auth/login")
    for _ in range(3):
        client.post("/auth/login", data={"csrf": hidden(page.text, "csrf"), "username": "nobody"})
    blocked = client.post("/auth/login", data={"csrf": hidden(page.text, "csrf"), "username": "lori.mcdonald"})
    assert blocked.status_code == 429
    assert "Too many" in blocked.text


def test_sign_in_never_redirects_off_site(client):
    page = client.get("/auth/login")
    response = client.post("/auth/login", data={"csrf": hidden(page.text, "csrf"), "username": "lori.mcdonald",
                                                "next": "//evil.example/steal"})
    assert response.headers["Location"] == "/"


def test_signing_out_ends_online_access(client):
    from authorize_support import VERIFIER

    sign_in(client)
    picker = start(client, scope="openid fhirUser launch/patient online_access patient/*.rs")
    request_id, csrf = hidden(picker.text, "request"), hidden(picker.text, "csrf")
    consent = follow(client, client.post("/auth/authorize/patient", data={
        "request": request_id, "csrf": csrf, "patient": "story-diabetes"}))
    assert consent.status_code == 200
    done = client.post("/auth/authorize/consent", data={"request": request_id, "csrf": csrf, "decision": "approve",
                                                         "type": "*"})
    body = exchange(client, query_of(done.headers["Location"])["code"], verifier=VERIFIER).json
    refresh = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"], "client_id": "demo-app"}
    rotated = client.post("/auth/token", data=refresh).json
    page = client.get("/auth/login")
    client.post("/auth/logout", data={"csrf": hidden(page.text, "csrf")})
    again = client.post("/auth/token", data={**refresh, "refresh_token": rotated["refresh_token"]})
    assert again.status_code == 400 and again.json["error"] == "invalid_grant"


def test_consent_can_share_only_some_observation_categories(client, seeded_app):
    sign_in(client, "marcus.johnson")
    consent = start(client, scope="openid launch/patient patient/Observation.rs patient/Condition.read")
    assert "Lab results" in consent.text and "Problem list" in consent.text
    request_id, csrf = hidden(consent.text, "request"), hidden(consent.text, "csrf")
    done = client.post("/auth/authorize/consent", data={
        "request": request_id, "csrf": csrf, "decision": "approve", "type": ["Observation", "Condition"],
        "categories-shown:patient/Observation.rs": "1",
        "category:patient/Observation.rs": ["laboratory", "vital-signs"],
        "categories-shown:patient/Condition.read": "1",
        "category:patient/Condition.read": ["problem-list-item", "encounter-diagnosis", "health-concern"]})
    token = exchange(client, query_of(done.headers["Location"])["code"]).json
    lab = "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"
    vitals = lab.replace("laboratory", "vital-signs")
    assert token["scope"] == f"openid launch/patient {lab} {vitals} patient/Condition.read"
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    found = client.get("/fhir/Observation?patient=story-diabetes&_count=500", headers=bearer).json
    categories = {c["code"] for e in found["entry"] for cat in e["resource"]["category"] for c in cat["coding"]}
    assert categories == {"laboratory", "vital-signs"}
