"""Launching apps from the EHR: the app cards, CSRF, embedded launches (post/redirect/get, several side by side),
new-tab launches, the encounter picker, launches with no patient, and the launch state the app bar polls."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from authorize_support import hidden, sign_in
from dom import dom
from ehr_support import HX, STORY, csrf_of, launch_row, session_id_of, story_encounters

from sandbox.auth import launch_context
from sandbox.auth.clients import ClientRegistry

SANDBOX = ("allow-scripts allow-same-origin allow-forms allow-modals allow-popups allow-popups-to-escape-sandbox "
           "allow-downloads")


def launch(clinician, **fields):
    return clinician.post(f"/ehr/patients/{STORY}/launch",
                          data={"csrf": csrf_of(clinician), "client_id": "demo-app", **fields})


def launch_of(frame) -> str:
    return parse_qs(urlsplit(frame.attrs["src"]).query)["launch"][0]


def test_apps_section_offers_launch_and_new_tab_for_apps_with_a_launch_url(clinician, seeded_app):
    ClientRegistry(seeded_app.extensions["store"], "http://localhost").register(
        {"client_name": "No Launch URL App", "redirect_uris": ["http://localhost:4000/cb"],
         "token_endpoint_auth_method": "none", "scope": "launch patient/*.rs"}, client_id="no-launch")
    page = dom(clinician.get(f"/ehr/patients/{STORY}/apps").text)
    cards = {c.one("h3").text: c for c in page.select("li.app-card")}
    assert "Backend Service (example)" not in cards
    demo = cards["Sandbox Demo App"]
    embedded, tab = demo.select("form")
    assert embedded.attrs["method"] == "post" and embedded.attrs["action"] == f"/ehr/patients/{STORY}/launch"
    assert embedded.one("button").attrs["value"] == "embedded" and "primary" in embedded.one("button").classes
    assert tab.attrs["target"] == "_blank" and tab.one("button").attrs["value"] == "tab"
    assert tab.one("button").text.startswith("Open in new tab")
    blocked = cards["No Launch URL App"]
    assert "disabled" in blocked.one("button").attrs
    assert blocked.one(".disabled-reason").text == "No launch URL registered"
    assert launch(clinician, client_id="no-launch").status_code == 400


def test_launch_needs_the_csrf_token(clinician, seeded_app):
    store = seeded_app.extensions["store"]
    before = store.conn.execute("SELECT count(*) FROM launches").fetchone()[0]
    response = clinician.post(f"/ehr/patients/{STORY}/launch", data={"client_id": "demo-app", "mode": "embedded"})
    assert response.status_code == 400
    assert store.conn.execute("SELECT count(*) FROM launches").fetchone()[0] == before


def test_embedded_launch_redirects_to_the_chart_framing_the_app(clinician, seeded_app):
    store = seeded_app.extensions["store"]
    encounter = story_encounters(store)[0]
    clinician.post(f"/ehr/patients/{STORY}/encounter", data={"csrf": csrf_of(clinician), "encounter": encounter["id"]})
    response = launch(clinician, mode="embedded", back="summary")
    assert response.status_code == 303  # post/redirect/get: reloading the page does not launch again
    location = urlsplit(response.headers["Location"])
    assert location.path == f"/ehr/patients/{STORY}/running"
    page = dom(clinician.get(response.headers["Location"]).text)
    frame = page.one("iframe")
    assert frame.attrs["title"] == "SMART app: Sandbox Demo App"
    assert frame.attrs["sandbox"] == SANDBOX
    src = urlsplit(frame.attrs["src"])
    assert f"{src.scheme}://{src.netloc}{src.path}" == "http://localhost/demo/launch.html"
    assert parse_qs(src.query)["iss"] == ["http://localhost/fhir"]
    row = launch_row(store, launch_of(frame))
    launch_id = row["id"]  # the chart's address names the trail id; the app's frame gets the launch's secret
    assert parse_qs(location.query)["launch"] == [launch_id] and launch_of(frame) == row["secret"] != launch_id
    assert row["client_id"] == "demo-app" and row["user_id"] == "lori.mcdonald"
    assert row["session_id"] == session_id_of(clinician)
    assert row["context"] == {"patient": STORY, "encounter": encounter["id"], "need_patient_banner": False,
                              "smart_style_url": "http://localhost/auth/smart-style.json"}
    assert page.one("section.banner h1").text.startswith("JOHNSON, Marcus")  # our banner stays
    chips = [li.text for li in page.select(".app-bar ul.chips li")]
    assert chips[0] == "Patient/story-diabetes" and chips[1].startswith("Encounter/") and "Practitioner/" in chips[2]
    bar_buttons = [b.text for b in page.select(".app-bar button")] + [a.text for a in page.select(".app-bar a")]
    assert any(t.startswith("Reload") for t in bar_buttons) and any(t.startswith("Close") for t in bar_buttons)
    assert any(t.startswith("Open in new tab") for t in bar_buttons)
    assert launch_id[:10] in page.one("footer.statusbar").text
    assert "app-open" in page.one("body").classes


def test_reloading_the_page_of_a_spent_launch_offers_a_new_launch_instead_of_the_app(clinician, seeded_app):
    running_url = launch(clinician, mode="embedded", without_encounter="1").headers["Location"]
    launch_id = parse_qs(urlsplit(running_url).query)["launch"][0]
    secret = launch_row(seeded_app.extensions["store"], launch_id)["secret"]
    launch_context.take(seeded_app.extensions["store"], secret, "demo-app")  # the app used it
    page = dom(clinician.get(running_url).text)
    assert page.select("iframe") == []
    assert "already used this launch" in page.one(".frame-used").text
    reload_form = next(f for f in page.select(".app-bar form") if f.one("button").text.startswith("Reload"))
    assert reload_form.one("input[name=replace]").attrs["value"] == launch_id


def test_an_app_opens_beside_a_running_one_without_relaunching_it(clinician, seeded_app):
    ClientRegistry(seeded_app.extensions["store"], "http://localhost").register(
        {"client_name": "Second App", "redirect_uris": ["http://localhost:4000/cb"], "launch_uri":
         "http://localhost:4000/launch", "token_endpoint_auth_method": "none", "scope": "launch patient/*.rs"},
        client_id="second-app")
    running_url = launch(clinician, mode="embedded", without_encounter="1").headers["Location"]
    first = parse_qs(urlsplit(running_url).query)["launch"][0]
    page = dom(clinician.get(running_url).text)
    beside = page.one("#open-beside form")
    assert "second-app" in [o.attrs["value"] for o in beside.select("option")]
    assert "demo-app" not in [o.attrs["value"] for o in beside.select("option")]  # already open
    response = clinician.post(beside.attrs["action"], headers={**HX, "HX-Current-URL": f"http://localhost{running_url}"},
                              data={"csrf": csrf_of(clinician), "client_id": "second-app", "mode": "embedded",
                                    "without_encounter": "1", "back": "apps"})
    assert response.status_code == 200
    fragment = dom(response.text)
    frames = fragment.select("iframe")
    assert [f.attrs["title"] for f in frames] == ["SMART app: Second App"]  # only the new pane is sent
    second = launch_row(seeded_app.extensions["store"], launch_of(frames[0]))["id"]
    assert parse_qs(urlsplit(response.headers["HX-Push-Url"]).query)["launch"] == [first, second]
    assert fragment.one("#open-beside").attrs["hx-swap-oob"] == "true"
    both = dom(clinician.get(response.headers["HX-Push-Url"]).text)
    assert len(both.select(".app-pane")) == 2


def test_new_tab_launch_redirects_to_the_launch_url_with_a_banner_requested(clinician, seeded_app):
    response = launch(clinician, mode="tab", without_encounter="1")
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert location.path == "/demo/launch.html"
    launch_id = parse_qs(location.query)["launch"][0]
    context = launch_row(seeded_app.extensions["store"], launch_id)["context"]
    assert context == {"patient": STORY, "need_patient_banner": True,
                       "smart_style_url": "http://localhost/auth/smart-style.json"}


def test_an_app_that_takes_an_encounter_gets_the_picker_when_none_is_in_context(clinician, seeded_app):
    store = seeded_app.extensions["store"]
    before = store.conn.execute("SELECT count(*) FROM launches").fetchone()[0]
    response = launch(clinician, mode="embedded", back="problems")
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == f"/ehr/patients/{STORY}/launch/demo-app/encounter"
    assert store.conn.execute("SELECT count(*) FROM launches").fetchone()[0] == before  # nothing launched yet
    page = dom(clinician.get(response.headers["Location"]).text)
    dialog = page.one("dialog#encounter-picker")
    assert "Sandbox Demo App" in dialog.one("h2").text
    radios = dialog.select("input[type=radio]")
    newest, older = story_encounters(store)[:2]
    assert radios[0].attrs["value"] == newest["id"] and "checked" in radios[0].attrs  # most recent preselected
    assert [b.text for b in dialog.select("button")] == ["Launch with this encounter", "Launch without an encounter"]
    assert page.one("section.card h2")  # the chart section stays under the dialog
    chosen = clinician.post(dialog.one("form").attrs["action"], data={
        "csrf": csrf_of(clinician), "client_id": "demo-app", "mode": "embedded", "back": "problems",
        "encounter": older["id"]})
    launch_id = parse_qs(urlsplit(chosen.headers["Location"]).query)["launch"][0]
    assert launch_row(store, launch_id)["context"]["encounter"] == older["id"]
    chart = dom(clinician.get(f"/ehr/patients/{STORY}").text)
    assert older["id"] in chart.one("footer.statusbar").text  # the choice is now the chart's encounter in context


def test_the_picker_refuses_another_patients_encounter(clinician, seeded_app):
    from sandbox.ehr import records

    elsewhere = records.resources(records.of_patient(seeded_app.extensions["store"], "Encounter", "story-elderly"))[0]
    response = launch(clinician, mode="embedded", encounter=elsewhere["id"])
    assert response.status_code == 400 and "does not belong to this patient" in response.text


def test_the_apps_authorize_request_goes_to_consent_without_a_second_sign_in(clinician):
    response = launch(clinician, mode="tab", without_encounter="1")
    launch_id = parse_qs(urlsplit(response.headers["Location"]).query)["launch"][0]
    from authorize_support import authorize_params

    authorize = clinician.get("/auth/authorize", query_string=authorize_params(launch=launch_id, scope=(
        "openid fhirUser launch patient/*.rs")))
    assert authorize.status_code == 302
    assert urlsplit(authorize.headers["Location"]).path == "/auth/authorize/consent"  # demo-app is not pre-approved
    consent = clinician.get(authorize.headers["Location"])
    assert "JOHNSON, Marcus Anthony" in dom(consent.text).one("main").text
    assert hidden(consent.text, "csrf")


def test_launch_state_polls_until_the_app_uses_its_launch(clinician, seeded_app):
    store = seeded_app.extensions["store"]
    page = dom(clinician.get(launch(clinician, mode="embedded", without_encounter="1").headers["Location"]).text)
    launch_id = launch_row(store, launch_of(page.one("iframe")))["id"]
    poll = page.one(f"#launch-state-{launch_id}")
    assert poll.attrs["hx-trigger"] == "every 2s"
    hint = f"#launch-hint-{launch_id}"
    waiting = clinician.get(poll.attrs["hx-get"], headers=HX)
    assert waiting.status_code == 200 and "Launching" in waiting.text
    assert dom(waiting.text).one(hint).text == ""
    with store.transaction() as conn:
        conn.execute("UPDATE launches SET created_at = created_at - 20 WHERE id = ?", (launch_id,))
    slow = dom(clinician.get(poll.attrs["hx-get"], headers=HX).text)
    assert slow.one(hint).attrs["hx-swap-oob"] == "true"
    assert "may refuse to be framed" in slow.one(hint).text
    # the app uses its launch: the bar follows the authorization's real steps
    from authorize_support import authorize_params, exchange, query_of

    authorize = clinician.get("/auth/authorize", query_string=authorize_params(
        launch=launch_row(store, launch_id)["secret"], scope="openid fhirUser launch patient/*.rs"))
    consent = clinician.get(authorize.headers["Location"])
    asking = clinician.get(poll.attrs["hx-get"], headers=HX)
    assert asking.status_code == 200 and "Waiting for consent" in asking.text
    assert dom(asking.text).one(hint).text == ""
    done = clinician.post("/auth/authorize/consent", data={
        "request": hidden(consent.text, "request"), "csrf": hidden(consent.text, "csrf"), "decision": "approve"})
    authorized = clinician.get(poll.attrs["hx-get"], headers=HX)
    assert authorized.status_code == 200 and "Exchanging the code" in authorized.text
    assert exchange(clinician, query_of(done.headers["Location"])["code"]).status_code == 200
    running = clinician.get(poll.attrs["hx-get"], headers=HX)
    assert running.status_code == 286 and "Running" in running.text
    with store.transaction() as conn:
        conn.execute("UPDATE launches SET used_at = NULL, expires_at = 1 WHERE id = ?", (launch_id,))
    expired = clinician.get(poll.attrs["hx-get"], headers=HX)
    assert expired.status_code == 286 and "Failed" in expired.text
    assert "expired" in dom(expired.text).one(hint).text
    other = seeded_app.test_client()
    sign_in(other, "susan.glenn")
    assert "not known" in other.get(poll.attrs["hx-get"], headers=HX).text
    assert other.get(f"/ehr/patients/{STORY}/running?launch={launch_id}").status_code == 404  # not their launch


def test_global_gallery_asks_for_a_patient_or_launches_with_none(clinician, seeded_app):
    page = dom(clinician.get("/ehr/apps").text)
    demo = next(c for c in page.select("li.app-card") if c.one(".app-name").text == "Sandbox Demo App")
    assert demo.one("a.button").attrs["href"] == "/ehr/patients"
    assert [b.text for b in demo.select(".tags .badge")][:3] == ["Clinician", "Patient", "EHR launch"]
    form = demo.one("form")
    assert form.one("button").text.startswith("Launch without a patient")
    response = clinician.post(form.attrs["action"], data={"csrf": csrf_of(clinician), "client_id": "demo-app",
                                                          "mode": "embedded"})
    assert response.status_code == 303
    page = dom(clinician.get(response.headers["Location"]).text)
    launch_id = launch_of(page.one("iframe"))
    context = launch_row(seeded_app.extensions["store"], launch_id)["context"]
    assert "patient" not in context and context["need_patient_banner"] is False
    assert page.select("section.banner") == []
    assert "No patient" in [li.text for li in page.select(".app-bar ul.chips li")]


def test_close_returns_to_the_section_the_launch_came_from(clinician):
    page = dom(clinician.get(launch(clinician, mode="embedded", without_encounter="1", back="labs")
                             .headers["Location"]).text)
    close = next(a for a in page.select(".app-bar a") if a.text.startswith("Close"))
    assert close.attrs["href"] == f"/ehr/patients/{STORY}/labs"


def test_launch_types_bring_fhir_context_and_the_apps_intent(clinician, seeded_app):
    store = seeded_app.extensions["store"]
    ClientRegistry(store, "http://localhost").register(
        {"client_name": "Lab Reviewer", "redirect_uris": ["http://localhost:4000/cb"], "launch_uri":
         "http://localhost:4000/launch", "token_endpoint_auth_method": "none", "launch_intent": "review-labs",
         "scope": "launch launch/DiagnosticReport launch/MedicationRequest launch/Questionnaire patient/*.rs"},
        client_id="lab-reviewer")
    response = launch(clinician, client_id="lab-reviewer", mode="tab")
    context = launch_row(store, parse_qs(urlsplit(response.headers["Location"]).query)["launch"][0])["context"]
    assert context["intent"] == "review-labs"
    newest_report = store.conn.execute(
        "SELECT json FROM resources WHERE type = 'DiagnosticReport' AND json LIKE ? ",
        (f'%"Patient/{STORY}"%',)).fetchall()
    newest = max((json.loads(r[0]) for r in newest_report), key=lambda r: r.get("effectiveDateTime", ""))
    references = [item["reference"] for item in context["fhirContext"]]
    assert references[0] == f"DiagnosticReport/{newest['id']}"
    assert references[1].startswith("MedicationRequest/")
    assert len(references) == 2  # the patient has no Questionnaire: nothing is made up


def test_a_report_or_note_opens_in_an_app_as_its_fhir_context(clinician, seeded_app):
    store = seeded_app.extensions["store"]
    ClientRegistry(store, "http://localhost").register(
        {"client_name": "Report Viewer", "redirect_uris": ["http://localhost:4000/cb"], "launch_uri":
         "http://localhost:4000/launch", "token_endpoint_auth_method": "none",
         "scope": "launch launch/DiagnosticReport launch/DocumentReference patient/*.rs"}, client_id="report-viewer")
    labs = dom(clinician.get(f"/ehr/patients/{STORY}/labs").text)
    forms = labs.select("details.panel form.open-with")
    assert forms and forms[0].one("button").text == "Open this report in Report Viewer"
    older = forms[1].one("input[name=context]").attrs["value"]
    assert older.startswith("DiagnosticReport/")
    fields = {i.attrs["name"]: i.attrs["value"] for i in forms[1].select("input")}
    response = clinician.post(forms[1].attrs["action"], data={**fields, "csrf": csrf_of(clinician),
                                                              "mode": "embedded"})
    assert response.status_code == 303  # the app takes no encounter: no picker
    launch_id = parse_qs(urlsplit(response.headers["Location"]).query)["launch"][0]
    assert launch_row(store, launch_id)["context"]["fhirContext"][0] == {"reference": older}  # not the newest

    notes = dom(clinician.get(f"/ehr/patients/{STORY}/notes").text)
    note_form = notes.one("#note-reader form.open-with")
    assert note_form.one("input[name=context]").attrs["value"].startswith("DocumentReference/")

    from sandbox.ehr import records

    elsewhere = records.resources(records.of_patient(store, "DiagnosticReport", "story-elderly"))[0]
    refused = launch(clinician, client_id="report-viewer", context=f"DiagnosticReport/{elsewhere['id']}")
    assert refused.status_code == 400 and "be opened in this app" in refused.text
    not_allowed = launch(clinician, client_id="demo-app", context=older, without_encounter="1")
    assert not_allowed.status_code == 400 and "launch/DiagnosticReport" in not_allowed.text


def test_opening_beside_ignores_a_launch_in_the_address_that_is_not_yours(clinician, seeded_app):
    other = seeded_app.test_client()
    sign_in(other, "susan.glenn")
    theirs = parse_qs(urlsplit(other.post(f"/ehr/patients/{STORY}/launch", data={
        "csrf": csrf_of(other), "client_id": "demo-app", "mode": "embedded", "without_encounter": "1"})
        .headers["Location"]).query)["launch"][0]
    response = clinician.post(f"/ehr/patients/{STORY}/launch", data={
        "csrf": csrf_of(clinician), "client_id": "demo-app", "mode": "embedded", "without_encounter": "1"},
        headers={**HX, "HX-Current-URL": f"http://localhost/ehr/patients/{STORY}/running?launch={theirs}"})
    assert response.status_code == 200
    frames = dom(response.text).select("iframe")
    assert len(frames) == 1 and launch_of(frames[0]) != theirs


def test_launch_state_names_the_patient_picker_and_a_denial(clinician, seeded_app):
    from authorize_support import authorize_params

    store = seeded_app.extensions["store"]
    made = clinician.post("/ehr/apps/launch", data={"csrf": csrf_of(clinician), "client_id": "demo-app",
                                                    "mode": "embedded"})
    launch_id = parse_qs(urlsplit(made.headers["Location"]).query)["launch"][0]
    state_url = f"/ehr/launches/{launch_id}/state"
    picker = clinician.get("/auth/authorize", query_string=authorize_params(
        launch=launch_row(store, launch_id)["secret"], scope="openid fhirUser launch launch/patient patient/*.rs"))
    assert urlsplit(picker.headers["Location"]).path == "/auth/authorize/patient"
    assert "Choosing a patient" in clinician.get(state_url, headers=HX).text
    page = clinician.get(picker.headers["Location"])
    chosen = clinician.post("/auth/authorize/patient", data={
        "request": hidden(page.text, "request"), "csrf": hidden(page.text, "csrf"), "patient": STORY})
    consent = clinician.get(chosen.headers["Location"])
    clinician.post("/auth/authorize/consent", data={
        "request": hidden(consent.text, "request"), "csrf": hidden(consent.text, "csrf"), "decision": "deny"})
    denied = clinician.get(state_url, headers=HX)
    assert denied.status_code == 286 and "Access denied" in denied.text


def test_a_patient_picked_in_the_frame_of_a_population_launch_needs_the_apps_banner(clinician, seeded_app):
    from authorize_support import authorize_params, exchange, query_of

    store = seeded_app.extensions["store"]
    made = clinician.post("/ehr/apps/launch", data={"csrf": csrf_of(clinician), "client_id": "demo-app",
                                                    "mode": "embedded"})
    launch_id = parse_qs(urlsplit(made.headers["Location"]).query)["launch"][0]
    assert launch_row(store, launch_id)["context"]["need_patient_banner"] is False  # no patient, no banner
    picker = clinician.get("/auth/authorize", query_string=authorize_params(
        launch=launch_row(store, launch_id)["secret"], scope="openid fhirUser launch launch/patient patient/*.rs"))
    page = clinician.get(picker.headers["Location"])
    chosen = clinician.post("/auth/authorize/patient", data={
        "request": hidden(page.text, "request"), "csrf": hidden(page.text, "csrf"), "patient": STORY})
    consent = clinician.get(chosen.headers["Location"])
    done = clinician.post("/auth/authorize/consent", data={
        "request": hidden(consent.text, "request"), "csrf": hidden(consent.text, "csrf"), "decision": "approve"})
    body = exchange(clinician, query_of(done.headers["Location"])["code"]).json
    assert body["patient"] == STORY and body["need_patient_banner"] is True
