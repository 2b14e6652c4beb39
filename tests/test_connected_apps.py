"""The management endpoint: a signed-in user sees the apps holding tokens for them and revokes one."""

from __future__ import annotations

import re

from authorize_support import hidden, sign_in
from conftest import issue_token
from dom import dom

from sandbox.auth.tokens import active_token


def test_a_user_sees_and_revokes_an_app(seeded_client, seeded_app):
    store = seeded_app.extensions["store"]
    mine = issue_token(store, "openid patient/Observation.rs", client_id="demo-app", user_id="lori.mcdonald",
                       patient="story-diabetes")
    theirs = issue_token(store, "patient/*.rs", client_id="demo-app", user_id="marcus.johnson")
    assert seeded_client.get("/auth/manage").headers["Location"].startswith("/auth/login")
    sign_in(seeded_client, "lori.mcdonald")
    page = seeded_client.get("/auth/manage")
    assert "Sandbox Demo App" in page.text
    assert "Read and search lab results, vital signs and other observations" in page.text
    assert page.text.count("Revoke</button>") == 1  # only this user's grant is listed (its dialog's button)
    row = dom(page.text).one("table.connected tbody tr")
    assert row.select("td")[3].text == "Not used yet"
    seeded_client.get("/fhir/Observation?patient=story-diabetes", headers={"Authorization": f"Bearer {mine}"})
    used = dom(seeded_client.get("/auth/manage").text).one("table.connected tbody tr").select("td")[3].text
    assert re.fullmatch(r"\d{2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2}", used)
    form = row.one("form")
    assert form.attrs["data-confirm"] == row.one("dialog").attrs["id"]  # revoking asks first
    assert "ask for authorization again" in row.one("dialog").text
    seeded_client.post("/auth/manage", data={"csrf": hidden(page.text, "csrf"), "family": hidden(page.text, "family")})
    assert active_token(store, mine) is None
    assert active_token(store, theirs) is not None
    assert "Revoked" in seeded_client.get("/auth/manage").text


def test_patients_manage_their_apps_in_the_portal(seeded_client):
    sign_in(seeded_client, "marcus.johnson")
    assert seeded_client.get("/auth/manage").headers["Location"] == "/portal/connected-apps"


def test_revoking_needs_the_csrf_token_and_only_touches_own_grants(seeded_client, seeded_app):
    store = seeded_app.extensions["store"]
    theirs = issue_token(store, "patient/*.rs", client_id="demo-app", user_id="lori.mcdonald")
    family = store.conn.execute("SELECT family_id FROM tokens WHERE user_id = 'lori.mcdonald'").fetchone()[0]
    sign_in(seeded_client, "marcus.johnson")
    assert seeded_client.post("/auth/manage", data={"family": family}).status_code == 400
    csrf = hidden(seeded_client.get("/auth/login").text, "csrf")  # the browser's token, valid for its forms
    seeded_client.post("/auth/manage", data={"csrf": csrf, "family": family})
    assert active_token(store, theirs) is not None
