"""The consent page and the pickers before it: scopes in plain words with a checkbox per resource type, the granted
scope narrowed by what the person unchecked, whose record is in context (a clinician picks, a patient gets their
own, a family member the linked patient), no step skipped or redone, and every decision in the audit trail."""

from __future__ import annotations

import pytest
from authorize_support import DEMO, DEMO_REDIRECT, authorize_params, follow, hidden, query_of, sign_in
from dom import dom

from sandbox.auth import audit
from sandbox.auth.clients import ClientRegistry
from sandbox.auth.codes import redeem_code
from sandbox.auth.consent_text import describe
from sandbox.auth.users import UserDirectory

pytestmark = pytest.mark.seeded  # client and store work on the seeded database


def start(client, **overrides):
    return follow(client, client.get("/auth/authorize", query_string=authorize_params(**overrides)))


def form_of(page):
    return {"request": hidden(page.text, "request"), "csrf": hidden(page.text, "csrf")}


def grant_of(store, response):
    assert response.status_code == 302 and response.headers["Location"].startswith(DEMO_REDIRECT), response.text
    return redeem_code(store, query_of(response.headers["Location"])["code"], "family-c").grant


def consent_for(client, patient="story-diabetes", **overrides):
    """Sign in as the first clinician, pick ``patient`` and return the consent page."""
    sign_in(client)
    picker = start(client, **overrides)
    return follow(client, client.post("/auth/authorize/patient", data={**form_of(picker), "patient": patient}))


# -- scopes in words ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scope, words", [
    ("patient/Observation.rs", "Read and search lab results, vital signs and other observations of ALLEN, Mary"),
    ("patient/Observation.read", "Read and search lab results, vital signs and other observations of ALLEN, Mary"),
    ("user/MedicationRequest.cruds", "Create, read, update, delete and search prescriptions (medication requests) "
                                     "that you can see"),
    ("system/*.rs", "Read and search all kinds of data on the whole server"),
    ("patient/Appointment.c", "Create appointments of ALLEN, Mary"),
    ("patient/Condition.rs?category=http://terminology.hl7.org/CodeSystem/condition-category|problem-list-item",
     "Read and search conditions and health problems of ALLEN, Mary — only where category is problem-list-item"),
    ("launch/patient", "Know which patient is selected"),
    ("offline_access", "Keep access after you close the app, until you revoke it"),
])
def test_scopes_in_plain_words(scope, words):
    assert describe(scope, "ALLEN, Mary") == words


def test_the_page_lists_each_scope_with_a_checkbox_per_resource_type(client):
    scope = "openid fhirUser launch/patient patient/Observation.rs patient/MedicationRequest.read patient/Patient.r"
    response = consent_for(client, scope=scope)
    assert response.headers["Content-Security-Policy"] == "frame-ancestors 'self'"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    page = dom(response.text)
    assert page.one("h1").text == "Allow Sandbox Demo App to act as Dr. Lori McDonald?"
    boxes = page.select('input[type="checkbox"][name="type"]')
    assert [b.attrs["value"] for b in boxes] == ["Observation", "MedicationRequest", "Patient"]
    assert all("checked" in b.attrs for b in boxes)
    labels = [label.text for label in page.select("div.check label") if label.attrs["for"].startswith("scope-")]
    assert labels[1] == "Read and search prescriptions (medication requests) of JOHNSON, Marcus Anthony " \
                        "patient/MedicationRequest.read"
    others = [li.text for li in page.select("ul.plain li")]
    assert others[0].startswith("Confirm who you are (OpenID Connect)")
    assert page.one("dl.facts dd.mono").text == DEMO_REDIRECT


def test_a_patient_reads_about_their_own_record(client):
    sign_in(client, "marcus.johnson")
    page = dom(start(client, scope="openid launch/patient patient/AllergyIntolerance.rs").text)
    assert page.one("h1").text == "Allow Sandbox Demo App to use your health record?"
    assert "Read and search your allergies and intolerances" in page.one("div.check label").text


# -- what is granted ----------------------------------------------------------------------------------------------


def test_unchecking_a_type_removes_it_and_the_rest_is_granted_as_asked(client, store):
    scope = ("openid fhirUser launch/patient patient/Observation.read patient/Condition.rs "
             "patient/Immunization.rs?date=ge2020 unknown/scope")
    consent = consent_for(client, scope=scope)
    done = client.post("/auth/authorize/consent", data={**form_of(consent), "decision": "approve",
                                                        "type": ["Observation", "Immunization"]})
    grant = grant_of(store, done)
    assert grant.scope == "openid fhirUser launch/patient patient/Observation.read patient/Immunization.rs?date=ge2020"
    assert grant.context["patient"] == "story-diabetes" and grant.user_id == "lori.mcdonald"
    event = audit.recent(store, event="authorize.approved")[0]
    assert event.detail["unchecked"] == ["Condition"] and event.rule == "The user approved on the consent page"
    issued = audit.recent(store, event="code.issued")[0]
    assert issued.client_id == DEMO and issued.user_id == "lori.mcdonald"


def test_scopes_beyond_the_apps_registration_are_never_offered(client, store):
    ClientRegistry(store, "http://localhost").update(DEMO, {"scope": "openid launch/patient patient/Observation.rs"})
    consent = consent_for(client, scope="openid launch/patient patient/*.rs offline_access")
    assert [b.attrs["value"] for b in dom(consent.text).select('input[name="type"]')] == ["Observation"]
    done = client.post("/auth/authorize/consent", data={**form_of(consent), "decision": "approve",
                                                        "type": "Observation"})
    assert grant_of(store, done).scope == "openid launch/patient patient/Observation.rs"


def test_deny_is_audited_and_returns_access_denied(client, store):
    consent = consent_for(client)
    denied = client.post("/auth/authorize/consent", data={**form_of(consent), "decision": "deny"})
    params = query_of(denied.headers["Location"])
    assert (params["error"], params["state"]) == ("access_denied", "st-1") and "code" not in params
    event = audit.recent(store, event="authorize.denied")[0]
    assert (event.client_id, event.user_id, event.rule) == (DEMO, "lori.mcdonald", "The user denied the app access")
    again = client.post("/auth/authorize/consent", data={**form_of(consent), "decision": "approve", "type": "*"})
    assert again.status_code == 400 and "expired" in again.text  # a finished request cannot be approved later


def test_a_pre_approved_app_skips_consent_and_says_why_in_the_audit_trail(client, store):
    ClientRegistry(store, "http://localhost").update(DEMO, {"pre_approved": True})
    sign_in(client, "marcus.johnson")
    grant = grant_of(store, client.get("/auth/authorize", query_string=authorize_params()))
    assert grant.context["patient"] == "story-diabetes"
    event = audit.recent(store, event="authorize.approved")[0]
    assert event.rule == "Approved without a consent page: the app is registered as pre-approved"


# -- whose record ---------------------------------------------------------------------------------------------------


def test_a_patient_cannot_pick_someone_elses_record(client, store):
    sign_in(client, "marcus.johnson")
    consent = start(client)
    picker = client.get("/auth/authorize/patient", query_string={"request": hidden(consent.text, "request")})
    assert picker.headers["Location"].startswith("/auth/authorize/consent")
    forged = client.post("/auth/authorize/patient", data={**form_of(consent), "patient": "story-child"})
    assert forged.headers["Location"].startswith("/auth/authorize/consent")
    done = client.post("/auth/authorize/consent", data={**form_of(consent), "decision": "approve", "type": "*"})
    assert grant_of(store, done).context["patient"] == "story-diabetes"


def test_a_family_member_gets_the_linked_patient(client, store):
    store.update({"resourceType": "RelatedPerson", "id": "rp-mother", "patient": {"reference": "Patient/story-child"},
                  "name": [{"family": "Nguyen", "given": ["Thi"]}]})
    UserDirectory(store).create("thi.nguyen", "Thi Nguyen", "related-person", "RelatedPerson/rp-mother")
    sign_in(client, "thi.nguyen")
    consent = start(client)
    facts = dom(consent.text)
    assert [dt.text for dt in facts.select("dl.facts dt")] == ["Signed in as", "Patient", "Returns to"]
    assert facts.select("dl.facts dd")[1].text == "NGUYEN, Lily Mai"
    done = client.post("/auth/authorize/consent", data={**form_of(consent), "decision": "approve", "type": "*"})
    assert grant_of(store, done).context["patient"] == "story-child"


def test_a_user_without_a_patient_record_is_refused_launch_patient(client, store):
    UserDirectory(store).create("lost.relative", "Lost Relative", "related-person", "RelatedPerson/nobody")
    sign_in(client, "lost.relative")
    response = client.get("/auth/authorize", query_string=authorize_params())
    params = query_of(response.headers["Location"])
    assert params["error"] == "access_denied" and "no patient record" in params["error_description"]


# -- no step skipped ------------------------------------------------------------------------------------------------


def test_consent_cannot_be_reached_before_the_patient_is_picked(client, store):
    sign_in(client)
    picker = start(client, scope="launch/patient launch/encounter patient/*.rs")
    request_id = hidden(picker.text, "request")
    for path in ("/auth/authorize/consent", "/auth/authorize/encounter"):
        assert client.get(path, query_string={"request": request_id}).headers["Location"] == \
            f"/auth/authorize/patient?request={request_id}"
    early = client.post("/auth/authorize/consent", data={**form_of(picker), "decision": "approve", "type": "*"})
    assert early.headers["Location"] == f"/auth/authorize/patient?request={request_id}"  # no code without a patient


def test_the_patient_picker_searches_by_name_mrn_and_birth_year(client):
    sign_in(client)
    request_id = hidden(start(client).text, "request")

    def names(q):
        page = dom(client.get("/auth/authorize/patient", query_string={"request": request_id, "q": q}).text)
        return [row.select("td")[0].text for row in page.select("tbody tr")], page

    assert names("johnson marcus")[0] == ["JOHNSON, Marcus Anthony"]
    assert names("1000001")[0] == names("1 000 001")[0] == ["JOHNSON, Marcus Anthony"]
    found, page = names("1968")
    assert "JOHNSON, Marcus Anthony" in found
    row = next(r for r in page.select("tbody tr") if r.select("td")[0].text == "JOHNSON, Marcus Anthony")
    assert [td.text for td in row.select("td")[1:4]] == ["11-Jan-1968", "Male", "1 000 001"]
    none, page = names("zzyzx")
    assert none == []
    assert "No patients match “zzyzx”. Try a family name, MRN, birth year or birth date (11-Jan-1968)." in page.text
    assert page.one("main a").text == "Clear search"


def test_the_encounter_picker_lists_recent_encounters_first_and_may_be_skipped(client, store):
    sign_in(client)
    picker = start(client, scope="launch/patient launch/encounter patient/*.rs")
    encounters = follow(client, client.post("/auth/authorize/patient", data={**form_of(picker),
                                                                             "patient": "story-diabetes"}))
    page = dom(encounters.text)
    starts = [row.select("td")[0].text for row in page.select("tbody tr")]
    assert len(starts) >= 2
    as_dates = [(s[7:11], "JanFebMarAprMayJunJulAugSepOctNovDec".index(s[3:6]), s[:2], s[12:]) for s in starts]
    assert as_dates == sorted(as_dates, reverse=True)
    consent = follow(client, client.post("/auth/authorize/encounter", data={**form_of(picker), "encounter": ""}))
    done = client.post("/auth/authorize/consent", data={**form_of(consent), "decision": "approve", "type": "*"})
    grant = grant_of(store, done)
    assert grant.context["patient"] == "story-diabetes" and "encounter" not in grant.context


def test_two_requests_in_one_browser_keep_their_own_choices(client, store):
    sign_in(client)
    first = start(client, state="tab-1", scope="launch/patient patient/Observation.rs")
    second = start(client, state="tab-2", scope="launch/patient patient/Condition.rs")
    assert hidden(first.text, "request") != hidden(second.text, "request")
    second_consent = follow(client, client.post("/auth/authorize/patient", data={**form_of(second),
                                                                                  "patient": "story-child"}))
    first_consent = follow(client, client.post("/auth/authorize/patient", data={**form_of(first),
                                                                                 "patient": "story-elderly"}))
    done_second = client.post("/auth/authorize/consent", data={**form_of(second_consent), "decision": "approve",
                                                               "type": "Condition"})
    done_first = client.post("/auth/authorize/consent", data={**form_of(first_consent), "decision": "approve",
                                                              "type": "Observation"})
    assert query_of(done_first.headers["Location"])["state"] == "tab-1"
    assert query_of(done_second.headers["Location"])["state"] == "tab-2"
    first_grant, second_grant = grant_of(store, done_first), grant_of(store, done_second)
    assert (first_grant.scope, first_grant.context["patient"]) == ("launch/patient patient/Observation.rs",
                                                                   "story-elderly")
    assert (second_grant.scope, second_grant.context["patient"]) == ("launch/patient patient/Condition.rs",
                                                                     "story-child")


@pytest.mark.parametrize("csrf", [None, "", "forged"])
def test_consent_and_encounter_forms_need_the_requests_csrf_token(client, store, csrf):
    sign_in(client)
    picker = start(client, scope="launch/patient launch/encounter patient/*.rs")
    encounters = follow(client, client.post("/auth/authorize/patient", data={**form_of(picker),
                                                                             "patient": "story-diabetes"}))
    assert encounters.headers["Content-Security-Policy"] == "frame-ancestors 'self'"
    forged = {"request": hidden(picker.text, "request"), **({"csrf": csrf} if csrf is not None else {})}
    for path, form in (("/auth/authorize/encounter", {"encounter": ""}),
                       ("/auth/authorize/consent", {"decision": "approve", "type": "*"})):
        response = client.post(path, data={**forged, **form})
        assert response.status_code == 400 and "security token did not match" in response.text
    assert not store.conn.execute("SELECT 1 FROM codes").fetchall()
