"""Trend geometry (sandbox/ehr/trends.py), what the chart draws from Observations (charts.py) and the rows of the
immunization, procedure and note sections (history.py): plain functions, checked without HTTP."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from sandbox.ehr import charts, history, trends
from sandbox.ehr.trends import Domain, Reading, Series

# -- helpers -------------------------------------------------------------------------------------------------------


def reading(when: str, value: float, text: str | None = None) -> Reading:
    return Reading(trends.day_number(when), value, when, text or trends.number_text(value, 0))


def vital(code: str, when: str, value: float, unit: str, status: str = "final") -> dict:
    return {"resourceType": "Observation", "status": status, "effectiveDateTime": when,
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "valueQuantity": {"value": value, "unit": unit, "code": unit}}


def blood_pressure(when: str, systolic: int, diastolic: int) -> dict:
    def component(code, value):
        return {"code": {"coding": [{"code": code}]}, "valueQuantity": {"value": value, "unit": "mm[Hg]"}}

    return {"resourceType": "Observation", "status": "final", "effectiveDateTime": when,
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
            "component": [component("8480-6", systolic), component("8462-4", diastolic)]}


def encoded(text: str, charset: str = "utf-8") -> str:
    return base64.b64encode(text.encode(charset)).decode("ascii")


# -- time and axes ---------------------------------------------------------------------------------------------


def test_day_numbers_keep_the_time_of_day_and_skip_partial_dates():
    assert trends.day_number("2025-03-03") == dt.date(2025, 3, 3).toordinal()
    assert trends.day_number("2025-03-03T18:00:00-05:00") == dt.date(2025, 3, 3).toordinal() + 0.75
    assert trends.day_number("2025-03") is None
    assert trends.day_number(None) is None


@pytest.mark.parametrize(("values", "min_span", "ticks"), [
    ([90, 120, 60, 80, 132, 148], 0, [60, 80, 100, 120, 140]),
    ([36.1, 37.2, 36.6], 0, [36.0, 36.5, 37.0]),
    ([100.2, 106.4], 0, [100, 102, 104, 106]),
    ([15.1, 15.3], 4, [13, 14, 15, 16, 17]),  # a steady BMI stays flat instead of filling the panel
    ([142], 0, [135, 140, 145]),  # one reading still gets an axis
])
def test_value_axis_has_round_ticks_inside_a_padded_range(values, min_span, ticks):
    low, high, found = trends.value_axis(values, min_span=min_span)
    assert found == ticks
    assert low < min(values) and high > max(values)
    assert high - low >= min_span


@pytest.mark.parametrize(("start", "end", "labels"), [
    ("2020-06-02", "2026-03-18", ["2022", "2024", "2026"]),
    ("2025-02-17", "2026-05-27", ["Jul-2025", "Jan-2026"]),
    ("2025-01-10", "2025-11-20", ["Jan-2025", "Apr-2025", "Jul-2025", "Oct-2025"]),
    ("2025-03-01", "2025-03-20", ["01-Mar-2025", "08-Mar-2025", "15-Mar-2025"]),
])
def test_date_ticks_are_years_months_or_days_in_the_house_format(start, end, labels):
    domain = trends.shared_domain([Series("x", (reading(start, 1), reading(end, 2)))])
    assert [text for _, text in trends.date_ticks(domain)] == labels


def test_one_visit_gets_a_day_either_side_and_one_date_label():
    domain = trends.shared_domain([Series("x", (reading("2025-03-03T09:00", 1),))])
    assert domain.end - domain.start == 2
    assert trends.date_ticks(domain) == [(dt.date(2025, 3, 3).toordinal() + 0.5, "03-Mar-2025")]


# -- text --------------------------------------------------------------------------------------------------------


def test_describe_gives_count_range_and_latest_with_its_date():
    series = Series("Systolic BP", tuple(reading(f"2025-0{m}-03", v) for m, v in
                                         enumerate([128, 152, 140, 131, 150, 148], start=1)))
    assert trends.describe(series, "mmHg", 0) == "Systolic BP, 6 readings, 128–152 mmHg, latest 148 on 03-Jun-2025"
    one = Series("Heart rate", (reading("2025-03-03", 72),))
    assert trends.describe(one, "/min", 0) == "Heart rate, 1 reading, 72 /min on 03-Mar-2025"
    assert trends.describe(Series("SpO₂", ()), "%", 0) == "SpO₂, no readings"


# -- panels and sparklines -----------------------------------------------------------------------------------


def test_panels_given_one_domain_put_the_same_day_at_the_same_x():
    early, late = "2024-01-10T09:00", "2025-06-10T09:00"
    heart = Series("Heart rate", (reading(early, 70), reading(late, 80)), (60, 100))
    weight = Series("Weight", (reading(late, 81.5, "81.5"),))
    domain = trends.shared_domain([heart, weight])
    first = trends.panel("hr", "Heart rate", "/min", [heart], domain, 0)
    second = trends.panel("weight", "Weight", "kg", [weight], domain, 1)
    assert first["lines"][0]["last"][0] == second["lines"][0]["last"][0]
    assert [t["x"] for t in first["x_ticks"]] == [t["x"] for t in second["x_ticks"]]
    assert first["title"] == "Heart rate (/min)" and second["title"] == "Weight (kg)"


def test_a_panel_shades_its_band_and_labels_the_latest_reading():
    series = Series("Heart rate", (reading("2025-01-01", 70), reading("2025-02-01", 90)), (60, 100))
    domain = Domain(trends.day_number("2025-01-01"), trends.day_number("2025-02-01"))
    panel = trends.panel("hr", "Heart rate", "/min", [series], domain, 0, "Shaded: normal adult range 60–100 /min.")
    left, right = trends.MARGIN_LEFT, trends.PANEL_WIDTH - trends.MARGIN_RIGHT
    assert panel["lines"][0]["points"] == f"{left:g},{panel['lines'][0]['dots'][0][1]:g} " \
                                          f"{right:g},{panel['lines'][0]['last'][1]:g}"
    ticks = {t["text"]: t["y"] for t in panel["y_ticks"]}
    band = panel["bands"][0]
    assert band["y"] == ticks["100"] and band["y"] + band["height"] == ticks["60"]
    assert panel["labels"] == [{"x": right + 6, "y": panel["lines"][0]["last"][1], "text": "90", "n": 0}]
    assert panel["desc"] == ("Heart rate, 2 readings, 70–90 /min, latest 90 on 01-Feb-2025. "
                             "Shaded: normal adult range 60–100 /min.")


def test_a_single_reading_is_a_dot_without_a_line():
    series = Series("Weight", (reading("2025-03-03T09:00", 80.2, "80.2"),))
    panel = trends.panel("weight", "Weight", "kg", [series], trends.shared_domain([series]), 1)
    assert panel["lines"] == [{"n": 0, "points": "", "dots": [], "last": panel["lines"][0]["last"]}]
    assert panel["desc"] == "Weight, 1 reading, 80.2 kg on 03-Mar-2025."
    spark = trends.sparkline([series], 48, 16)
    assert spark["lines"][0]["points"] == "" and spark["lines"][0]["last"] == (24, 8)
    assert trends.sparkline([Series("Weight", ())], 48, 16) is None


def test_latest_labels_that_would_touch_are_moved_apart():
    at = "2025-03-03"
    series = [Series("Systolic BP", (reading(at, 100),)), Series("Diastolic BP", (reading(at, 99),))]
    panel = trends.panel("bp", "Blood pressure", "mmHg", series, trends.shared_domain(series), 0)
    top, bottom = sorted(label["y"] for label in panel["labels"])
    assert bottom - top >= trends.LABEL_GAP
    assert [item["text"] for item in panel["legend"]] == ["Systolic", "Diastolic"]


# -- vitals from Observations ------------------------------------------------------------------------------------


def test_vital_readings_split_blood_pressure_and_convert_other_units():
    found = charts.vital_readings([
        blood_pressure("2025-03-03T09:00", 148, 92),
        vital("8310-5", "2025-03-03T09:00", 98.6, "[degF]"),
        vital("29463-7", "2025-03-03T09:00", 176.4, "[lb_av]"),
        vital("8867-4", "2025-03-03T09:00", 300, "/min", status="entered-in-error"),
    ])
    assert [[r.value for r in line] for line in found["bp"]] == [[148], [92]]
    assert found["temp"][0][0].text == "37.0"
    assert found["weight"][0][0].text == "80.0"
    assert "hr" not in found


def test_adult_bands_are_shaded_for_adults_and_left_out_for_children():
    observations = [blood_pressure("2025-03-03T09:00", 128, 82), blood_pressure("2025-09-03T09:00", 132, 84),
                    vital("8310-5", "2025-03-03T09:00", 36.8, "Cel"), vital("8867-4", "2025-03-03T09:00", 72, "/min")]
    adult = {p["id"]: p for p in charts.vitals_chart(observations, "1970-05-01")}
    assert [p["id"] for p in adult.values()] == ["trend-bp", "trend-hr", "trend-temp"]
    assert len(adult["trend-bp"]["bands"]) == 2
    assert adult["trend-bp"]["desc"] == (
        "Systolic BP, 2 readings, 128–132 mmHg, latest 132 on 03-Sep-2025. Diastolic BP, 2 readings, 82–84 mmHg, "
        "latest 84 on 03-Sep-2025. Shaded: normal adult ranges, systolic 90–120 and diastolic 60–80 mmHg.")
    child = {p["id"]: p for p in charts.vitals_chart(observations, "2015-05-01")}
    assert child["trend-bp"]["bands"] == [] and child["trend-hr"]["bands"] == []
    assert "adult ranges do not apply" in child["trend-hr"]["desc"]
    assert len(child["trend-temp"]["bands"]) == 1  # a normal temperature is the same at any age
    unknown_age = {p["id"]: p for p in charts.vitals_chart(observations, None)}
    assert unknown_age["trend-bp"]["bands"] == []
    assert charts.vitals_chart([], "1970-05-01") == []


def test_summary_sparklines_need_two_readings():
    sparks = charts.vital_sparklines([vital("8867-4", "2025-03-03T09:00", 72, "/min"),
                                      vital("8867-4", "2025-06-03T09:00", 80, "/min"),
                                      vital("29463-7", "2025-06-03T09:00", 80, "kg")])
    assert set(sparks) == {"hr"}
    assert sparks["hr"]["width"] == charts.SPARK_SIZE[0]


# -- lab trends --------------------------------------------------------------------------------------------------


def a1c(when: str, value: float, unit: str = "%", range_: tuple | None = (4.0, 5.6), rid: str = "") -> dict:
    resource = {"resourceType": "Observation", "id": rid or when, "effectiveDateTime": when,
                "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
                "valueQuantity": {"value": value, "unit": unit, "code": unit}}
    if range_:
        resource["referenceRange"] = [{"low": {"value": range_[0], "unit": unit},
                                       "high": {"value": range_[1], "unit": unit}}]
    return resource


def test_lab_trend_summarises_earlier_results_in_the_same_unit():
    history_ = [a1c("2024-01-03", 4.8), a1c("2024-06-03", 7.1), a1c("2024-09-03", 55, unit="mmol/mol"),
                a1c("2024-12-03", 5.9), a1c("2025-03-03", 6.9)]
    trend = charts.lab_trend(history_[-1], history_)
    assert trend["summary"] == "Hemoglobin A1c, 4 results, 4.8–7.1 %, latest 6.9 on 03-Mar-2025"
    assert trend["other_units"] == 1
    assert trend["range"] == "4.0–5.6 %"
    assert (trend["first"], trend["last"]) == ("03-Jan-2024", "03-Mar-2025")
    spark = trend["spark"]
    assert len(spark["bands"]) == 1 and spark["lines"][0]["points"].count(",") == 4


def test_lab_trend_of_a_one_sided_range_and_of_a_word_result():
    ldl = {"resourceType": "Observation", "id": "ldl", "effectiveDateTime": "2025-03-03",
           "code": {"coding": [{"code": "13457-7"}]}, "valueQuantity": {"value": 130, "unit": "mg/dL"},
           "referenceRange": [{"high": {"value": 100, "unit": "mg/dL"}}]}
    earlier = {**ldl, "id": "ldl-0", "effectiveDateTime": "2024-03-03", "valueQuantity": {"value": 98,
                                                                                        "unit": "mg/dL"}}
    trend = charts.lab_trend(ldl, [earlier, ldl])
    assert trend["summary"].endswith("2 results, 98–130 mg/dL, latest 130 on 03-Mar-2025")
    assert trend["range"] == "≤ 100 mg/dL"
    band = trend["spark"]["bands"][0]
    assert band["height"] > 0 and band["y"] > trend["spark"]["lines"][0]["last"][1]  # below the latest, high value
    words = {"resourceType": "Observation", "id": "u", "valueCodeableConcept": {"text": "Negative"}}
    assert charts.lab_trend(words, [words]) is None


# -- immunizations, procedures and notes ---------------------------------------------------------------------------


def test_immunization_rows_from_the_seed_and_from_synthea():
    seeded = history.immunization_row({
        "resourceType": "Immunization", "id": "i1", "status": "completed",
        "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "216"}],
                        "text": "Pneumococcal conjugate vaccine (PCV20)"},
        "occurrenceDateTime": "2022-06-02T13:25:00-05:00", "lotNumber": "JT8895", "primarySource": True,
        "protocolApplied": [{"doseNumberPositiveInt": 1, "seriesDosesPositiveInt": 2}]})
    assert {k: seeded[k] for k in ("vaccine", "code", "date", "dose", "status", "lot", "origin")} == {
        "vaccine": "Pneumococcal conjugate vaccine (PCV20)", "code": "CVX 216", "date": "02-Jun-2022",
        "dose": "1 of 2", "status": "Completed", "lot": "JT8895", "origin": ""}
    synthea = history.immunization_row({
        "resourceType": "Immunization", "id": "i2", "status": "completed",
        "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "62",
                                    "display": "HPV, quadrivalent"}]},
        "occurrenceDateTime": "2014-08-19T01:16:46-04:00", "primarySource": True})
    assert (synthea["vaccine"], synthea["dose"], synthea["lot"]) == ("HPV, quadrivalent", "Not known", "Not known")
    historical = history.immunization_row({"resourceType": "Immunization", "status": "not-done",
                                           "primarySource": False,
                                           "reportOrigin": {"coding": [{"display": "Written Record"}]},
                                           "statusReason": {"text": "Patient refused"}})
    assert historical["origin"] == "Written Record" and historical["status"] == "Not done (Patient refused)"
    assert historical["date"] == "Not known" and historical["vaccine"] == "Not known" and not historical["given"]


def test_procedure_rows_read_not_known_for_what_is_missing():
    row = history.procedure_row({
        "resourceType": "Procedure", "id": "p1", "status": "completed",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "430193006",
                             "display": "Medication Reconciliation (procedure)"}]},
        "performedPeriod": {"start": "2022-06-22T12:31:08-04:00", "end": "2022-06-22T12:46:08-04:00"}})
    assert {k: row[k] for k in ("date", "name", "code", "performer", "status", "reason")} == {
        "date": "22-Jun-2022 12:31", "name": "Medication Reconciliation (procedure)", "code": "SNOMED CT 430193006",
        "performer": "Not known", "status": "Completed", "reason": "Not known"}
    reasoned = history.procedure_row({"performedDateTime": "2025-03-03",
                                      "performer": [{"actor": {"display": "Dr. Lori McDonald, MD"}}],
                                      "reasonReference": [{"display": "Type 2 diabetes"}]})
    assert (reasoned["performer"], reasoned["reason"]) == ("Dr. Lori McDonald, MD", "Type 2 diabetes")


def test_note_rows_and_text():
    encounter = {"class": "Ambulatory", "type": "Follow-up visit"}
    note = {"resourceType": "DocumentReference", "id": "n1", "status": "superseded", "date": "2026-03-18T09:25:00Z",
            "type": {"coding": [{"code": "34117-2", "display": "History and physical note"}]},
            "author": [{"display": "Dr. Liane Kunze"}],
            "context": {"encounter": [{"reference": "Encounter/e1"}]},
            "content": [{"attachment": {"contentType": "text/plain; charset=iso-8859-1",
                                        "data": encoded("Café <b>visit</b>\n", "iso-8859-1")}}]}
    row = history.note_row(note, {"e1": encounter})
    assert {k: row[k] for k in ("date", "type", "author", "encounter", "status")} == {
        "date": "18-Mar-2026 09:25", "type": "History and physical note", "author": "Dr. Liane Kunze",
        "encounter": "Ambulatory · Follow-up visit", "status": "Superseded"}
    assert history.note_text(note) == {"text": "Café <b>visit</b>"}
    bare = history.note_row({"resourceType": "DocumentReference"}, {})
    assert (bare["date"], bare["author"], bare["encounter"], bare["type"]) == (
        "Not known", "Not known", "Not known", "Clinical note")


@pytest.mark.parametrize(("attachment", "said"), [
    (None, "no content attached"),
    ({"contentType": "application/pdf", "data": encoded("%PDF")}, "application/pdf file"),
    ({"contentType": "text/plain", "url": "https://example.org/n/1"}, "stored elsewhere (https://example.org/n/1)"),
    ({"contentType": "text/plain", "data": "***"}, "not valid base64"),
])
def test_note_text_says_why_it_cannot_be_shown(attachment, said):
    note = {"content": [{"attachment": attachment}] if attachment else []}
    assert said in history.note_text(note)["problem"]


def test_note_text_prefers_plain_text_and_keeps_html_as_source():
    html = {"contentType": "text/html", "data": encoded("<p>Seen today</p>")}
    plain = {"contentType": "text/plain", "data": encoded("Seen today")}
    assert history.note_text({"content": [{"attachment": html}, {"attachment": plain}]}) == {"text": "Seen today"}
    shown = history.note_text({"content": [{"attachment": html}]})
    assert shown["text"] == "<p>Seen today</p>" and "source text is shown" in shown["source"]
