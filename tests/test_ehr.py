"""The clinician EHR at /ehr: sign-in guard, patient list with active search, chart sections, escaping, the
encounter in context and app launches (embedded frame and new tab), checked with selectors on the HTML."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from authorize_support import sign_in
from dom import Node, dom
from ehr_support import HX, STORY, csrf_of, story_encounters

from sandbox import formatting

SECTIONS = ["summary", "encounters", "problems", "medications", "allergies", "vitals", "labs", "immunizations",
            "procedures", "notes", "apps"]


# -- sign-in ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/ehr", "/ehr/patients?q=jo", f"/ehr/patients/{STORY}/labs", "/ehr/apps"])
def test_every_page_needs_a_signed_in_user(seeded_client, path):
    response = seeded_client.get(path)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/auth/login"
    assert parse_qs(location.query)["next"] == [path]


def test_an_htmx_request_without_a_session_is_sent_to_sign_in_whole(seeded_client):
    response = seeded_client.get(f"/ehr/patients/{STORY}/labs", headers=HX)
    assert response.headers["HX-Redirect"].startswith("/auth/login?next=")
    assert response.text == ""


def test_a_patient_user_is_told_to_switch_to_a_clinician(seeded_client):
    sign_in(seeded_client, "marcus.johnson")
    response = seeded_client.get("/ehr")
    assert response.status_code == 403
    page = dom(response.text)
    assert "The EHR is for clinicians" in page.one("h1").text
    assert page.one("main a").attrs["href"].startswith("/auth/login?next=")


def test_top_bar_shows_the_persona_sign_out_and_switch_user(clinician):
    page = dom(clinician.get("/ehr").text)
    bar = page.one("header.topbar")
    assert [a.text for a in bar.select("nav a")][:2] == ["Patients", "Apps"]
    assert "Dr. Lori McDonald · Clinician" in bar.one(".persona-who").text
    form = bar.one("form")
    assert form.attrs["action"] == "/auth/logout" and form.attrs["method"] == "post"
    assert form.one("input[name=csrf]").attrs["value"] == csrf_of(clinician)
    assert form.one("input[name=next]").attrs["value"] == "/ehr/patients"
    switch = next(a for a in bar.select("a") if a.text == "Switch user")
    assert switch.attrs["href"] == "/auth/login?next=/ehr/patients"
    assert clinician.post("/auth/logout", data={"csrf": csrf_of(clinician), "next": "/ehr"}).status_code == 302
    assert clinician.get("/ehr").status_code == 302


# -- patient list -------------------------------------------------------------------------------------------------


def names_of(page: Node) -> list[str]:
    return [row.one("td a").text for row in page.select("table.patients tbody tr")]


def test_patient_list_is_sorted_by_family_name_with_a_count(clinician, seeded_app):
    page = dom(clinician.get("/ehr").text)
    names = names_of(page)
    total = seeded_app.extensions["store"].count("Patient")
    assert len(names) == total
    assert [n.split(",")[0] for n in names] == sorted(n.split(",")[0] for n in names)
    assert page.one("#result-count").attrs["aria-live"] == "polite"
    assert page.one("#result-count").text == f"{total} of {total} patients"
    search = page.one("input#patient-search")
    assert page.one("label[for=patient-search]").text.startswith("Find a patient: name")
    assert search.attrs["hx-get"] == "/ehr"
    assert search.attrs["hx-trigger"] == "input changed delay:300ms, search"
    assert page.one(search.attrs["hx-indicator"]).text == "Searching…"


def test_patient_search_by_name_mrn_and_birth_date(clinician):
    row = dom(clinician.get("/ehr/patients?q=johnson").text).one("table.patients tbody tr")
    assert row.one("a").text == "JOHNSON, Marcus Anthony"
    assert row.one("a").attrs["href"] == f"/ehr/patients/{STORY}"
    cells = [td.text for td in row.select("td")]
    assert cells[1] == "11-Jan-1968 (58y)" and cells[2] == "Male" and cells[3] == "1 000 001"
    assert names_of(dom(clinician.get("/ehr/patients?q=1000001").text)) == ["JOHNSON, Marcus Anthony"]
    assert "JOHNSON, Marcus Anthony" in names_of(dom(clinician.get("/ehr/patients?q=1968").text))
    assert names_of(dom(clinician.get("/ehr/patients?q=marcus+johnson").text)) == ["JOHNSON, Marcus Anthony"]
    for born in ("11-Jan-1968", "11 jan 1968", "1968-01-11"):  # a birth date as the pages show it, or ISO
        assert names_of(dom(clinician.get(f"/ehr/patients?q={born}").text)) == ["JOHNSON, Marcus Anthony"]
    assert "JOHNSON, Marcus Anthony" in names_of(dom(clinician.get("/ehr/patients?q=1968-01").text))
    assert names_of(dom(clinician.get("/ehr/patients?q=12-Jan-1968").text)) == []
    empty = dom(clinician.get("/ehr/patients?q=smyth").text)
    assert "No patients match “smyth”" in empty.one("#patient-results p").text


def test_active_search_returns_only_the_table_and_the_count(clinician):
    response = clinician.get("/ehr/patients?q=johnson", headers=HX)
    assert "<html" not in response.text and "topbar" not in response.text
    page = dom(response.text)
    assert names_of(page) == ["JOHNSON, Marcus Anthony"]
    count = page.one("#result-count")
    assert count.attrs["hx-swap-oob"] == "innerHTML"
    assert count.text == "1 of 1 patient matching “johnson”"
    assert "HX-Request" in response.headers["Vary"]


def test_patient_list_pages_by_25(clinician, seeded_app):
    store = seeded_app.extensions["store"]
    store.load([{"resourceType": "Patient", "id": f"zz-{n:02d}", "gender": "female", "birthDate": "1980-01-01",
                 "name": [{"family": f"Zuniga{n:02d}", "given": ["Ana"]}]} for n in range(30)])
    total = store.count("Patient")
    first = dom(clinician.get("/ehr/patients").text)
    assert len(names_of(first)) == 25
    assert [a.text for a in first.select("nav.pager a")] == ["Next 25"]
    second = dom(clinician.get("/ehr/patients?page=2").text)
    assert len(names_of(second)) == total - 25
    assert names_of(second)[-1] == "ZUNIGA29, Ana"
    assert [a.text for a in second.select("nav.pager a")] == ["Previous 25"]


# -- the chart ------------------------------------------------------------------------------------------------------


def test_chart_banner_and_summary_of_the_diabetes_story(clinician, seeded_app):
    birth = seeded_app.extensions["store"].read("Patient", STORY).resource["birthDate"]
    page = dom(clinician.get(f"/ehr/patients/{STORY}").text)
    banner = page.one("section.banner")
    assert banner.one("h1").text == "JOHNSON, Marcus Anthony (Mr)"
    facts = {div.one("dt").text: div.one("dd").text for div in banner.select("dl.banner-facts div")}
    assert facts["Born"] == f"{formatting.date(birth)} (58y)"
    assert facts["Gender"] == "Male"
    assert facts["MRN"].startswith("1 000 001")
    assert banner.one(".allergy-state").text == "No known allergies"
    assert "None selected" in banner.one(".banner-encounter").text
    nav = page.one("nav#chart-nav")
    assert [a.attrs["data-section"] for a in nav.select("a")] == SECTIONS
    assert nav.one("a[aria-current=page]").attrs["data-section"] == "summary"
    problems = [tr.one("td").text for tr in page.select("section[aria-labelledby=sum-problems] tbody tr")]
    assert "Hypertension" in problems and "Type 2 diabetes" in problems
    labs = {tr.one("td").text: tr for tr in page.select("section[aria-labelledby=sum-labs] tbody tr")}
    a1c = labs["Hemoglobin A1c"]
    assert "9.2" in a1c.one("td.num").text
    assert a1c.one(".flag").text == "▲ HHigh" and "row-abnormal" in a1c.classes
    assert a1c.one(".flag span[aria-hidden=true]").text == "▲ H"
    vitals = {t.one("dt").text: t.one("dd").text for t in page.select(".vital-tile")}
    assert vitals["Blood pressure"].startswith("142/88 mmHg")
    medications = [tr.one("td").text for tr in page.select("section[aria-labelledby=sum-meds] tbody tr")]
    assert any("insulin" in m.lower() for m in medications)
    assert len(page.select("section[aria-labelledby=sum-encounters] tbody tr")) == 3
    status = page.one("footer.statusbar")
    assert "Patient/story-diabetes" in status.text and "Practitioner/practitioner-01" in status.text
    assert "http://localhost/fhir" in status.text


@pytest.mark.parametrize("section", SECTIONS)
def test_each_section_is_a_page_and_an_htmx_fragment(clinician, section):
    url = f"/ehr/patients/{STORY}/{section}"
    full = dom(clinician.get(url).text)
    assert full.one("section.banner h1").text.startswith("JOHNSON, Marcus")
    assert full.one("nav#chart-nav a[aria-current=page]").attrs["data-section"] == section
    link = full.one(f"nav#chart-nav a[data-section={section}]")
    assert link.attrs["hx-target"] == "#main" and link.attrs["hx-push-url"] == "true"
    fragment = clinician.get(url, headers=HX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "banner" not in dom(fragment.text).select("section")[0].classes
    restore = clinician.get(url, headers={**HX, "HX-History-Restore-Request": "true"})
    assert "<html" in restore.text


def test_problems_section_lists_active_then_resolved_with_codes(clinician):
    page = dom(clinician.get(f"/ehr/patients/{STORY}/problems").text)
    active = page.select("section.card table tbody tr")
    rows = {tr.one("td").children[0].strip(): tr for tr in active}
    assert "Hypertension" in rows
    assert rows["Hypertension"].one(".code-line").text == "SNOMED CT 59621000"
    assert [td.text for td in rows["Hypertension"].select("td")][3:] == ["Active", "Confirmed"]


def test_labs_are_grouped_by_report_with_text_flags(clinician):
    page = dom(clinician.get(f"/ehr/patients/{STORY}/labs").text)
    panels = page.select("details.panel")
    first = panels[0]
    assert first.one("summary strong").text == "Hemoglobin A1c"
    assert first.one(".badge-warning").text == "1 abnormal"
    cells = [td.text for td in first.one("tbody tr").select("td")]
    assert cells[:4] == ["Hemoglobin A1c", "9.2", "%", "▲ HHigh"] and cells[4] == "4.0–5.6 %"
    bmp = next(p for p in panels if p.one("summary strong").text == "Basic metabolic panel")
    assert "Glucose" in [tr.one("td").text for tr in bmp.select("tbody tr")]
    assert "▲ H high" in page.one("p.legend").text


def test_vitals_table_has_a_column_per_measure_with_units(clinician):
    page = dom(clinician.get(f"/ehr/patients/{STORY}/vitals").text)
    headers = [th.text for th in page.select("table.vitals thead th")]
    assert headers[:3] == ["Date", "Blood pressure (mmHg)", "Heart rate (/min)"]
    first = page.one("table.vitals tbody tr")
    assert re.fullmatch(r"\d{2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2}", first.one("th").text)
    assert first.select("td")[0].text == "142/88"


def test_a_patient_named_script_renders_as_text(clinician, seeded_app):
    evil = "<script>alert(1)</script>"
    seeded_app.extensions["store"].load([
        {"resourceType": "Patient", "id": "evil", "gender": "other", "birthDate": "1990-02-03",
         "name": [{"family": evil, "given": ['"><img src=x onerror=alert(2)>']}]},
        {"resourceType": "Condition", "id": "evil-condition", "subject": {"reference": "Patient/evil"},
         "clinicalStatus": {"coding": [{"code": "active"}]}, "code": {"text": evil}},
    ])
    for url in ("/ehr/patients?q=%3Cscript", "/ehr/patients/evil", "/ehr/patients/evil/problems"):
        html = clinician.get(url).text
        assert "<script>alert(1)" not in html and "<img src=x" not in html
        assert "&lt;SCRIPT&gt;ALERT(1)&lt;/SCRIPT&gt;" in html or "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    echo = clinician.get("/ehr/patients", query_string={"q": "<script>alert(3)</script> nobody"}).text
    assert "<script>alert(3)" not in echo and "&lt;script&gt;alert(3)&lt;/script&gt;" in echo
    page = dom(clinician.get("/ehr/patients/evil/problems").text)
    assert page.one("section.banner h1").text.startswith("<SCRIPT>ALERT(1)</SCRIPT>, \"><img")
    assert page.one("section.card table tbody tr td").children[0].strip() == evil


def test_unknown_patient_and_section_are_friendly_404s(clinician):
    assert "Patient not found" in clinician.get("/ehr/patients/nobody").text
    assert clinician.get("/ehr/patients/nobody").status_code == 404
    assert clinician.get(f"/ehr/patients/{STORY}/bogus").status_code == 404


def test_view_fhir_json_gives_the_sections_searchset(clinician):
    response = clinician.get(f"/ehr/patients/{STORY}/labs/fhir")
    bundle = response.get_json(force=True)
    assert response.mimetype == "application/fhir+json"
    assert bundle["type"] == "searchset" and bundle["total"] == 31
    modes = {e["search"]["mode"] for e in bundle["entry"]}
    assert modes == {"match", "include"}


# -- the encounter in context -------------------------------------------------------------------------------------


def test_use_for_launches_puts_an_encounter_in_context(clinician, seeded_app):
    store = seeded_app.extensions["store"]
    newest, older = story_encounters(store)[:2]
    url = f"/ehr/patients/{STORY}/encounter"
    assert clinician.post(url, data={"encounter": older["id"]}).status_code == 400  # no CSRF token
    page = dom(clinician.get(f"/ehr/patients/{STORY}/encounters").text)
    forms = page.select("li.encounter form")
    assert forms[0].one("input[name=encounter]").attrs["value"] == newest["id"]
    response = clinician.post(url, data={"csrf": csrf_of(clinician), "encounter": older["id"]})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/ehr/patients/{STORY}/encounters")
    page = dom(clinician.get(f"/ehr/patients/{STORY}/encounters").text)
    current = page.one("li.in-context")
    assert current.one(".badge-context").text == "In context"
    assert current.select("form") == []
    assert formatting.date(older["period"]["start"]) in page.one("section.banner .banner-encounter").text
    assert f"Encounter/{older['id']}" in page.one("footer.statusbar").text
    other = dom(clinician.get("/ehr/patients/story-elderly").text)
    assert "None selected" in other.one(".banner-encounter").text  # kept per patient
    cleared = clinician.post(url, data={"csrf": csrf_of(clinician), "encounter": ""})
    assert cleared.status_code == 303
    assert "None selected" in dom(clinician.get(f"/ehr/patients/{STORY}").text).one(".banner-encounter").text


def test_an_encounter_of_another_patient_is_refused(clinician, seeded_app):
    from sandbox.ehr import records

    elsewhere = records.resources(records.of_patient(seeded_app.extensions["store"], "Encounter", "story-elderly"))[0]
    response = clinician.post(f"/ehr/patients/{STORY}/encounter",
                              data={"csrf": csrf_of(clinician), "encounter": elsewhere["id"]})
    assert response.status_code == 400


# -- the display rules ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "shown"), [
    ("2025-03-03T09:00:00-05:00", "03-Mar-2025"), ("2025-03-03", "03-Mar-2025"), ("2025-03", "Mar-2025"),
    ("2025", "2025"), (None, "Not known"), ("garbage", "Not known")])
def test_dates_are_dd_mmm_yyyy(text, shown):
    assert formatting.date(text) == shown


@pytest.mark.parametrize(("birth", "shown"), [
    ("1945-07-14", "80y"), ("2024-05-01", "2y"), ("2025-02-15", "15m"), ("2026-05-10", "3w"), ("2026-05-29", "3d")])
def test_ages_in_years_then_months_weeks_days(birth, shown):
    import datetime as dt

    assert formatting.age(birth, dt.date(2026, 6, 1)) == shown


def test_spans_numbers_and_identifiers():
    assert formatting.period("2025-03-03T09:00:00-05:00", "2025-03-03T09:25:00-05:00") == "03-Mar-2025 09:00–09:25"
    assert formatting.period("2025-03-01T10:00", "2025-03-04T12:00") == "01-Mar-2025 10:00 – 04-Mar-2025 12:00"
    assert formatting.quantity({"value": 6.9, "unit": "%"}) == "6.9 %"
    assert formatting.quantity({"value": 138, "code": "mm[Hg]", "unit": "mm[Hg]"}) == "138 mmHg"
    assert formatting.grouped_digits("123456789") == "123 456 789"
    assert formatting.grouped_digits("A-77") == "A-77"


def test_banner_names_known_allergies_highest_criticality_first(clinician):
    banner = dom(clinician.get("/ehr/patients/story-child").text).one("section.banner")
    state = banner.one(".allergy-state")
    assert "allergy-known" in state.classes
    assert state.one("strong").text.startswith("Known allergies: Peanuts")
    assert state.one("svg").attrs["aria-hidden"] == "true"
    page = dom(clinician.get("/ehr/patients/story-child/allergies").text)
    peanut = next(tr for tr in page.select("tbody tr") if tr.one("td").text.startswith("Peanuts"))
    assert "row-critical" in peanut.classes
    assert "Anaphylaxis" in peanut.select("td")[1].text


def test_allergy_state_is_always_one_of_the_banner_states():
    from sandbox.ehr.chart import allergy_state

    def row(name, active=True, no_known=False, critical=False):
        return {"substance": name, "active": active, "no_known": no_known, "critical": critical}

    assert allergy_state([])["label"] == "Allergies not recorded"
    assert allergy_state([row("No known allergies", no_known=True)])["label"] == "No known allergies"
    assert allergy_state([row("Latex", active=False)])["label"] == "Allergies not recorded"
    known = allergy_state([row("Latex"), row("Aspirin"), row("Penicillin", critical=True)])
    assert (known["label"], known["text"]) == ("Known allergies", "Penicillin, Latex (+1)")


def test_an_inpatient_stay_in_context_shows_its_location_and_attending(clinician, seeded_app):
    from sandbox.ehr import records

    store = seeded_app.extensions["store"]
    stays = [e for e in records.resources(records.of_patient(store, "Encounter", "story-inpatient"))
             if e["class"]["code"] == "IMP"]
    stay = stays[0]
    url = "/ehr/patients/story-inpatient/encounter"
    assert clinician.post(url, data={"csrf": csrf_of(clinician), "encounter": stay["id"]}).status_code == 303
    shown = dom(clinician.get("/ehr/patients/story-inpatient").text).one(".banner-encounter").text
    surname = stay["participant"][0]["individual"]["display"].split(",")[0].split()[-1]
    assert stay["location"][0]["location"]["display"] in shown
    assert f"Attending Dr {surname}" in shown
