"""End to end over real HTTP with Python fhirclient, the way an app developer uses it: an EHR launch made with
the launch API, and a standalone launch through the real sign-in, picker and consent pages. fhirclient
discovers the endpoints from /metadata, always sends PKCE S256, and sends client_id beside Basic credentials."""

from __future__ import annotations

import re

import pytest
import requests
from fhirclient import client as fhirclient
from fhirclient.models.observation import Observation
from fhirclient.models.patient import Patient

from sandbox.auth.clients import ClientRegistry
from sandbox.store import Store

REDIRECT = "http://localhost:3000/callback"  # demo-confidential's registered redirect URI


def hidden(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)


@pytest.fixture
def smart_settings(live_server):
    secret = ClientRegistry(Store(str(live_server.db))).get("demo-confidential").client_secret
    return {"app_id": "demo-confidential", "app_secret": secret, "api_base": f"{live_server}/fhir",
            "redirect_uri": REDIRECT}


def follow_to_app(session: requests.Session, url: str) -> requests.Response:
    """Follow the sandbox's redirects until the one that goes back to the app (which is not running)."""
    response = session.get(url, allow_redirects=False, timeout=10)
    while response.status_code in (301, 302, 303) and not response.headers["Location"].startswith(REDIRECT):
        response = session.get(requests.compat.urljoin(response.url, response.headers["Location"]),
                               allow_redirects=False, timeout=10)
    return response


def test_fhirclient_ehr_launch_through_the_launch_api(live_server, smart_settings):
    launch = requests.post(f"{live_server}/api/launches", timeout=10, json={
        "client_id": "demo-confidential", "patient": "story-diabetes", "skip_login": True,
        "skip_consent": True}).json()
    smart = fhirclient.FHIRClient(settings={**smart_settings, "launch_token": launch["launch"]})
    back = follow_to_app(requests.Session(), smart.authorize_url)
    assert back.headers["Location"].startswith(REDIRECT + "?code=")
    smart.handle_callback(back.headers["Location"])
    assert smart.ready and smart.patient_id == "story-diabetes"
    # fhirclient asks for "launch user/*.* patient/*.read openid profile"; a v1 request is answered in v1
    assert smart.server.auth.access_token
    patient = Patient.read("story-diabetes", smart.server)
    assert patient.name[0].family == "Johnson"
    search = Observation.where(struct={"patient": "story-diabetes", "category": "laboratory"})
    labs = list(search.perform_resources_iter(smart.server))
    assert labs, smart.server.auth.access_token


def test_fhirclient_standalone_launch_through_the_pages(live_server, smart_settings):
    smart = fhirclient.FHIRClient(settings={**smart_settings,
                                            "scope": "openid fhirUser profile patient/*.read"})
    session = requests.Session()
    login = follow_to_app(session, smart.authorize_url)  # launch/patient is added by fhirclient
    assert "Sandbox sign-in" in login.text
    picker = session.post(f"{live_server}/auth/login", timeout=10, data={
        "csrf": hidden(login.text, "csrf"), "next": hidden(login.text, "next"), "username": "susan.glenn"})
    assert "Choose the patient" in picker.text
    request_id, csrf = hidden(picker.text, "request"), hidden(picker.text, "csrf")
    consent = session.post(f"{live_server}/auth/authorize/patient", timeout=10,
                           data={"request": request_id, "csrf": csrf, "patient": "story-elderly"})
    assert "Allow" in consent.text
    back = session.post(f"{live_server}/auth/authorize/consent", allow_redirects=False, timeout=10,
                        data={"request": request_id, "csrf": csrf, "decision": "approve", "type": "*"})
    smart.handle_callback(back.headers["Location"])
    assert smart.patient_id == "story-elderly"
    assert Patient.read("story-elderly", smart.server).id == "story-elderly"
    assert smart.server.auth.refresh_token is None  # no offline_access was asked for
