"""The chart's trend charts and its Immunizations, Procedures and Notes sections, checked with selectors on the
pages a signed-in clinician gets: what the SVGs say in their title and description, the Trend control of a lab
row, the seeded rows, a note's text escaped, the nav counts and the empty states."""

from __future__ import annotations

import base64
import re

import pytest
from dom import dom
from ehr_support import HX, STORY

from sandbox import formatting
from sandbox.ehr import records

CHILD = "story-child"
ORDER = ["summary", "encounters", "problems", "medications", "allergies", "vitals", "labs", "immunizations",
         "procedures", "notes", "apps"]
DATE = re.compile(r"^\d{2}-[A-Z][a-z]{2}-\d{4}$")


@pytest.fixture
def seeded_store(seeded_app):
    return seeded_app.extensions["store"]


def of_patient(store, rtype: str, patient_id: str = STORY, *params) -> list[dict]:
    return records.resources(records.of_patient(store, rtype, patient_id, *params))


def page_of(client, section: str, patient_id: str = STORY, **query):
    response = client.get(f"/ehr/patients/{patient_id}/{section}", query_string=query)
    assert response.status_code == 200
    return dom(response.text)


def new_patient(store, patient_id: str = "empty", birth: str = "1980-04-02", *resources: dict) -> str:
    store.load([{"resourceType": "Patient", "id": patient_id, "gender": "female", "birthDate": birth,
                 "name": [{"family": "Okafor", "given": ["Ada"]}]}, *resources])
    return patient_id


def text_note(note_id: str, patient_id: str, text: str, date: str) -> dict:
    return {"resourceType": "DocumentReference", "id": note_id, "status": "current",
            "subject": {"reference": f"Patient/{patient_id}"}, "date": date,
            "type": {"coding": [{"system": "http://loinc.org", "code": "11506-3", "display": "Progress note"}]},
            "author": [{"display": "Dr. Lori McDonald, MD"}],
            "content": [{"attachment": {"contentType": "text/plain",
                                        "data": base64.b64encode(text.encode()).decode()}}]}


# -- the nav ----------------------------------------------------------------------------------------------------------


def test_nav_lists_the_new_sections_in_order_with_their_counts(clinician, seeded_store):
    nav = page_of(clinician, "summary").one("nav#chart-nav")
    assert [a.attrs["data-section"] for a in nav.select("a")] == ORDER
    counts = {a.attrs["data-section"]: a.one(".count").text for a in nav.select("a") if a.select(".count")}
    assert counts["immunizations"] == str(len(of_patient(seeded_store, "Immunization")))
    assert counts["procedures"] == str(len(of_patient(seeded_store, "Procedure")))
    assert counts["notes"] == str(len(of_patient(seeded_store, "DocumentReference")))
    assert int(counts["immunizations"]) > 0 and int(counts["notes"]) > 0


@pytest.mark.parametrize(("section", "rtype"), [("immunizations", "Immunization"), ("procedures", "Procedure"),
                                                 ("notes", "DocumentReference")])
def test_each_new_section_links_its_fhir_searchset(clinician, seeded_store, section, rtype):
    page = page_of(clinician, section)
    link = page.one("a.fhir-link")
    assert link.text == "View FHIR JSON"
    bundle = clinician.get(link.attrs["href"]).get_json(force=True)
    assert bundle["total"] == len(of_patient(seeded_store, rtype))
    assert {e["resource"]["resourceType"] for e in bundle["entry"] if e["search"]["mode"] == "match"} == {rtype}
    fragment = clinician.get(f"/ehr/patients/{STORY}/{section}", headers=HX)
    assert "<html" not in fragment.text and dom(fragment.text).one("section h2").text.startswith(
        section.capitalize())


# -- vitals -----------------------------------------------------------------------------------------------------------


def systolic_values(store, patient_id: str) -> list[int]:
    values = []
    for resource in of_patient(store, "Observation", patient_id, ("category", "vital-signs")):
        for component in resource.get("component") or []:
            if component["code"]["coding"][0]["code"] == "8480-6":
                values.append(component["valueQuantity"]["value"])
    return values


def test_vitals_draw_one_labelled_panel_per_measure_on_one_date_axis(clinician, seeded_store):
    page = page_of(clinician, "vitals")
    panels = page.select("svg.trend-panel")
    titles = []
    for svg in panels:
        assert svg.attrs["role"] == "img"
        title = svg.one("title")
        assert svg.attrs["aria-labelledby"] == title.attrs["id"]
        assert svg.attrs["aria-describedby"] == svg.one("desc").attrs["id"]
        titles.append(title.text)
    assert titles == ["Blood pressure (mmHg)", "Heart rate (/min)", "Respiratory rate (/min)", "Temperature (°C)",
                      "SpO₂ (%)", "Weight (kg)", "BMI (kg/m²)"]
    systolic = systolic_values(seeded_store, STORY)
    desc = panels[0].one("desc").text
    assert desc.startswith(f"Systolic BP, {len(systolic)} readings, {min(systolic)}–{max(systolic)} mmHg, "
                           "latest 142 on 18-Mar-2026. Diastolic BP,")
    assert desc.endswith("Shaded: normal adult ranges, systolic 90–120 and diastolic 60–80 mmHg.")
    assert [t.text for t in panels[0].select("text.trend-value")] == ["142", "88"]  # the latest, labelled
    assert len(panels[0].select("rect.trend-band")) == 2
    assert not panels[5].select("rect.trend-band")  # weight has no normal band
    axes = {tuple((t.attrs["x"], t.text) for t in svg.select("text.trend-tick[text-anchor=middle]"))
            for svg in panels}
    assert len(axes) == 1 and all(DATE.match(x[1]) or re.fullmatch(r"\d{4}", x[1]) for x in next(iter(axes)))
    assert page.one("table.vitals")  # the table stays, below the charts


def test_a_childs_vitals_shade_no_adult_band(clinician):
    panels = {svg.one("title").text: svg for svg in page_of(clinician, "vitals", CHILD).select("svg.trend-panel")}
    assert not panels["Heart rate (/min)"].select("rect.trend-band")
    assert "adult ranges do not apply" in panels["Heart rate (/min)"].one("desc").text
    assert len(panels["Temperature (°C)"].select("rect.trend-band")) == 1


def test_one_reading_is_a_dot_and_no_readings_is_an_empty_state(clinician, seeded_store):
    patient = new_patient(seeded_store, "one-visit", "1980-04-02", {
        "resourceType": "Observation", "id": "one-bp", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "subject": {"reference": "Patient/one-visit"}, "effectiveDateTime": "2025-03-03T09:00:00Z",
        "component": [{"code": {"coding": [{"code": "8480-6"}]}, "valueQuantity": {"value": 120, "unit": "mm[Hg]"}},
                      {"code": {"coding": [{"code": "8462-4"}]}, "valueQuantity": {"value": 78, "unit": "mm[Hg]"}}]})
    svg = page_of(clinician, "vitals", patient).one("svg.trend-panel")
    assert not svg.select("polyline") and len(svg.select("circle.trend-last")) == 2
    assert svg.one("desc").text.startswith("Systolic BP, 1 reading, 120 mmHg on 03-Mar-2025. "
                                           "Diastolic BP, 1 reading, 78 mmHg on 03-Mar-2025.")
    assert [t.text for t in svg.select("text.trend-tick[text-anchor=middle]")] == ["03-Mar-2025"]
    summary = page_of(clinician, "summary", patient)
    assert not summary.select(".vital-tile svg")  # one reading is no trend
    empty = page_of(clinician, "vitals", new_patient(seeded_store, "no-vitals"))
    assert empty.one("p.empty").text == "No vital signs are recorded for this patient."
    assert not empty.select("svg")


def test_summary_tiles_carry_a_hidden_sparkline_next_to_the_value(clinician):
    tiles = {t.one("dt").text: t for t in page_of(clinician, "summary").select(".vital-tile")}
    bp = tiles["Blood pressure"]
    assert bp.one("dd").text.startswith("142/88 mmHg")
    spark = bp.one("svg.spark")
    assert spark.attrs["aria-hidden"] == "true" and len(spark.select("polyline")) == 2
    assert all(t.select("svg.spark") for t in tiles.values())


# -- labs -------------------------------------------------------------------------------------------------------------


def a1c_values(store) -> list[float]:
    return [r["valueQuantity"]["value"] for r in of_patient(store, "Observation", STORY, ("code", "4548-4"))]


def test_a_lab_rows_trend_loads_when_opened(clinician, seeded_store):
    row = page_of(clinician, "labs").one("table.results tbody tr")
    control = row.one("details.trend")
    observation_id = row.attrs["id"].removeprefix("result-")
    assert control.attrs["hx-get"] == f"/ehr/patients/{STORY}/labs/{observation_id}/trend"
    assert control.attrs["hx-trigger"] == "toggle once" and control.attrs["hx-target"] == "find .trend-body"
    assert control.one("summary").text == "Trend of Hemoglobin A1c" and "open" not in control.attrs
    fragment = clinician.get(control.attrs["hx-get"], headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    trend = dom(fragment.text)
    values = a1c_values(seeded_store)
    assert trend.one(".trend-summary").text == (
        f"Hemoglobin A1c, {len(values)} results, {min(values)}–{max(values)} %, latest 9.2 on 18-Mar-2026")
    spark = trend.one("svg.spark-lab")
    assert spark.attrs["aria-hidden"] == "true" and len(spark.select("rect.trend-band")) == 1
    assert len(spark.select("circle")) == len(values)
    assert "Shaded: reference range 4.0–5.6 %" in trend.text


def test_a_trend_has_its_own_url_without_htmx(clinician, seeded_store):
    oldest = of_patient(seeded_store, "Observation", STORY, ("code", "4548-4"), ("_sort", "date"))[0]
    response = clinician.get(f"/ehr/patients/{STORY}/labs/{oldest['id']}/trend")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/ehr/patients/{STORY}/labs?trend={oldest['id']}#result-{oldest['id']}"
    page = dom(clinician.get(response.headers["Location"]).text)
    row = page.one(f"tr#result-{oldest['id']}")
    assert "open" in row.one("details.trend").attrs and "hx-get" not in row.one("details.trend").attrs
    panel = next(p for p in page.select("details.panel") if p.select(f"tr#result-{oldest['id']}"))
    assert "open" in panel.attrs  # an old panel, closed by default, is opened to show it
    assert row.one(".trend-summary").text == (
        f"Hemoglobin A1c, 1 result, {oldest['valueQuantity']['value']} % on "
        f"{formatting.date(oldest['effectiveDateTime'])}")


def test_the_trend_of_another_patients_result_is_not_found(clinician, seeded_store):
    other = of_patient(seeded_store, "Observation", CHILD)[0]
    response = clinician.get(f"/ehr/patients/{STORY}/labs/{other['id']}/trend", headers=HX)
    assert response.status_code == 404
    assert "couldn't be found" in response.text
    page = page_of(clinician, "labs", trend=other["id"])
    assert not [d for d in page.select("details.trend") if "open" in d.attrs]


# -- immunizations and procedures ---------------------------------------------------------------------------------


def test_immunizations_show_the_seeded_vaccines(clinician, seeded_store):
    page = page_of(clinician, "immunizations")
    assert [th.text for th in page.select("table thead th")] == ["Vaccine", "Date", "Dose no.", "Status", "Lot"]
    rows = page.select("table tbody tr")
    seeded = of_patient(seeded_store, "Immunization")
    assert len(rows) == len(seeded)
    vaccines = [row.one("td").children[0].strip() for row in rows]
    assert set(vaccines) == {r["vaccineCode"]["text"] for r in seeded}
    assert "Influenza vaccine" in vaccines and "Pneumococcal conjugate vaccine (PCV20)" in vaccines
    pcv = rows[vaccines.index("Pneumococcal conjugate vaccine (PCV20)")]
    resource = next(r for r in seeded if r["vaccineCode"]["text"].endswith("(PCV20)"))
    cells = [td.text for td in pcv.select("td")]
    assert cells[1:] == [formatting.date(resource["occurrenceDateTime"]), "1", "Completed", resource["lotNumber"]]
    assert pcv.one(".code-line").text == "CVX 216"
    dates = [formatting.parse(r["occurrenceDateTime"])[0] for r in seeded]
    assert [row.select("td")[1].text for row in rows] == [formatting.date(d.isoformat())
                                                          for d in sorted(dates, reverse=True)]


def test_imported_records_read_not_known_where_fields_are_missing(clinician, seeded_store):
    patient = new_patient(seeded_store, "imported", "1961-02-02", {
        "resourceType": "Immunization", "id": "imported-flu", "status": "completed", "primarySource": True,
        "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140",
                                    "display": "Influenza, seasonal, injectable, preservative free"}]},
        "patient": {"reference": "Patient/imported"}, "occurrenceDateTime": "2017-07-26T19:52:10-04:00",
    }, {
        "resourceType": "Procedure", "id": "imported-proc", "status": "completed",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "171207006",
                             "display": "Depression screening (procedure)"}],
                 "text": "Depression screening (procedure)"},
        "subject": {"reference": "Patient/imported"},
        "performedPeriod": {"start": "1984-12-15T23:55:44-05:00", "end": "1984-12-16T00:10:19-05:00"},
    })
    immunization = page_of(clinician, "immunizations", patient).select("tbody td")
    assert immunization[0].children[0] == "Influenza, seasonal, injectable, preservative free"
    assert [td.text for td in immunization[1:]] == ["26-Jul-2017", "Not known", "Completed", "Not known"]
    procedure = page_of(clinician, "procedures", patient).select("tbody td")
    assert procedure[1].children[0] == "Depression screening (procedure)"
    assert procedure[1].one(".code-line").text == "SNOMED CT 171207006"
    assert [td.text for td in procedure[:1] + procedure[2:]] == ["15-Dec-1984 23:55", "Not known", "Completed",
                                                                 "Not known"]


def test_procedures_show_date_performer_status_and_reason(clinician, seeded_store):
    page = page_of(clinician, "procedures")
    assert [th.text for th in page.select("table thead th")] == ["Date", "Procedure", "Performer", "Status",
                                                                 "Reason"]
    rows = page.select("table tbody tr")
    assert len(rows) == len(of_patient(seeded_store, "Procedure"))
    first = [td.text for td in rows[0].select("td")]
    assert re.fullmatch(r"\d{2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2}", first[0])
    assert "Dr. Lori McDonald, MD" in [td.select("td")[2].text for td in rows]
    assert "None" not in page.one("table").text


@pytest.mark.parametrize(("section", "words"), [
    ("immunizations", "No immunizations are recorded for this patient."),
    ("procedures", "No procedures are recorded for this patient."),
    ("notes", "No notes are recorded for this patient."),
])
def test_empty_sections_say_so(clinician, seeded_store, section, words):
    patient = new_patient(seeded_store)
    page = page_of(clinician, section, patient)
    assert page.one("p.empty").text == words
    assert page.one(f"nav#chart-nav a[data-section={section}] .count").text == "0"


# -- notes ------------------------------------------------------------------------------------------------------------


def test_notes_list_and_the_newest_in_the_reading_pane(clinician, seeded_store):
    notes = of_patient(seeded_store, "DocumentReference", STORY, ("_sort", "-date"))
    page = page_of(clinician, "notes")
    links = page.select("ol.note-list a")
    assert len(links) == len(notes)
    assert links[0].attrs["aria-current"] == "true"
    assert links[0].attrs["href"] == f"/ehr/patients/{STORY}/notes?note={notes[0]['id']}"
    assert links[0].attrs["hx-target"] == "#main" and links[0].attrs["hx-push-url"] == "true"
    assert links[0].one(".note-head").text == "Progress note"
    assert links[0].one(".note-when").text == "18-Mar-2026 09:25"
    assert [m.children[-1] for m in links[0].select(".note-meta")] == ["Dr. Lori McDonald, MD",
                                                                       "Ambulatory · Follow-up visit"]
    reader = page.one("article#note-reader")
    assert reader.one("h3").text == "Progress note"
    facts = {div.one("dt").text: div.one("dd").text for div in reader.select(".note-facts div")}
    assert facts == {"Date": "18-Mar-2026 09:25", "Author": "Dr. Lori McDonald, MD",
                     "Encounter": "Ambulatory · Follow-up visit"}
    text = "".join(reader.one("pre.note-text").children)
    assert text.startswith("PROGRESS NOTE\nRiverside Primary Care | 2026-03-18\n")
    assert base64.b64decode(notes[0]["content"][0]["attachment"]["data"]).decode().strip("\n") == text


def test_choosing_a_note_gives_it_a_url_and_an_htmx_fragment(clinician, seeded_store):
    second = of_patient(seeded_store, "DocumentReference", STORY, ("_sort", "-date"))[1]
    page = page_of(clinician, "notes", note=second["id"])
    current = page.one("ol.note-list a[aria-current=true]")
    assert current.attrs["id"] == f"note-link-{second['id']}"
    body = base64.b64decode(second["content"][0]["attachment"]["data"]).decode().strip("\n")
    assert "".join(page.one("pre.note-text").children) == body
    fragment = clinician.get(f"/ehr/patients/{STORY}/notes", query_string={"note": second["id"]}, headers=HX)
    assert "<html" not in fragment.text
    assert dom(fragment.text).one("ol.note-list a[aria-current=true]").attrs["id"] == f"note-link-{second['id']}"


def test_a_notes_text_is_shown_escaped_never_as_html(clinician, seeded_store):
    evil = "Plan: <script>alert('note')</script>\n<img src=x onerror=alert(2)> & rest"
    seeded_store.load([text_note("evil-note", STORY, evil, "2026-05-01T10:00:00Z")])
    response = clinician.get(f"/ehr/patients/{STORY}/notes", query_string={"note": "evil-note"})
    assert "<script>alert('note')" not in response.text and "<img src=x" not in response.text
    assert "&lt;script&gt;alert(&#39;note&#39;)&lt;/script&gt;" in response.text
    pre = dom(response.text).one("pre.note-text")
    assert pre.children == [evil] and not pre.select("script") and not pre.select("img")


def test_a_note_of_another_patient_is_not_shown(clinician, seeded_store):
    child_note = of_patient(seeded_store, "DocumentReference", CHILD)[0]
    page = page_of(clinician, "notes", note=child_note["id"])
    assert page.one("p.note-missing").text.startswith("That note isn't in this patient's record")
    child_text = base64.b64decode(child_note["content"][0]["attachment"]["data"]).decode().strip("\n")
    assert "".join(page.one("pre.note-text").children) != child_text
    assert page.one("ol.note-list a[aria-current=true]").attrs["id"] != f"note-link-{child_note['id']}"
