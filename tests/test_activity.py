"""The activity trail of a launch: the audit trail read back as a numbered story, FHIR requests folded, tokens
decoded, no usable secret kept or shown, live while running, and each patient seeing only their own launches."""

from __future__ import annotations

import base64
import json
import re

import pytest
from authorize_support import DEMO_REDIRECT, VERIFIER, authorize_params, exchange, follow, hidden, query_of, sign_in
from dom import dom
from oauth_support import basic

from sandbox.auth import audit
from sandbox.auth.clients import ClientRegistry

CONFIDENTIAL = "demo-confidential"
CONFIDENTIAL_REDIRECT = "http://localhost:3000/callback"


pytestmark = pytest.mark.seeded  # client and store work on the seeded database


def titles(html: str) -> list[str]:
    return [node.text for node in dom(html).select("li.step details span.step-title")]


def step(html: str, number: int):
    return dom(html).one(f"li#step-{number}")


def table_rows(node, caption: str) -> dict[str, str]:
    """The rows of the table captioned ``caption``: first cell → value cell text."""
    table = next(t for t in node.select("table") if t.one("caption").text == caption)
    return {row.one("th code").text: row.select("td")[0].text
            for row in table.select("tbody tr")}


def facts(node) -> dict[str, str]:
    return {d.one("dt").text: d.one("dd").text for d in node.select("dl.step-facts div")}


def audit_text(store) -> str:
    return "\n".join(str(row) for row in store.conn.execute("SELECT * FROM audit_events").fetchall())


def assert_nothing_usable(secrets: list[str], *texts: str) -> None:
    for secret in secrets:
        assert len(secret) > 20
        for text in texts:
            assert secret not in text


def ehr_launch(client, scope="launch openid fhirUser offline_access patient/Observation.rs"):
    """A headless EHR launch of the demo app, exchanged for tokens; returns (trail id, code, token response)."""
    made = client.post("/api/launches", json={"client_id": "demo-app", "patient": "story-diabetes",
                                              "skip_login": True, "skip_consent": True}).json
    back = client.get("/auth/authorize", query_string=authorize_params(launch=made["launch"], scope=scope,
                                                                       nonce="n-42"))
    code = query_of(back.headers["Location"])["code"]
    return trail_id(made), code, exchange(client, code).json


def trail_id(made: dict) -> str:
    """The trail id of a launch made by the launch API (from its activity_url; never its `launch`)."""
    return made["activity_url"].rsplit("/", 1)[1]


def standalone(client, username="lori.mcdonald", patient="story-diabetes"):
    """A standalone launch of the confidential app: authorize, sign in, pick, consent; returns the code."""
    asked = client.get("/auth/authorize", query_string=authorize_params(
        client_id=CONFIDENTIAL, redirect_uri=CONFIDENTIAL_REDIRECT, nonce="n-7",
        scope="openid fhirUser launch/patient offline_access patient/Observation.rs bogus/scope"))
    login = asked.headers["Location"]
    page = follow(client, sign_in(client, username, next_url=query_of(login)["next"]))
    if "/authorize/patient" in page.request.path:
        form = {"request": hidden(page.text, "request"), "csrf": hidden(page.text, "csrf"), "patient": patient}
        page = follow(client, client.post("/auth/authorize/patient", data=form))
    form = {"request": hidden(page.text, "request"), "csrf": hidden(page.text, "csrf"), "decision": "approve",
            "type": ["Observation"]}
    done = follow(client, client.post("/auth/authorize/consent", data=form))
    return query_of(done.headers["Location"])["code"]


def confidential_exchange(client, store, code):
    secret = ClientRegistry(store, "http://localhost").get(CONFIDENTIAL).client_secret
    return client.post("/auth/token", headers=basic(CONFIDENTIAL, secret), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CONFIDENTIAL_REDIRECT,
        "code_verifier": VERIFIER}), secret


def trail_of(store, event="authorize.requested") -> str:
    return audit.recent(store, event=event)[0].launch_id


# -- an EHR launch --------------------------------------------------------------------------------------------


def test_an_ehr_launch_reads_back_as_numbered_steps(client, store):
    launch_id, code, body = ehr_launch(client)
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    client.get("/fhir/Observation?patient=story-diabetes&_count=1", headers=bearer)
    client.get("/fhir/Patient/story-diabetes", headers=bearer)  # no Patient scope: refused
    sign_in(client)
    page = client.get(f"/activity/{launch_id}")
    assert page.status_code == 200
    assert titles(page.text) == ["Launch requested: context saved", "Authorization request", "Authorization approved",
                                 "Redirect back to the app with a code", "Code exchanged for tokens",
                                 "2 FHIR requests: 1 OK, 1 refused"]
    launch = step(page.text, 1)
    assert launch.one("p.request-line").text == "GET http://localhost/demo/launch.html"
    assert table_rows(launch, "Launch context saved")["patient"] == "story-diabetes"
    assert launch.one("tr.context th code").text == "patient"  # launch context is highlighted
    request = table_rows(step(page.text, 2), "Parameters")
    assert request["code_challenge_method"] == "S256" and request["state"] == "sent" and request["nonce"] == "sent"
    assert request["aud"] == "http://localhost/fhir" and request["code_challenge"].endswith("…")
    assert "Approved without a consent page: the launch was made with skip_consent" in step(page.text, 3).text
    assert step(page.text, 4).one("p.request-line").text == f"GET {DEMO_REDIRECT}"

    token = step(page.text, 5)
    assert facts(token)["Client authentication"].startswith("none Public app")
    assert facts(token)["PKCE"].startswith("S256 verifier matched the challenge")
    claims = table_rows(token, "Token response")
    assert claims["access_token"] == body["access_token"][:6] + "…"
    assert claims["patient"] == "story-diabetes" and claims["need_patient_banner"] == "true"
    assert re.search(r"\(expires in (59|60) min\)$", claims["exp"])
    assert claims["refresh_token"] == body["refresh_token"][:6] + "…"
    id_claims = table_rows(token, "id_token claims")
    assert id_claims["iss"] == "http://localhost/fhir" and id_claims["aud"] == "demo-app"
    assert id_claims["nonce"] == "present: n-42" and id_claims["fhirUser"].startswith("http://localhost/fhir/Practitioner/")
    assert table_rows(token, "id_token header")["alg"] == "RS256"
    assert [d.text for d in token.select("div.jwt dl.jwt-parts dt")][:3] == ["Header", "Payload", "Signature"]

    fhir = step(page.text, 6)
    rows = [[cell.text for cell in row.select("td")] for row in fhir.select("table.fhir-requests tbody tr")]
    assert rows[0][1:4] == ["GET", "/fhir/Observation?patient=story-diabetes&_count=1", "✓ 200"]
    assert rows[0][4].isdigit() and int(rows[0][4]) > 1  # a search's Bundle.total
    assert rows[1][1:5] == ["GET", "/fhir/Patient/story-diabetes", "✕ 403", ""]
    assert "Reading Patient needs a scope such as patient/Patient.rs" in rows[1][5]

    assert_nothing_usable([body["access_token"], body["refresh_token"], code, VERIFIER], page.text, audit_text(store))
    fragment = client.get(f"/activity/{launch_id}", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text  # htmx polls the fragment
    listed = dom(client.get("/activity/").text).one("table.trails tbody tr")
    assert [cell.text for cell in listed.select("td")][1:3] == ["EHR launch", "Sandbox Demo App"]


def test_the_token_context_the_app_sees_is_unchanged_by_the_trail(client):
    _, _, body = ehr_launch(client, scope="launch openid fhirUser patient/Observation.rs")
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "id_token", "patient",
                         "need_patient_banner", "smart_style_url"}
    claims = json.loads(base64.urlsafe_b64decode(body["id_token"].split(".")[1] + "=="))
    assert "launch_id" not in claims
    introspected = client.post("/auth/introspect", data={"token": body["access_token"]},
                               headers={"Authorization": f"Bearer {body['access_token']}"}).json
    assert introspected["active"] and "launch_id" not in introspected


def test_an_introspection_joins_the_trail_of_the_token_it_asked_about(client, store):
    launch_id, _, body = ehr_launch(client)
    client.post("/auth/introspect", data={"token": body["access_token"]},
                headers={"Authorization": f"Bearer {body['access_token']}"})
    sign_in(client)
    assert titles(client.get(f"/activity/{launch_id}").text)[-1] == "Token introspected"


def test_a_patients_launch_is_a_portal_launch_with_its_context_highlighted(client, store):
    launch_id = trail_id(client.post("/api/launches", json={
        "client_id": "demo-app", "user": "Patient/story-diabetes", "intent": "reconcile-medications",
        "fhirContext": [{"reference": "Patient/story-diabetes", "role": "subject"}]}).json)
    sign_in(client, "marcus.johnson")
    launch = step(client.get(f"/activity/{launch_id}").text, 1)
    context = {row.one("th code").text: row.select("td")[0].text for row in launch.select("tr.context")}
    assert context["fhirContext"] == '[{"reference": "Patient/story-diabetes", "role": "subject"}]'
    assert context["intent"] == "reconcile-medications" and context["patient"] == "story-diabetes"
    cells = [cell.text for cell in dom(client.get("/activity/").text).one("table.trails tbody tr").select("td")]
    assert cells[1:3] == ["Portal launch", "Sandbox Demo App"] and cells[5] == "… Launched; waiting for the app"


# -- a standalone launch --------------------------------------------------------------------------------------


def test_a_standalone_launch_has_a_trail_of_its_own(client, store):
    code = standalone(client)
    response, secret = confidential_exchange(client, store, code)
    body = response.json
    assert "launch_id" not in body  # the trail id stays on the server
    trail = trail_of(store)
    assert trail.startswith(audit.STANDALONE_PREFIX)
    refreshed = client.post("/auth/token", headers=basic(CONFIDENTIAL, secret), data={
        "grant_type": "refresh_token", "refresh_token": body["refresh_token"]}).json
    bearer = {"Authorization": f"Bearer {refreshed['access_token']}"}
    client.get("/fhir/Observation?patient=story-diabetes", headers=bearer)
    page = client.get(f"/activity/{trail}")
    assert titles(page.text) == ["Authorization request", "User signed in", "Patient chosen", "Authorization approved",
                                 "Redirect back to the app with a code", "Code exchanged for tokens",
                                 "Access token refreshed", "1 FHIR request: 1 OK"]
    assert dom(page.text).one("h1").text == "Standalone launch: Your Server-Side App (example registration)"
    asked = step(page.text, 1)
    assert facts(asked)["Scopes not understood"].startswith("bogus/scope")
    assert "launch" not in table_rows(asked, "Parameters")
    assert facts(step(page.text, 4))["How"] == "The user approved on the consent page."
    token = step(page.text, 6)
    assert facts(token)["Client authentication"].startswith("client_secret_basic")
    assert facts(token)["PKCE"].startswith("S256 verifier matched the challenge")
    assert table_rows(token, "id_token claims")["nonce"] == "present: n-7"
    refresh = facts(step(page.text, 7))
    assert refresh["Rotation"].startswith(f"{body['refresh_token'][:6]}… retired, {refreshed['refresh_token'][:6]}…")
    secrets_seen = [body["access_token"], body["refresh_token"], refreshed["access_token"],
                    refreshed["refresh_token"], code, secret]
    assert_nothing_usable(secrets_seen, page.text, audit_text(store))
    cells = [cell.text for cell in dom(client.get("/activity/").text).one("table.trails tbody tr").select("td")]
    assert (cells[1], cells[2], cells[4]) == ("Standalone launch", "Your Server-Side App (example registration)",
                                              "JOHNSON, Marcus Anthony (Patient/story-diabetes)")


def test_a_failed_token_request_shows_the_error_code_and_what_to_change(client, store):
    made = client.post("/api/launches", json={"client_id": "demo-app", "patient": "story-diabetes",
                                              "skip_login": True, "skip_consent": True}).json
    launch_id = trail_id(made)
    back = client.get("/auth/authorize", query_string=authorize_params(launch=made["launch"], scope="launch openid"))
    refused = exchange(client, query_of(back.headers["Location"])["code"], verifier="w" * 43)
    assert refused.json["error"] == "invalid_grant"
    sign_in(client)
    failed = step(client.get(f"/activity/{launch_id}").text, 5)
    assert "failed" in failed.classes and failed.one("span.status").text == "✕ Failed"
    assert failed.one("div.failure code.error-code").text == "invalid_grant"
    assert "code_verifier does not match the code_challenge" in failed.one("div.failure").text
    assert "Send the code_verifier whose S256 hash was the code_challenge" in failed.one("div.failure").text


def test_a_refused_authorize_request_shows_registered_and_received(client, store):
    client.get("/auth/authorize", query_string=authorize_params(aud="http://elsewhere.example/fhir"))
    trail = trail_of(store, "authorize.refused")
    sign_in(client)
    refused = step(client.get(f"/activity/{trail}").text, 1)
    assert refused.one("code.error-code").text == "invalid_request"
    assert [c.text for c in refused.select("table.mismatch td")] == ["http://localhost/fhir",
                                                                     "http://elsewhere.example/fhir"]
    # nothing more can happen in a refused standalone request: polling stops at once
    assert client.get(f"/activity/{trail}", headers={"HX-Request": "true"}).status_code == 286


# -- live updates -------------------------------------------------------------------------------------------------


def test_polling_announces_new_steps_and_stops_once_finished(client, store):
    made = client.post("/api/launches", json={"client_id": "demo-app", "patient": "story-diabetes"}).json
    launch_id = trail_id(made)
    sign_in(client)
    first = client.get(f"/activity/{launch_id}")
    poll = dom(first.text).one("div#steps").attrs["hx-get"]
    assert "hx-trigger" in first.text and "Waiting for the app to send its authorization request" in first.text
    client.get("/auth/authorize", query_string=authorize_params(launch=made["launch"], scope="launch openid"))
    fragment = client.get(poll, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert dom(fragment.text).one("p#step-news").text.startswith("Step 2: Authorization request.")
    with store.transaction() as conn:
        conn.execute("UPDATE audit_events SET at = '2020-01-01T00:00:00Z' WHERE launch_id = ?", (launch_id,))
    finished = client.get(poll, headers={"HX-Request": "true"})
    assert finished.status_code == 286 and "hx-trigger" not in finished.text


# -- who sees what ------------------------------------------------------------------------------------------------


def test_a_patient_sees_only_their_own_trails(client, store):
    launch_id, _, _ = ehr_launch(client)  # a clinician's launch
    code = standalone(client, username="marcus.johnson")
    confidential_exchange(client, store, code)
    own = trail_of(store)
    others = client.get(f"/activity/{launch_id}")
    assert others.status_code == 403 and "Step" not in others.text and "story-diabetes" not in others.text
    assert client.get(f"/activity/{launch_id}", headers={"HX-Request": "true"}).status_code == 403
    mine = client.get(f"/activity/{own}")
    assert mine.status_code == 200 and "Authorization approved" in mine.text
    listed = [a.attrs["href"] for a in dom(client.get("/activity/").text).select("table.trails a")]
    assert listed == [f"/activity/{own}"]
    sign_in(client)  # a clinician sees every trail: it is a teaching sandbox
    assert client.get(f"/activity/{launch_id}").status_code == 200


def test_activity_needs_sign_in_and_unknown_launches_say_so(client):
    assert client.get("/activity/").headers["Location"].startswith("/auth/login")
    sign_in(client)
    missing = client.get("/activity/nope")
    assert missing.status_code == 404 and "No steps are recorded" in missing.text


# -- the list's filters and clearing it ------------------------------------------------------------------------


def test_the_list_filters_by_app_user_and_outcome(client, store):
    launch_id, _, _ = ehr_launch(client)  # demo-app, the first clinician, done
    code = standalone(client, username="marcus.johnson")  # the confidential app, a patient, done
    confidential_exchange(client, store, code)
    theirs = trail_of(store)
    client.get("/auth/authorize", query_string=authorize_params(scope="launch/patient patient/*.rs", state=None))
    sign_in(client)

    def listed(**filters) -> list[str]:
        page = dom(client.get("/activity/", query_string=filters).text)
        return [a.attrs["href"].rsplit("/", 1)[1] for a in page.select("table.trails a")]

    everything = listed()
    assert launch_id in everything and theirs in everything
    assert listed(app="demo-app") == [t for t in everything if t != theirs and t in listed(app="demo-app")]
    assert theirs not in listed(app="demo-app") and launch_id in listed(app="demo-app")
    assert listed(app=CONFIDENTIAL) == [theirs]
    assert listed(user="marcus.johnson") == [theirs]
    assert launch_id not in listed(outcome="failed") and launch_id in listed(outcome="done")
    assert listed(outcome="failed") and all(t in everything for t in listed(outcome="failed"))
    assert listed(app="no-such-app") == []
    assert "No launch matches these filters" in client.get("/activity/", query_string={"app": "nope"}).text
    choices = dom(client.get("/activity/").text)
    assert {o.attrs["value"] for o in choices.select("#filter-app option")} >= {"", "demo-app", CONFIDENTIAL}


def test_a_clinician_clears_the_list_and_a_patient_may_not(client, store):
    ehr_launch(client)
    sign_in(client, "marcus.johnson")
    page = client.get("/activity/")
    refused = client.post("/activity/clear", data={"csrf": hidden(page.text, "csrf")})
    assert refused.status_code == 403 and audit.recent(store, event="launch.created")
    sign_in(client)
    page = client.get("/activity/")
    assert client.post("/activity/clear", data={}).status_code == 400  # no CSRF token
    cleared = client.post("/activity/clear", data={"csrf": hidden(page.text, "csrf")})
    assert cleared.status_code == 303
    after = client.get(cleared.headers["Location"])
    assert "Cleared the activity list" in after.text and dom(after.text).select("table.trails") == []
    assert store.conn.execute("SELECT count(*) FROM audit_events WHERE launch_id IS NOT NULL").fetchone()[0] == 0
    assert audit.recent(store, event="activity.cleared")[0].user_id == "lori.mcdonald"


def test_scopes_requested_but_not_granted_are_named_with_the_reason(client, store):
    launch_id, _, body = ehr_launch(client, scope="launch openid fhirUser patient/Observation.rs system/Patient.rs")
    assert "system/Patient.rs" not in body["scope"]
    sign_in(client)
    rows = table_rows(step(client.get(f"/activity/{launch_id}").text, 2), "Scopes requested but not granted")
    assert "system/Patient.rs" in rows and "backend" in rows["system/Patient.rs"].lower()


def test_the_discovery_just_before_the_authorize_request_is_a_step(client, store):
    made = client.post("/api/launches", json={"client_id": "demo-app", "patient": "story-diabetes",
                                              "skip_login": True, "skip_consent": True}).json
    client.get("/fhir/.well-known/smart-configuration")  # what an app does once the EHR has opened it
    client.get("/fhir/metadata")
    client.get("/auth/authorize", query_string=authorize_params(launch=made["launch"], scope="launch patient/*.rs"))
    launch_id = trail_id(made)
    sign_in(client)
    page = client.get(f"/activity/{launch_id}").text
    shown = titles(page)
    assert shown[:4] == ["Launch requested: context saved", "Discovery: the app read smart-configuration",
                         "Discovery: the app read the CapabilityStatement", "Authorization request"]
    assert "joined by the address and the time" in page
    other = client.post("/api/launches", json={"client_id": "demo-app", "patient": "story-diabetes"}).json
    assert "Discovery" not in " ".join(titles(client.get(other["activity_url"].replace("http://localhost", "")).text))


def test_each_request_has_a_raw_http_view_with_secrets_still_cut_short(client, store):
    code = standalone(client)
    response, secret = confidential_exchange(client, store, code)
    trail = trail_of(store)
    page = client.get(f"/activity/{trail}").text
    raws = [pre.text for pre in dom(page).select("details.raw-http pre")]
    authorize = next(r for r in raws if r.startswith("GET /auth/authorize?"))
    assert "client_id=demo-confidential" in authorize and "Host: localhost" in authorize
    token = next(r for r in raws if r.startswith("POST /auth/token HTTP/1.1"))
    assert "Content-Type: application/x-www-form-urlencoded" in token and "grant_type=authorization_code" in token
    assert "Authorization: Basic (client_id:client_secret in base64; not kept)" in token
    assert_nothing_usable([code, secret, response.json["access_token"]], *raws)


def test_discovery_before_the_launch_was_made_is_not_its_discovery(client, store):
    client.get("/fhir/.well-known/smart-configuration")  # another app's, a moment before this launch
    launch_id, _, _ = ehr_launch(client)
    sign_in(client)
    assert not any(t.startswith("Discovery") for t in titles(client.get(f"/activity/{launch_id}").text))
