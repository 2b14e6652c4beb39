"""The patient portal at /portal: sign-in for patients and family members, their own record only (whatever the
address or form says), everyday words and long dates, escaping, portal launches of patient-facing apps, connected
apps, and standalone patient launches signing in here. Checked with selectors on the HTML."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from authorize_support import DEMO_REDIRECT, authorize_params, exchange, follow, hidden, query_of, sign_in
from dom import dom

from sandbox import formatting
from sandbox.auth.users import UserDirectory

OWN = "story-diabetes"  # Marcus Johnson's record
OTHERS = {"story-child": "Nguyen", "story-pregnancy": "Martinez", "story-elderly": "Whitfield",
          "story-inpatient": "Kowalski"}
PAGES = ["/portal", "/portal/results", "/portal/medicines", "/portal/apps", "/portal/connected-apps"]
SHORT_DATE = re.compile(r"\b\d{2}-[A-Z][a-z]{2}-\d{4}\b")


pytestmark = pytest.mark.seeded  # client and store work on the seeded database


@pytest.fixture
def family(store):
    """A family member (RelatedPerson) of Lily Nguyen, the story child."""
    store.update({"resourceType": "RelatedPerson", "id": "rp-mother", "patient": {"reference": "Patient/story-child"},
                  "relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                                                "code": "MTH"}]}],
                  "name": [{"family": "Nguyen", "given": ["Thi"]}]})
    return UserDirectory(store).create("thi.nguyen", "Thi Nguyen", "related-person", "RelatedPerson/rp-mother")


def portal_sign_in(client, username="marcus.johnson", next_url=None, **form):
    page = client.get("/portal/login", query_string={"next": next_url} if next_url else {})
    data = {"csrf": hidden(page.text, "csrf"), "next": hidden(page.text, "next"), "username": username, **form}
    return client.post("/portal/login", data=data)


def csrf_of(client) -> str:
    with client.session_transaction() as session:
        return session["csrf"]


def session_id_of(client) -> str | None:
    with client.session_transaction() as session:
        return session.get("sandbox_session")


def main_text(response) -> str:
    return dom(response.text).one("main").text


# -- sign-in ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*PAGES, "/portal/choose"])
def test_every_page_needs_a_signed_in_user(client, path):
    response = client.get(path)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/portal/login" and parse_qs(location.query)["next"] == [path]


def test_the_sign_in_page_offers_patients_and_family_members_only(client, family):
    response = client.get("/portal/login")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == "frame-ancestors 'self'"
    page = dom(response.text)
    assert page.one("p.lead").text.startswith("Sandbox sign-in: no password needed")
    cards = page.select("button.persona")
    assert [c.attrs["value"] for c in cards] == ["marcus.johnson", "lily.nguyen", "sofia.martinez",
                                                 "eleanor.whitfield", "walter.kowalski", "denise.johnson",
                                                 "hoa.nguyen", "luis.martinez", "margaret.whitfield",
                                                 "daniel.kowalski", "thi.nguyen"]
    first, last = ([s.text for s in c.select("span")] for c in (cards[0], cards[-1]))
    assert first == ["Mr. Marcus Anthony Johnson", "Patient", "Patient/story-diabetes"]
    assert last == ["Thi Nguyen", "Family member of Lily Nguyen", "RelatedPerson/rp-mother"]
    assert not page.select('input[name="password"]')  # nobody here was given a password
    other = page.one("p.p-other a")
    assert other.attrs["href"] == "/auth/login?next=/portal"


def test_one_click_signs_in_and_lands_on_my_health(client):
    response = portal_sign_in(client)
    assert response.status_code == 302 and response.headers["Location"] == "/portal"
    assert session_id_of(client)


@pytest.mark.parametrize("next_url", ["//evil.example/x", "/\\evil.example", "http://evil.example/", "evil.example"])
def test_sign_in_never_redirects_off_site(client, next_url):
    page = client.get("/portal/login")
    response = client.post("/portal/login", data={"csrf": hidden(page.text, "csrf"), "username": "marcus.johnson",
                                                  "next": next_url})
    assert response.status_code == 302 and response.headers["Location"] == "/portal"


def test_a_user_given_a_password_gets_a_password_field_and_needs_it(client, store):
    UserDirectory(store).set_password("marcus.johnson", "correct horse")
    page = dom(client.get("/portal/login").text)
    card = page.one("form.persona-password")
    assert card.one('input[name="username"]').attrs["value"] == "marcus.johnson"
    assert card.one('input[name="password"]').attrs["type"] == "password"
    assert "marcus.johnson" not in [b.attrs.get("value") for b in page.select("button.persona")]
    assert portal_sign_in(client, password="wrong").status_code == 401
    assert session_id_of(client) is None
    assert portal_sign_in(client, password="correct horse").status_code == 302


def test_a_clinician_cannot_sign_in_here(client):
    response = portal_sign_in(client, "lori.mcdonald")
    assert response.status_code == 403
    assert "Clinicians sign in on the clinician sign-in page" in dom(response.text).one(".error-summary").text
    assert session_id_of(client) is None


def test_failed_sign_ins_are_rate_limited(seeded_app):
    seeded_app.config["RATE_LIMIT_FAILURES"] = 2
    client = seeded_app.test_client()
    assert portal_sign_in(client, "nobody").status_code == 401
    assert portal_sign_in(client, "nobody").status_code == 401
    blocked = portal_sign_in(client, "marcus.johnson")
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers


def test_a_clinician_opening_the_portal_is_told_kindly_to_switch_user(client):
    sign_in(client, "lori.mcdonald")
    response = client.get("/portal")
    assert response.status_code == 403
    page = dom(response.text)
    assert page.one("h1").text == "The patient portal is for patients"
    assert "You are signed in as Dr. Lori McDonald, a clinician" in page.one("main p").text
    switch = page.one("main a")
    assert (switch.text, switch.attrs["href"]) == ("Switch user", "/portal/login?next=/portal")


def test_sign_out_ends_the_session_and_returns_to_the_portal_sign_in(client):
    portal_sign_in(client)
    form = dom(client.get("/portal").text).one("header.topbar form")
    assert form.attrs["action"] == "/auth/logout"
    out = client.post("/auth/logout", data={"csrf": form.one('input[name="csrf"]').attrs["value"],
                                            "next": form.one('input[name="next"]').attrs["value"]})
    assert out.headers["Location"] == "/portal/login"
    assert client.get("/portal").status_code == 302


# -- the record ------------------------------------------------------------------------------------------------------


def test_my_health_is_the_persons_own_summary_in_everyday_words(client):
    portal_sign_in(client)
    response = client.get("/portal")
    page = dom(response.text)
    assert page.one("header.topbar .portal-who").text == "Marcus Johnson"
    assert not page.select(".banner")  # no clinical banner
    assert [a.text for a in page.select("nav.portal-nav a")] == ["My health", "Test results", "Medicines", "Apps",
                                                                "Connected apps"]
    assert page.one('nav.portal-nav a[aria-current="page"]').text == "My health"
    assert [h.text for h in page.select("main h2")] == ["Health conditions", "Allergies", "Visits",
                                                        "Latest vital signs", "Test results", "Medicines"]
    conditions = [li.text for li in page.one('section[aria-labelledby="h-conditions"]').select("li")]
    assert "Type 2 diabetes Since 2 June 2020" in conditions
    assert "No known allergies" in page.one('section[aria-labelledby="h-allergies"]').text
    vitals = {v.one("dt").text: v for v in page.select(".p-vital")}
    pressure = vitals["Blood pressure"]
    assert pressure.one(".p-value").text == "142/88" and pressure.one(".p-flag").text == "▲ High"
    assert pressure.one('.p-flag span[aria-hidden="true"]').text == "▲"
    assert "Usual range below 140/90" in pressure.text
    assert {"Heart rate", "Breathing rate", "Oxygen level", "Body mass index"} <= set(vitals)
    assert "Measured on 18 March 2026" in page.one('section[aria-labelledby="h-vitals"]').text
    visits = page.one('section[aria-labelledby="h-visits"]')
    assert "No upcoming visits are booked." in visits.text
    assert visits.select("li")[0].text.startswith("18 March 2026 at 09:00 Follow-up visit · Clinic visit")
    assert not SHORT_DATE.search(page.one("main").text)


def test_test_results_say_high_and_low_in_words_beside_normal_ranges(client):
    portal_sign_in(client)
    page = dom(client.get("/portal/results").text)
    panel = page.one("section.p-panel")
    assert panel.one("h2").text == "Hemoglobin A1c" and "18 March 2026" in panel.one(".p-card-head").text
    row = panel.one("tbody tr")
    assert [c.text for c in row.children if not isinstance(c, str)] == ["Hemoglobin A1c", "9.2 % ▲ High", "4.0–5.6 %"]
    assert "p-row-abnormal" in row.classes
    assert panel.one(".p-outside").text == "1 result is outside the normal range."
    words = {f.text.split(" ", 1)[1] for f in page.select(".p-flag")}
    assert words <= {"High", "Low", "Very high", "Very low", "Abnormal"} and "High" in words
    assert "Showing the 20 most recent of 31 test reports." in page.one("main").text
    assert not SHORT_DATE.search(page.one("main").text)


def test_medicines_taken_now_with_what_they_are_for(client):
    portal_sign_in(client)
    page = dom(client.get("/portal/medicines").text)
    current = [li.text for li in page.one('section[aria-labelledby="h-current"]').select("li")]
    assert ("Metformin ER 500 mg tablet Take 2 tablets by mouth once daily with the evening meal For Type 2 diabetes "
            "· Started 2 June 2020 · Prescribed by Dr. Lori McDonald") in current


def test_long_dates():
    assert formatting.long_date("2024-09-09") == "9 September 2024"
    assert formatting.long_date("2026-03-18T09:05:00-05:00") == "18 March 2026"
    assert formatting.long_date("2024-09") == "September 2024"
    assert formatting.long_date("2024") == "2024"
    assert formatting.long_date(None) == formatting.long_date("2024-13") == "Not known"


# -- one record only -------------------------------------------------------------------------------------------------


def test_a_patient_never_sees_another_patients_record_whatever_the_address_says(client, store):
    portal_sign_in(client)
    with client.session_transaction() as session:
        session["portal_patient"] = {"marcus.johnson": "story-child"}  # a forged choice is ignored
    for path in PAGES:
        for other in OTHERS:
            response = client.get(path, query_string={"patient": other, "patient_id": other})
            assert response.status_code == 200
            text = response.text
            assert not any(name in text or rid in text for rid, name in OTHERS.items()), (path, other)
    chosen = client.post("/portal/choose", data={"csrf": csrf_of(client), "patient": "story-child"})
    assert chosen.status_code == 302 and chosen.headers["Location"] == "/portal"
    assert "Marcus" in main_text(client.get("/portal"))
    opened = client.post("/portal/apps/open", data={"csrf": csrf_of(client), "client_id": "demo-app",
                                                     "patient": "story-child"})
    launch = query_of(opened.headers["Location"])["launch"]
    context = store.conn.execute("SELECT context FROM launches WHERE secret = ?", (launch,)).fetchone()[0]
    assert '"patient": "story-diabetes"' in context


def test_a_family_member_sees_the_linked_patient(client, family):
    portal_sign_in(client, "thi.nguyen")
    page = dom(client.get("/portal").text)
    assert page.one("header.topbar .portal-who").text == "Thi Nguyen · Family member"
    assert page.one("p.viewing").text == "You are looking at the record of Lily Nguyen, as a family member."
    assert page.one("main h1").text == "Lily Nguyen's health"
    assert "Marcus" not in page.one("main").text
    assert "to Lily" in main_text(client.get("/portal/medicines"))


def test_a_family_member_of_several_patients_chooses_whose_record(client, family, monkeypatch):
    # A RelatedPerson links one patient today; a user linked to several gets the chooser.
    from sandbox.portal import views

    monkeypatch.setattr(views, "patients_of", lambda store, user: ("story-child", "story-pregnancy"))
    portal_sign_in(client, "thi.nguyen")
    first = client.get("/portal/results")
    assert first.status_code == 302 and first.headers["Location"] == "/portal/choose?next=/portal/results"
    chooser = dom(client.get("/portal/choose?next=/portal/results").text)
    assert [b.attrs["value"] for b in chooser.select("button.persona")] == ["story-child", "story-pregnancy"]
    assert chooser.one("button.persona .persona-name").text == "Lily Nguyen"
    refused = client.post("/portal/choose", data={"csrf": csrf_of(client), "patient": "story-elderly"})
    assert refused.status_code == 403
    assert client.post("/portal/choose", data={"patient": "story-pregnancy"}).status_code == 400  # no CSRF token
    picked = client.post("/portal/choose", data={"csrf": csrf_of(client), "patient": "story-pregnancy",
                                                 "next": "/portal/results"})
    assert picked.status_code == 303 and picked.headers["Location"] == "/portal/results"
    page = dom(client.get("/portal").text)
    assert "Sofia Martinez" in page.one("p.viewing").text
    assert page.one("p.viewing a").attrs["href"] == "/portal/choose?next=/portal"


def test_a_family_member_without_a_linked_record_is_told_so(client, store):
    UserDirectory(store).create("lost.relative", "Lost Relative", "related-person", "RelatedPerson/nobody")
    portal_sign_in(client, "lost.relative")
    response = client.get("/portal")
    assert response.status_code == 404
    assert dom(response.text).one("h1").text == "There is no health record to show"


def test_everything_from_the_record_is_escaped(client, store):
    condition = {"resourceType": "Condition", "id": "escape-me", "subject": {"reference": f"Patient/{OWN}"},
                 "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                                "code": "active"}]},
                 "code": {"text": "<script>alert('condition')</script>"}, "onsetDateTime": "2026-01-05"}
    store.update(condition)
    UserDirectory(store).create("mallory", "<img src=x onerror=alert(1)>", "patient", f"Patient/{OWN}")
    portal_sign_in(client)
    home = client.get("/portal").text
    assert "<script>alert" not in home and "&lt;script&gt;alert(&#39;condition&#39;)&lt;/script&gt;" in home
    login = client.get("/portal/login").text
    assert "<img src=x" not in login and "&lt;img src=x onerror=alert(1)&gt;" in login


# -- apps ------------------------------------------------------------------------------------------------------------


def register(client, **metadata) -> str:
    response = client.post("/auth/register", json={"token_endpoint_auth_method": "none",
                                                   "redirect_uris": ["https://app.example/cb"], **metadata})
    assert response.status_code == 201, response.text
    return response.json["client_id"]


def test_the_apps_page_lists_patient_facing_apps_with_a_launch_url(client):
    register(client, client_name="Clinic Board", scope="launch user/*.rs", launch_uri="https://board.example/launch")
    register(client, client_name="No Launch URL", scope="launch/patient patient/*.rs")
    register(client, client_name="My Steps", scope="launch launch/patient patient/Observation.rs",
             launch_uri="https://steps.example/launch")
    portal_sign_in(client)
    page = dom(client.get("/portal/apps").text)
    names = [h.text for h in page.select("li.p-app h2")]
    assert "Sandbox Demo App" in names and "My Steps" in names
    assert "Clinic Board" not in names and "No Launch URL" not in names
    steps = next(a for a in page.select("li.p-app") if a.one("h2").text == "My Steps")
    assert [li.text for li in steps.select("ul.p-sees li")] == [
        "Read and search your lab results, vital signs and other observations"]
    form = steps.one("form")
    assert (form.attrs["method"], form.attrs["action"], form.attrs["target"]) == ("post", "/portal/apps/open",
                                                                                 "_blank")
    assert form.one("button").text.startswith("Open My Steps (opens in a new tab)")


def test_an_app_that_is_not_patient_facing_cannot_be_opened(client):
    board = register(client, client_name="Clinic Board", scope="launch user/*.rs",
                     launch_uri="https://board.example/launch")
    portal_sign_in(client)
    response = client.post("/portal/apps/open", data={"csrf": csrf_of(client), "client_id": board})
    assert response.status_code == 404


@pytest.mark.parametrize("csrf", [None, "", "forged"])
def test_opening_an_app_needs_the_pages_csrf_token(client, store, csrf):
    portal_sign_in(client)
    before = store.conn.execute("SELECT count(*) FROM launches").fetchone()[0]
    form = {"client_id": "demo-app", **({"csrf": csrf} if csrf is not None else {})}
    response = client.post("/portal/apps/open", data=form)
    assert response.status_code == 400 and "security token did not match" in response.text
    assert store.conn.execute("SELECT count(*) FROM launches").fetchone()[0] == before


def test_a_portal_launch_gives_the_app_the_persons_own_record(client, store):
    portal_sign_in(client)
    response = client.post("/portal/apps/open", data={"csrf": csrf_of(client), "client_id": "demo-app"})
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("http://localhost/demo/launch.html?")
    params = query_of(location)
    assert params["iss"] == "http://localhost/fhir"
    client_id, user_id, session_id, context = store.conn.execute(
        "SELECT client_id, user_id, session_id, context FROM launches WHERE secret = ?", (params["launch"],)).fetchone()
    assert (client_id, user_id, session_id) == ("demo-app", "marcus.johnson", session_id_of(client))
    assert context == ('{"patient": "story-diabetes", "need_patient_banner": true, '
                       '"smart_style_url": "http://localhost/auth/smart-style.json"}')

    consent = follow(client, client.get("/auth/authorize", query_string=authorize_params(
        launch=params["launch"], scope="openid fhirUser launch patient/*.rs")))
    assert "Allow Sandbox Demo App" in consent.text
    done = client.post("/auth/authorize/consent", data={"request": hidden(consent.text, "request"),
                                                         "csrf": hidden(consent.text, "csrf"), "decision": "approve",
                                                         "type": "*"})
    assert done.headers["Location"].startswith(DEMO_REDIRECT)
    token = exchange(client, query_of(done.headers["Location"])["code"]).json
    assert (token["patient"], token["need_patient_banner"]) == (OWN, True)
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert client.get(f"/fhir/Patient/{OWN}", headers=bearer).json["name"][0]["family"] == "Johnson"
    assert client.get("/fhir/Patient/story-child", headers=bearer).status_code in (403, 404)


def test_connected_apps_lists_grants_and_revoking_comes_back_here(client):
    portal_sign_in(client)
    consent = follow(client, client.get("/auth/authorize", query_string=authorize_params()))
    done = client.post("/auth/authorize/consent", data={"request": hidden(consent.text, "request"),
                                                         "csrf": hidden(consent.text, "csrf"), "decision": "approve",
                                                         "type": "*"})
    assert exchange(client, query_of(done.headers["Location"])["code"]).status_code == 200
    page = dom(client.get("/portal/connected-apps").text)
    card = page.one("li.p-connection")
    assert card.one("h2").text == "Sandbox Demo App" and card.one(".p-state").text == "Active"
    assert re.fullmatch(r"Connected on \d{1,2} [A-Z][a-z]+ \d{4} at \d{2}:\d{2} · (not used yet|last used .*)",
                        card.one("p.p-meta").text)
    form = card.one("form.p-revoke")
    assert form.attrs["action"] == "/auth/manage"
    assert "The app will have to ask for authorization again." in card.one("dialog").text
    revoked = client.post("/auth/manage", data={name: form.one(f'input[name="{name}"]').attrs["value"]
                                                for name in ("csrf", "family", "next")})
    assert revoked.headers["Location"] == "/portal/connected-apps"
    assert dom(client.get("/portal/connected-apps").text).one(".p-state").text == "Revoked"


# -- standalone launches ----------------------------------------------------------------------------------------------


def test_a_standalone_patient_launch_signs_in_at_the_portal_and_goes_on_to_consent(client):
    response = client.get("/auth/authorize", query_string=authorize_params())
    location = urlsplit(response.headers["Location"])
    assert location.path == "/portal/login"
    next_url = parse_qs(location.query)["next"][0]
    assert next_url.startswith("/auth/authorize/resume?request=")
    page = dom(client.get(response.headers["Location"]).text)
    assert page.one(".asking .app-name").text == "Sandbox Demo App"
    assert page.one('input[name="next"]').attrs["value"] == next_url
    assert page.one("p.p-other a").attrs["href"].startswith("/auth/login?next=/auth/authorize/resume")
    consent = follow(client, portal_sign_in(client, next_url=next_url))
    assert "Allow Sandbox Demo App" in consent.text and "your" in consent.text
    done = client.post("/auth/authorize/consent", data={"request": hidden(consent.text, "request"),
                                                         "csrf": hidden(consent.text, "csrf"), "decision": "approve",
                                                         "type": "*"})
    assert exchange(client, query_of(done.headers["Location"])["code"]).json["patient"] == OWN


@pytest.mark.parametrize("scope", ["openid fhirUser launch/patient user/*.rs",
                                   "openid fhirUser launch/patient patient/*.rs user/Patient.rs",
                                   "openid fhirUser user/*.rs"])
def test_other_standalone_launches_still_sign_in_at_the_clinician_page(client, scope):
    response = client.get("/auth/authorize", query_string=authorize_params(scope=scope))
    assert urlsplit(response.headers["Location"]).path == "/auth/login"
