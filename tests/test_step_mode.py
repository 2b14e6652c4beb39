"""Step mode: a launch pauses before its code is sent and before its token exchange until the presenter continues
from the EHR; each pause and continue is in the trail."""

from __future__ import annotations

import threading
import time

import pytest
from authorize_support import authorize_params, exchange, query_of, sign_in
from ehr_support import csrf_of

from sandbox.auth import step_mode

pytestmark = pytest.mark.seeded


def paused_launch(client):
    made = client.post("/api/launches", json={"client_id": "demo-app", "patient": "story-diabetes",
                                              "skip_login": True, "skip_consent": True, "pause": True})
    assert made.status_code == 201, made.json
    return made.json["launch"], made.json["activity_url"].rsplit("/", 1)[1]


def test_the_code_waits_for_continue_then_the_token_exchange_does(client, store):
    launch, trail = paused_launch(client)
    page = client.get("/auth/authorize", query_string=authorize_params(launch=launch, scope="launch patient/*.rs"))
    assert page.status_code == 200 and "Paused before the code is sent" in page.text
    back = page.text.split('id="go-on" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    code = query_of(back)["code"]
    state_url = f"/auth/authorize/paused/{trail}/code"
    assert client.get(state_url).json == {"released": False}

    sign_in(client)  # the launch's user (the first clinician) is the presenter in the EHR
    bar = client.get(f"/ehr/launches/{trail}/state", headers={"HX-Request": "true"})
    assert "Paused before the code" in bar.text and "Continue" in bar.text
    assert client.post(f"/ehr/launches/{trail}/continue", data={}).status_code in (400, 403)  # no CSRF token
    client.post(f"/ehr/launches/{trail}/continue", data={"csrf": csrf_of(client)})
    assert client.get(state_url).json == {"released": True}

    answered = {}

    def exchange_in_background():
        started = time.monotonic()
        with client.application.test_client() as other:
            answered["response"] = exchange(other, code)
        answered["seconds"] = time.monotonic() - started

    worker = threading.Thread(target=exchange_in_background)
    worker.start()
    deadline = time.monotonic() + 10
    while step_mode.waiting_at(store, trail) != step_mode.TOKEN and time.monotonic() < deadline:
        time.sleep(0.05)
    assert step_mode.waiting_at(store, trail) == step_mode.TOKEN  # the token request is held
    time.sleep(0.5)
    assert "response" not in answered
    assert "Paused before the token exchange" in client.get(f"/ehr/launches/{trail}/state",
                                                             headers={"HX-Request": "true"}).text
    client.post(f"/ehr/launches/{trail}/continue", data={"csrf": csrf_of(client)})
    worker.join(10)
    assert answered["response"].status_code == 200 and answered["seconds"] >= 0.5
    trail_page = client.get(f"/activity/{trail}").text
    assert trail_page.count("Paused: step mode") == 2 and trail_page.count("Continue pressed") == 2


def test_pause_must_be_a_boolean(client):
    made = client.post("/api/launches", json={"client_id": "demo-app", "patient": "story-diabetes", "pause": "yes"})
    assert made.status_code == 400 and "pause must be true or false" in made.json["error_description"]


def test_a_paused_code_still_expires_when_the_launch_simulates_it(client):
    made = client.post("/api/launches", json={"client_id": "demo-app", "patient": "story-diabetes",
                                              "skip_login": True, "skip_consent": True, "pause": True,
                                              "simulate": "code-expired"})
    page = client.get("/auth/authorize", query_string=authorize_params(launch=made.json["launch"],
                                                                       scope="launch patient/*.rs"))
    back = page.text.split('id="go-on" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    refused = exchange(client, query_of(back)["code"])  # step mode gives codes ten minutes, but not this one
    assert refused.status_code == 400 and refused.json["error"] == "invalid_grant"
