"""What the EHR's tests share: a signed-in clinician, the form token, the story patient's encounters and launches."""

from __future__ import annotations

import json

import pytest
from authorize_support import sign_in

STORY = "story-diabetes"
HX = {"HX-Request": "true"}


@pytest.fixture
def clinician(seeded_client):
    sign_in(seeded_client, "lori.mcdonald")
    return seeded_client


def csrf_of(client) -> str:
    with client.session_transaction() as session:
        return session["csrf"]


def session_id_of(client) -> str:
    with client.session_transaction() as session:
        return session["sandbox_session"]


def story_encounters(store) -> list[dict]:
    from sandbox.ehr import records

    found = records.of_patient(store, "Encounter", STORY, ("_sort", "-date"))
    return records.resources(found)


def launch_row(store, launch: str) -> dict:
    """A launch by its trail id (as the chart's address names it) or its `launch` parameter (as the app gets it)."""
    trail, secret, client_id, user_id, session_id, context = store.conn.execute(
        "SELECT id, secret, client_id, user_id, session_id, context FROM launches WHERE ? IN (id, secret)",
        (launch,)).fetchone()
    return {"id": trail, "secret": secret, "client_id": client_id, "user_id": user_id, "session_id": session_id,
            "context": json.loads(context)}


