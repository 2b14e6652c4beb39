"""POST /api/launches: headless EHR launches for app developers' CI, open to loopback callers only."""

from __future__ import annotations

import pytest
from authorize_support import authorize_params, exchange, query_of

from sandbox.auth.admin import admin_token

FAR = {"REMOTE_ADDR": "10.0.0.5"}


pytestmark = pytest.mark.seeded  # client and store work on the seeded database


def encounter_of(store, patient):
    return store.conn.execute(
        "SELECT r.id FROM resources r JOIN compartment c ON c.rid = r.rid WHERE r.type = 'Encounter' "
        "AND c.patient_id = ? LIMIT 1", (patient,)).fetchone()[0]


def test_a_headless_launch_goes_straight_to_a_code_with_its_context(client, seeded_app):
    store = seeded_app.extensions["store"]
    encounter = encounter_of(store, "story-diabetes")
    created = client.post("/api/launches", json={
        "client_id": "demo-app", "patient": "story-diabetes", "encounter": encounter,
        "user": "Practitioner/practitioner-02", "fhirContext": ["DiagnosticReport/dr-1"], "intent": "review",
        "skip_login": True, "skip_consent": True})
    assert created.status_code == 201
    body = created.json
    assert body["iss"] == "http://localhost/fhir"
    assert body["launch_url"] == f"http://localhost/demo/launch.html?iss=http%3A%2F%2Flocalhost%2Ffhir&launch={body['launch']}"
    response = client.get("/auth/authorize", query_string=authorize_params(launch=body["launch"],
                                                                           scope="launch openid fhirUser patient/*.rs"))
    token = exchange(client, query_of(response.headers["Location"])["code"]).json
    assert token["patient"] == "story-diabetes" and token["encounter"] == encounter
    assert token["fhirContext"] == [{"reference": "DiagnosticReport/dr-1"}]
    assert token["intent"] == "review" and token["need_patient_banner"] is True
    assert token["smart_style_url"] == "http://localhost/auth/smart-style.json"


def test_the_default_user_is_the_first_clinician(client, seeded_app):
    launch_id = client.post("/api/launches", json={"client_id": "demo-app", "patient": "story-child"}).json["launch"]
    row = seeded_app.extensions["store"].conn.execute("SELECT user_id FROM launches WHERE secret = ?",
                                                      (launch_id,)).fetchone()
    assert row == ("lori.mcdonald",)


@pytest.mark.parametrize("body, status, words", [
    ({"client_id": "nobody"}, 404, "not a registered app"),
    ({"client_id": "demo-app", "patient": "ghost"}, 404, "Patient/ghost does not exist"),
    ({"client_id": "demo-app", "patient": "story-child", "encounter": "ghost"}, 404, "Encounter/ghost"),
    ({"client_id": "demo-app", "user": "Practitioner/ghost"}, 404, "No sandbox user"),
    ({"client_id": "demo-app", "patient": 7}, 400, "must be a string"),
    ({"client_id": "demo-app", "fhirContext": "DiagnosticReport/1"}, 400, "must be a list"),
    ([], 400, "JSON object"),
    ({"client_id": "demo-app", "skip_concent": True}, 400, "Unknown key 'skip_concent' (did you mean 'skip_consent'?)"),
    ({"client_id": "demo-app", "patient_id": "story-child", "x": 1}, 400, "Unknown keys 'patient_id'"),
])
def test_bad_launch_requests_say_what_is_wrong(client, body, status, words):
    launches = client.application.extensions["store"].conn.execute("SELECT count(*) FROM launches").fetchone()
    response = client.post("/api/launches", json=body)
    assert response.status_code == status
    assert response.json["error"] == "invalid_request" and words in response.json["error_description"]
    assert client.application.extensions["store"].conn.execute("SELECT count(*) FROM launches").fetchone() == launches


def test_an_encounter_of_another_patient_is_refused(client, seeded_app):
    encounter = encounter_of(seeded_app.extensions["store"], "story-elderly")
    response = client.post("/api/launches", json={"client_id": "demo-app", "patient": "story-diabetes",
                                                  "encounter": encounter})
    assert response.status_code == 400 and "belongs to Patient/story-elderly" in response.json["error_description"]


def test_callers_on_other_machines_need_the_admin_token(client, seeded_app):
    body = {"client_id": "demo-app", "patient": "story-child"}
    refused = client.post("/api/launches", json=body, environ_base=FAR)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    token = admin_token(seeded_app.extensions["store"], seeded_app.config)
    allowed = client.post("/api/launches", json=body, environ_base=FAR, headers={"Authorization": f"Bearer {token}"})
    assert allowed.status_code == 201
