"""EHR launch contexts (SMART App Launch 2.2 §EHR Launch): opaque, single-use, short-lived, bound to one app and
one user; and the headless launch API's rules beyond tests/test_launch_api.py (types, implied context, who may
launch with which patient, the session a launch brings)."""

from __future__ import annotations

import json
import re

import pytest
from authorize_support import DEMO, DEMO_REDIRECT, authorize_params, follow, hidden, query_of

from sandbox.auth import audit, launch_context, signin
from sandbox.auth.codes import redeem_code

pytestmark = pytest.mark.seeded  # client and store work on the seeded database


def encounters_of(store, patient):
    rows = store.conn.execute(
        "SELECT r.id FROM resources r JOIN compartment c ON c.rid = r.rid WHERE r.type = 'Encounter' "
        "AND c.patient_id = ? ORDER BY r.id", (patient,)).fetchall()
    return [row[0] for row in rows]


def grant_of(store, response):
    assert response.status_code == 302 and response.headers["Location"].startswith(DEMO_REDIRECT), response.text
    return redeem_code(store, query_of(response.headers["Location"])["code"], "family-t").grant


# -- the launch store --------------------------------------------------------------------------------------------


def test_a_launch_id_is_random_and_url_safe_and_its_creation_is_audited(store):
    context = {"patient": "story-child", "encounter": None, "fhirContext": [], "intent": "", "tenant": "t1"}
    first = launch_context.create(store, DEMO, "lori.mcdonald", None, context, 300)
    second = launch_context.create(store, DEMO, "lori.mcdonald", None, context, 300)
    assert len({first.id, second.id, first.secret, second.secret}) == 4  # trail ids and launch parameters differ
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32}", value) for value in (first.id, first.secret))
    assert first.context == {"patient": "story-child", "tenant": "t1"}  # empty values are left out
    event = audit.recent(store, event="launch.created", launch_id=first.id)[0]
    assert (event.client_id, event.user_id, event.detail["context"]) == (DEMO, "lori.mcdonald", first.context)


@pytest.mark.parametrize("problem, reason", [
    ("unknown", "The launch parameter is not known to this EHR"),
    ("other-app", "The launch was created for another app"),
    ("used", "The launch was already used; start a new launch from the EHR"),
    ("expired", "The launch has expired; start a new launch from the EHR"),
])
def test_take_refuses_with_a_reason(store, problem, reason):
    made = launch_context.create(store, DEMO, "lori.mcdonald", None, {"patient": "story-child"},
                                 -1 if problem == "expired" else 300)
    if problem == "used":
        assert launch_context.take(store, made.secret, DEMO)[0] == made
    launch_id = "no-such-launch" if problem == "unknown" else made.secret
    taken, why = launch_context.take(store, launch_id, "demo-confidential" if problem == "other-app" else DEMO)
    assert (taken, why) == (None, reason)


def test_a_trail_id_does_not_redeem_its_launch(store):
    made = launch_context.create(store, DEMO, "lori.mcdonald", None, {"patient": "story-child"}, 300)
    assert launch_context.take(store, made.id, DEMO) == (None, "The launch parameter is not known to this EHR")
    assert launch_context.take(store, made.secret, DEMO)[0] == made


def test_another_apps_attempt_does_not_use_up_the_launch(store):
    made = launch_context.create(store, DEMO, "lori.mcdonald", None, {"patient": "story-child"}, 300)
    assert launch_context.take(store, made.secret, "demo-confidential")[0] is None
    taken, why = launch_context.take(store, made.secret, DEMO)
    assert why is None and taken.context == {"patient": "story-child"}
    assert store.conn.execute("SELECT used_at IS NOT NULL FROM launches WHERE id = ?", (made.id,)).fetchone() == (1,)


# -- launches at the authorize endpoint --------------------------------------------------------------------------


def test_a_headless_launch_without_an_encounter_never_stops_at_a_picker(client, store):
    launch_id = client.post("/api/launches", json={"client_id": DEMO, "skip_login": True,
                                                   "skip_consent": True}).json["launch"]
    scope = "launch launch/patient launch/encounter openid fhirUser user/*.rs"
    grant = grant_of(store, client.get("/auth/authorize", query_string=authorize_params(launch=launch_id,
                                                                                        scope=scope)))
    assert "patient" not in grant.context and "encounter" not in grant.context
    assert grant.scope == scope and grant.user_id == "lori.mcdonald"


def test_an_ehr_launch_that_lacks_an_encounter_asks_for_one_without_asking_anyone_to_sign_in(client, store):
    made = launch_context.create(store, DEMO, "susan.glenn", None, {"patient": "story-diabetes"}, 300)
    picker = follow(client, client.get("/auth/authorize", query_string=authorize_params(
        launch=made.secret, scope="launch launch/encounter patient/*.rs")))
    assert picker.status_code == 200 and "Choose the encounter for JOHNSON, Marcus" in picker.text
    request_id, csrf = hidden(picker.text, "request"), hidden(picker.text, "csrf")
    encounter = encounters_of(store, "story-diabetes")[0]
    consent = follow(client, client.post("/auth/authorize/encounter", data={"request": request_id, "csrf": csrf,
                                                                             "encounter": encounter}))
    done = client.post("/auth/authorize/consent", data={"request": request_id, "csrf": csrf, "decision": "approve",
                                                        "type": "*"})
    assert "Allow" in consent.text
    grant = grant_of(store, done)
    assert (grant.user_id, grant.context["patient"], grant.context["encounter"]) == \
        ("susan.glenn", "story-diabetes", encounter)


def test_the_patient_of_an_ehr_launch_cannot_be_swapped_at_the_picker(client, store):
    made = launch_context.create(store, DEMO, "lori.mcdonald", None, {"patient": "story-diabetes"}, 300)
    consent = follow(client, client.get("/auth/authorize", query_string=authorize_params(launch=made.secret)))
    request_id, csrf = hidden(consent.text, "request"), hidden(consent.text, "csrf")
    swapped = client.post("/auth/authorize/patient", data={"request": request_id, "csrf": csrf,
                                                           "patient": "story-child"})
    assert swapped.headers["Location"].startswith("/auth/authorize/consent")  # sent back to where it stands
    done = client.post("/auth/authorize/consent", data={"request": request_id, "csrf": csrf, "decision": "approve",
                                                        "type": "*"})
    assert grant_of(store, done).context["patient"] == "story-diabetes"


# -- POST /api/launches -------------------------------------------------------------------------------------------


def launch_row(store, secret):
    user_id, session_id, context = store.conn.execute(
        "SELECT user_id, session_id, context FROM launches WHERE secret = ?", (secret,)).fetchone()
    return user_id, session_id, json.loads(context)


def test_a_launch_brings_an_active_session_of_its_user(client, store):
    launch_id = client.post("/api/launches", json={"client_id": DEMO, "user": "Practitioner/practitioner-03"}) \
        .json["launch"]
    user_id, session_id, _ = launch_row(store, launch_id)
    assert user_id == "donald.reed"
    assert signin.user_of(store, session_id).id == "donald.reed"


def test_an_encounter_alone_brings_its_patient(client, store):
    encounter = encounters_of(store, "story-elderly")[0]
    response = client.post("/api/launches", json={"client_id": DEMO, "encounter": encounter})
    assert response.status_code == 201
    context = launch_row(store, response.json["launch"])[2]
    assert (context["patient"], context["encounter"]) == ("story-elderly", encounter)


def test_launch_context_defaults_and_overrides(client, store):
    default = launch_row(store, client.post("/api/launches", json={"client_id": DEMO}).json["launch"])[2]
    assert default == {"need_patient_banner": True, "smart_style_url": "http://localhost/auth/smart-style.json"}
    chosen = client.post("/api/launches", json={"client_id": DEMO, "need_patient_banner": False, "tenant": "clinic-2",
                                                "fhirContext": [{"reference": "DiagnosticReport/dr-1",
                                                                 "role": "https://example.org/role"}]})
    context = launch_row(store, chosen.json["launch"])[2]
    assert context["need_patient_banner"] is False and context["tenant"] == "clinic-2"
    assert context["fhirContext"] == [{"reference": "DiagnosticReport/dr-1", "role": "https://example.org/role"}]


def test_a_patient_user_launches_with_their_own_record_only(client, store):
    own = client.post("/api/launches", json={"client_id": DEMO, "user": "Patient/story-diabetes"})
    assert launch_row(store, own.json["launch"])[:1] == ("marcus.johnson",)
    assert launch_row(store, own.json["launch"])[2]["patient"] == "story-diabetes"
    other = client.post("/api/launches", json={"client_id": DEMO, "user": "Patient/story-diabetes",
                                                "patient": "story-child"})
    assert other.status_code == 403
    assert other.json["error_description"].startswith("Patient/story-diabetes may not see Patient/story-child")


@pytest.mark.parametrize("body, words", [
    ({"client_id": DEMO, "skip_login": "false"}, "skip_login must be true or false"),
    ({"client_id": DEMO, "skip_consent": 1}, "skip_consent must be true or false"),
    ({"client_id": DEMO, "need_patient_banner": "no"}, "need_patient_banner must be true or false"),
    ({"client_id": DEMO, "user": {"reference": "Practitioner/practitioner-01"}}, "user must be a string"),
    ({"client_id": DEMO, "user": 5}, "user must be a string"),
    ({"client_id": DEMO, "tenant": ["a"]}, "tenant must be a string"),
    ({"client_id": DEMO, "encounter": ["x"]}, "encounter must be a string"),
    ({"client_id": DEMO, "fhirContext": [["DiagnosticReport/1"]]}, "each fhirContext entry must be an object"),
    ({"client_id": DEMO, "fhirContext": {"reference": "DiagnosticReport/1"}}, "fhirContext must be a list"),
])
def test_malformed_launch_requests_are_400_not_500(client, body, words):
    response = client.post("/api/launches", json=body)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request" and words in response.json["error_description"]


@pytest.mark.parametrize("payload, content_type", [("{", "application/json"), ("null", "application/json"),
                                                    ("client_id=demo-app", "application/x-www-form-urlencoded")])
def test_a_body_that_is_not_a_json_object_is_400(client, payload, content_type):
    response = client.post("/api/launches", data=payload, content_type=content_type)
    assert response.status_code == 400 and "JSON object" in response.json["error_description"]
