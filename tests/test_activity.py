"""The activity trail of a launch: the audit trail read back as a numbered story, FHIR requests folded."""

from __future__ import annotations

import re

from authorize_support import authorize_params, exchange, query_of, sign_in


def test_a_launch_reads_back_as_numbered_steps(seeded_client):
    client = seeded_client
    launch_id = client.post("/api/launches", json={"client_id": "demo-app", "patient": "story-diabetes",
                                                   "skip_login": True, "skip_consent": True}).json["launch"]
    back = client.get("/auth/authorize", query_string=authorize_params(launch=launch_id,
                                                                       scope="launch patient/Observation.rs"))
    token = exchange(client, query_of(back.headers["Location"])["code"]).json["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    client.get("/fhir/Observation?patient=story-diabetes&_count=1", headers=bearer)
    client.get("/fhir/Patient/story-diabetes", headers=bearer)  # no Patient scope: refused
    sign_in(client)
    page = client.get(f"/activity/{launch_id}")
    assert page.status_code == 200
    titles = re.findall(r'<span class="step-title">([^<]+)</span>', page.text)
    assert titles == ["Launch requested: context saved", "Authorization approved",
                      "Redirect back to the app with a code", "Code exchanged for tokens",
                      "2 FHIR requests: 1 OK, 1 refused"]
    assert "Reading Patient needs a scope such as patient/Patient.rs" in page.text
    assert "Approved without a consent page: the launch was made with skip_consent" in page.text
    fragment = client.get(f"/activity/{launch_id}", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text  # htmx polls the fragment
    assert launch_id in client.get("/activity/").text


def test_activity_needs_sign_in_and_unknown_launches_say_so(seeded_client):
    assert seeded_client.get("/activity/").headers["Location"].startswith("/auth/login")
    sign_in(seeded_client)
    missing = seeded_client.get("/activity/nope")
    assert missing.status_code == 404 and "No steps are recorded" in missing.text
