"""App registration pages: the browser form goes through the same registry rules as RFC 7591 registration."""

from __future__ import annotations

import json
import re

import pytest
from authorize_support import hidden, sign_in
from dom import dom
from ehr_support import csrf_of

from sandbox.auth.clients import ClientRegistry
from sandbox.auth.users import UserDirectory


@pytest.fixture
def client(seeded_client):
    sign_in(seeded_client, "lori.mcdonald")
    return seeded_client


def csrf(client) -> str:
    return hidden(client.get("/apps/new").text, "csrf")


FORM = {"client_name": "Growth Charts", "client_type": "confidential-symmetric",
        "redirect_uris": "http://localhost:4000/callback\nhttp://127.0.0.1:4000/callback",
        "launch_uri": "http://localhost:4000/launch", "scope": "launch openid fhirUser patient/Observation.rs",
        "launch_mode": "tab"}


def test_pages_need_a_signed_in_user(seeded_client):
    assert seeded_client.get("/apps/").headers["Location"].startswith("/auth/login?next=/apps/")


def test_register_shows_the_secret_once_and_the_app_is_registered(client, seeded_app):
    response = client.post("/apps/new", data={**FORM, "csrf": csrf(client)})
    assert response.status_code == 302
    page = client.get(response.headers["Location"])
    client_id = re.search(r'id="client-id">([^<]+)<', page.text).group(1)
    secret = re.search(r'id="client-secret">([^<]+)<', page.text).group(1)
    app = ClientRegistry(seeded_app.extensions["store"]).get(client_id)
    assert app.client_secret == secret and app.token_endpoint_auth_method == "client_secret_basic"
    assert app.redirect_uris == ("http://localhost:4000/callback", "http://127.0.0.1:4000/callback")
    assert app.launch_mode == "tab" and app.origin == "ui"
    assert "client-secret" not in client.get(response.headers["Location"]).text  # shown once
    assert "Growth Charts" in client.get("/apps/").text


def test_invalid_metadata_is_shown_with_the_form_kept(client):
    response = client.post("/apps/new", data={**FORM, "redirect_uris": "not a url", "csrf": csrf(client)})
    assert response.status_code == 400
    assert "The app was not saved" in response.text
    assert 'value="Growth Charts"' in response.text


def test_edit_and_remove(client, seeded_app):
    created = client.post("/apps/new", data={**FORM, "client_type": "public", "csrf": csrf(client)})
    location = created.headers["Location"]
    client_id = location.rsplit("/", 1)[1]
    saved = client.post(location, data={**FORM, "client_type": "public", "client_name": "Renamed",
                                        "pre_approved": "on", "csrf": csrf(client)})
    assert saved.status_code == 302
    app = ClientRegistry(seeded_app.extensions["store"]).get(client_id)
    assert app.client_name == "Renamed" and app.client_secret is None and app.owner == "lori.mcdonald"
    assert not app.pre_approved  # skipping consent is the administrator's decision, not the owner's
    client.post(f"/apps/{client_id}/remove", data={"csrf": csrf(client)})
    assert ClientRegistry(seeded_app.extensions["store"]).get(client_id) is None


def test_the_administrator_pre_approves_and_edits_any_app(client, seeded_app):
    created = client.post("/apps/new", data={**FORM, "client_type": "public", "csrf": csrf(client)})
    sign_in(client, "admin")
    form = dom(client.get(created.headers["Location"]).text)
    assert form.one("input#pre_approved").attrs["name"] == "pre_approved"
    saved = client.post(created.headers["Location"], data={**FORM, "client_type": "public", "pre_approved": "on",
                                                           "csrf": csrf(client)})
    app = ClientRegistry(seeded_app.extensions["store"]).get(created.headers["Location"].rsplit("/", 1)[1])
    assert saved.status_code == 302 and app.pre_approved and app.owner == "lori.mcdonald"
    assert ClientRegistry(seeded_app.extensions["store"]).get("demo-app").owner == "admin"  # bundled apps


def test_another_clinician_sees_the_app_but_may_not_change_or_remove_it(client, seeded_app):
    created = client.post("/apps/new", data={**FORM, "csrf": csrf(client)})
    client_id = created.headers["Location"].rsplit("/", 1)[1]
    registry = ClientRegistry(seeded_app.extensions["store"])
    before = registry.get(client_id)
    sign_in(client, "susan.glenn")
    page = dom(client.get(created.headers["Location"]).text)
    assert page.one("#not-yours").text.startswith("This app belongs to another user")
    assert page.select("form.form button[type=submit]") == []
    assert page.select(".test-launch form")  # trying the app is still open to every clinician
    listed = dom(client.get("/apps/").text)
    row = next(r for r in listed.select("tbody tr") if client_id in r.text)
    assert row.select("button") == [] and "Lori" in row.select("td")[3].text
    edited = client.post(created.headers["Location"], data={**FORM, "client_type": "public", "csrf": csrf(client)})
    removed = client.post(f"/apps/{client_id}/remove", data={"csrf": csrf(client)})
    assert edited.status_code == removed.status_code == 403
    assert dom(edited.text).one("h1").text == "Not your app"
    assert registry.get(client_id) == before


def test_a_clinicians_pre_approval_is_ignored_and_the_checkbox_is_the_administrators(client, seeded_app):
    assert dom(client.get("/apps/new").text).select("#pre_approved") == []
    created = client.post("/apps/new", data={**FORM, "pre_approved": "on", "csrf": csrf(client)})
    client_id = created.headers["Location"].rsplit("/", 1)[1]
    assert not ClientRegistry(seeded_app.extensions["store"]).get(client_id).pre_approved


def test_an_owners_new_redirect_uris_end_the_administrators_pre_approval(client, seeded_app):
    created = client.post("/apps/new", data={**FORM, "csrf": csrf(client)})
    registry = ClientRegistry(seeded_app.extensions["store"])
    client_id = created.headers["Location"].rsplit("/", 1)[1]
    registry.update(client_id, {"pre_approved": True})
    client.post(created.headers["Location"], data={**FORM, "launch_mode": "embedded", "csrf": csrf(client)})
    assert registry.get(client_id).pre_approved  # a change that keeps the registration keeps the approval
    client.post(created.headers["Location"], data={**FORM, "redirect_uris": "https://elsewhere.example/cb",
                                                   "csrf": csrf(client)})
    assert not registry.get(client_id).pre_approved


def test_system_scopes_are_for_backend_services_only(client, seeded_app):
    before = len(ClientRegistry(seeded_app.extensions["store"]).list())
    response = client.post("/apps/new", data={**FORM, "scope": "launch system/*.cruds", "csrf": csrf(client)})
    assert response.status_code == 400
    assert dom(response.text).one("#scope-error").text.endswith(
        "system/ scopes are for backend services (client_credentials with private_key_jwt), not apps a person "
        "authorizes; remove system/*.cruds")
    assert len(ClientRegistry(seeded_app.extensions["store"]).list()) == before


def test_backend_service_with_a_pasted_jwks(client, seeded_app):
    from joserfc.jwk import RSAKey

    key = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS384", "use": "sig"})
    jwks = json.dumps({"keys": [key.as_dict(private=False)]})
    form = {"client_name": "Nightly export", "client_type": "backend", "scope": "system/*.rs", "jwks": jwks,
            "csrf": csrf(client)}
    location = client.post("/apps/new", data=form).headers["Location"]
    app = ClientRegistry(seeded_app.extensions["store"]).get(location.rsplit("/", 1)[1])
    assert app.grant_types == ("client_credentials",) and app.client_type == "backend"


def test_posts_without_the_csrf_token_change_nothing(client, seeded_app):
    before = len(ClientRegistry(seeded_app.extensions["store"]).list())
    assert client.post("/apps/new", data=FORM).status_code == 400
    assert len(ClientRegistry(seeded_app.extensions["store"]).list()) == before


@pytest.mark.parametrize(("change", "field"), [
    ({"redirect_uris": "http://localhost:4000/cb#frag"}, "redirect_uris"),
    ({"launch_uri": "ftp://example.org/launch"}, "launch_uri"),
    ({"client_type": "backend", "scope": "patient/*.rs"}, "scope"),
    ({"client_type": "confidential-asymmetric", "jwks": "{not json"}, "jwks")])
def test_an_error_is_linked_from_the_summary_and_shown_at_its_field(client, change, field):
    response = client.post("/apps/new", data={**FORM, **change, "csrf": csrf(client)})
    assert response.status_code == 400
    page = dom(response.text)
    assert page.one("#error-summary a").attrs["href"] == f"#{field}"
    control = page.one(f"#{field}")
    assert control.attrs["aria-invalid"] == "true"
    assert f"{field}-error" in control.attrs["aria-describedby"]
    assert page.one(f"#{field}-error").text.endswith(page.one("#error-summary a").text)


def test_scope_boxes_edit_the_submitted_scope_list(client):
    page = dom(client.get("/apps/new").text)
    values = [box.attrs["value"] for box in page.select(".scope-groups input[type=checkbox]")]
    assert {"launch", "launch/patient", "openid", "fhirUser", "patient/*.rs", "system/*.rs"} <= set(values)
    assert all("name" not in box.attrs for box in page.select(".scope-groups input"))  # the text box is submitted


def test_test_launch_opens_the_new_app_in_a_patients_chart(client, seeded_app):
    created = client.post("/apps/new", data={**FORM, "client_type": "public", "launch_mode": "embedded",
                                             "scope": "launch launch/patient openid fhirUser patient/*.rs",
                                             "csrf": csrf(client)})
    page = dom(client.get(created.headers["Location"]).text)
    form = page.one(".test-launch form")
    patients = [o.attrs["value"] for o in form.select("select option")]
    assert "story-diabetes" in patients
    launched = client.post(form.attrs["action"], data={"csrf": csrf(client), "client_id": form.one(
        "input[name=client_id]").attrs["value"], "patient": "story-diabetes", "mode": "embedded"})
    assert launched.status_code == 303
    assert "/ehr/patients/story-diabetes/running?launch=" in launched.headers["Location"]
    frame = dom(client.get(launched.headers["Location"]).text).one("iframe")
    assert frame.attrs["src"].startswith("http://localhost:4000/launch?iss=http")
    assert client.post(form.attrs["action"], data={"csrf": csrf(client), "client_id": "x",
                                                   "patient": "nobody"}).status_code == 404
    standalone = page.one(".test-launch a[target=_blank]")
    assert standalone.attrs["href"] == "http://localhost:4000/launch?iss=http%3A%2F%2Flocalhost%2Ffhir"


def test_a_patient_user_is_told_that_clinicians_register_apps(seeded_client):
    sign_in(seeded_client, "lori.mcdonald")
    created = seeded_client.post("/apps/new", data={**FORM, "client_type": "public", "csrf": csrf(seeded_client)})
    patient_user = UserDirectory(seeded_client.application.extensions["store"]).list("patient")[0]
    sign_in(seeded_client, patient_user.username)
    response = seeded_client.get(created.headers["Location"])
    assert response.status_code == 403
    assert "Apps are registered by clinicians" in dom(response.text).one("section.error-card p").text
    for path in ("/apps/", "/apps/new"):
        assert seeded_client.get(path).status_code == 403
    before = len(ClientRegistry(seeded_client.application.extensions["store"]).list())
    posted = seeded_client.post("/apps/new", data={**FORM, "client_type": "backend", "scope": "system/*.cruds",
                                                   "csrf": csrf_of(seeded_client)})
    assert posted.status_code == 403
    assert len(ClientRegistry(seeded_client.application.extensions["store"]).list()) == before


def test_launch_intent_is_kept_and_checked(client, seeded_app):
    created = client.post("/apps/new", data={**FORM, "launch_intent": "reconcile-medications", "csrf": csrf(client)})
    client_id = created.headers["Location"].rsplit("/", 1)[1]
    assert ClientRegistry(seeded_app.extensions["store"]).get(client_id).launch_intent == "reconcile-medications"
    assert dom(client.get(created.headers["Location"]).text).one("#launch_intent").attrs["value"] == \
        "reconcile-medications"
    too_long = client.post("/apps/new", data={**FORM, "launch_intent": "x" * 201, "csrf": csrf(client)})
    assert too_long.status_code == 400
    assert dom(too_long.text).one("#error-summary a").attrs["href"] == "#launch_intent"
