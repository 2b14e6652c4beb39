"""FHIR R4 search over HTTP (search.html): every parameter kind the store indexes, modifiers, date
prefixes, OR and AND, sorting, totals, _summary/_elements, _include/_revinclude, POST _search, unknown
parameters and paging by following links."""

import pytest

LOINC, SNOMED = "http://loinc.org", "http://snomed.info/sct"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CVX = "http://hl7.org/fhir/sid/cvx"
NPI = "http://hl7.org/fhir/sid/us-npi"


def concept(system, code, text=None):
    value = {"coding": [{"system": system, "code": code}]}
    if text:
        value["text"] = text
    return value


def ref(target):
    return {"reference": target}


def clinical_status(code, system="http://terminology.hl7.org/CodeSystem/condition-clinical"):
    return concept(system, code)


RESOURCES = [
    {"resourceType": "Patient", "id": "p1", "identifier": [{"system": "urn:mrn", "value": "1001"}],
     "name": [{"family": "Smith", "given": ["Ann", "Marie"]}], "gender": "female", "birthDate": "1970-05-12",
     "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Ann Smith</div>"},
     "maritalStatus": {"text": "Married"}, "managingOrganization": ref("Organization/org1")},
    {"resourceType": "Patient", "id": "p2", "identifier": [{"system": "urn:mrn", "value": "1002"}],
     "name": [{"family": "Smithson", "given": ["Bob"]}], "gender": "male", "birthDate": "1985-01-30"},
    {"resourceType": "Patient", "id": "p3", "identifier": [{"system": "urn:other", "value": "1001"}],
     "name": [{"family": "Müller", "given": ["Renée"]}], "gender": "female", "birthDate": "2001-11-02"},
    {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"system": ACT_CODE, "code": "AMB"},
     "type": [concept(SNOMED, "185349003")], "subject": ref("Patient/p1"),
     "period": {"start": "2024-01-10T09:00:00Z", "end": "2024-01-10T10:00:00Z"},
     "participant": [{"individual": ref("Practitioner/dr-a")}]},
    {"resourceType": "Encounter", "id": "e2", "status": "in-progress", "class": {"system": ACT_CODE, "code": "IMP"},
     "type": [concept(SNOMED, "32485007")], "subject": ref("Patient/p1"),
     "period": {"start": "2024-03-05T08:00:00Z"}},
    {"resourceType": "Encounter", "id": "e3", "status": "finished", "class": {"system": ACT_CODE, "code": "EMER"},
     "subject": ref("Patient/p2"), "period": {"start": "2023-12-31T22:00:00Z", "end": "2023-12-31T23:30:00Z"}},
    {"resourceType": "Observation", "id": "o1", "status": "final", "category": [concept(OBS_CATEGORY, "vital-signs")],
     "code": concept(LOINC, "8867-4"), "subject": ref("Patient/p1"), "encounter": ref("Encounter/e1"),
     "effectiveDateTime": "2024-01-10T09:30:00Z", "valueQuantity": {"value": 72, "unit": "/min"}},
    {"resourceType": "Observation", "id": "o2", "status": "final", "category": [concept(OBS_CATEGORY, "laboratory")],
     "code": concept(LOINC, "4548-4"), "subject": ref("Patient/p1"), "encounter": ref("Encounter/e2"),
     "effectiveDateTime": "2024-03-05"},
    {"resourceType": "Observation", "id": "o3", "status": "preliminary",
     "category": [concept(OBS_CATEGORY, "laboratory")], "code": concept(LOINC, "4548-4"),
     "subject": ref("Patient/p2"), "effectiveDateTime": "2023-06-01"},
    {"resourceType": "Condition", "id": "c1", "clinicalStatus": clinical_status("active"),
     "category": [concept("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item")],
     "code": concept(SNOMED, "44054006"), "subject": ref("Patient/p1"), "encounter": ref("Encounter/e1"),
     "onsetDateTime": "2015-04-01"},
    {"resourceType": "Condition", "id": "c2", "clinicalStatus": clinical_status("resolved"),
     "category": [concept("http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis")],
     "code": concept(SNOMED, "195662009"), "subject": ref("Patient/p2"), "encounter": ref("Encounter/e3"),
     "onsetDateTime": "2023-12-31"},
    {"resourceType": "MedicationRequest", "id": "m1", "status": "active", "intent": "order",
     "medicationCodeableConcept": concept("http://www.nlm.nih.gov/research/umls/rxnorm", "860975"),
     "subject": ref("Patient/p1"), "encounter": ref("Encounter/e1"), "authoredOn": "2024-01-10"},
    {"resourceType": "MedicationRequest", "id": "m2", "status": "stopped", "intent": "plan",
     "medicationCodeableConcept": concept("http://www.nlm.nih.gov/research/umls/rxnorm", "197361"),
     "subject": ref("Patient/p2"), "authoredOn": "2022-05-01"},
    {"resourceType": "AllergyIntolerance", "id": "a1", "patient": ref("Patient/p1"),
     "clinicalStatus": clinical_status("active", "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical")},
    {"resourceType": "AllergyIntolerance", "id": "a2", "patient": ref("Patient/p2"),
     "clinicalStatus": clinical_status("inactive",
                                       "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical")},
    {"resourceType": "Immunization", "id": "i1", "status": "completed", "vaccineCode": concept(CVX, "140"),
     "patient": ref("Patient/p1"), "occurrenceDateTime": "2023-10-01"},
    {"resourceType": "Immunization", "id": "i2", "status": "not-done", "vaccineCode": concept(CVX, "207"),
     "patient": ref("Patient/p2"), "occurrenceDateTime": "2021-05-05"},
    {"resourceType": "Procedure", "id": "pr1", "status": "completed", "code": concept(SNOMED, "73761001"),
     "subject": ref("Patient/p1"), "performedDateTime": "2024-01-10"},
    {"resourceType": "Procedure", "id": "pr2", "status": "in-progress", "code": concept(SNOMED, "80146002"),
     "subject": ref("Patient/p2"), "performedPeriod": {"start": "2020-02-02", "end": "2020-02-03"}},
    {"resourceType": "DiagnosticReport", "id": "dr1", "status": "final",
     "category": [concept("http://terminology.hl7.org/CodeSystem/v2-0074", "LAB")], "code": concept(LOINC, "4548-4"),
     "subject": ref("Patient/p1"), "effectiveDateTime": "2024-03-05", "result": [ref("Observation/o2")]},
    {"resourceType": "DiagnosticReport", "id": "dr2", "status": "final",
     "category": [concept("http://terminology.hl7.org/CodeSystem/v2-0074", "RAD")], "code": concept(LOINC, "36643-5"),
     "subject": ref("Patient/p2"), "effectiveDateTime": "2023-01-01"},
    {"resourceType": "DocumentReference", "id": "d1", "status": "current",
     "category": [concept("http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
                          "clinical-note")],
     "type": concept(LOINC, "11506-3"), "subject": ref("Patient/p1"), "date": "2024-01-10T10:00:00Z",
     "content": [{"attachment": {"contentType": "text/plain", "data": "SGVsbG8="}}]},
    {"resourceType": "DocumentReference", "id": "d2", "status": "current", "type": concept(LOINC, "18842-5"),
     "subject": ref("Patient/p2"), "date": "2023-12-31T23:00:00Z",
     "content": [{"attachment": {"contentType": "text/plain", "data": "SGVsbG8="}}]},
    {"resourceType": "Practitioner", "id": "dr-a", "identifier": [{"system": NPI, "value": "1234567893"}],
     "name": [{"family": "House", "given": ["Gregory"]}]},
    {"resourceType": "Practitioner", "id": "dr-b", "identifier": [{"system": NPI, "value": "1111111111"}],
     "name": [{"family": "Cuddy", "given": ["Lisa"]}]},
    {"resourceType": "Organization", "id": "org1", "identifier": [{"system": "urn:org", "value": "GH"}],
     "name": "General Hospital"},
    {"resourceType": "Organization", "id": "org2", "name": "Sunrise Clinic"},
    {"resourceType": "Location", "id": "loc1", "identifier": [{"system": "urn:loc", "value": "MC"}],
     "name": "Main Campus"},
    {"resourceType": "Location", "id": "loc2", "name": "North Wing"},
]


@pytest.fixture
def data(store):
    store.load(RESOURCES)
    return store


def found(client, query):
    response = client.get(f"/fhir/{query}&_count=100" if "?" in query else f"/fhir/{query}?_count=100")
    assert response.status_code == 200, response.json
    bundle = response.json
    assert bundle["type"] == "searchset"
    matches = [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]
    assert bundle["total"] == len(matches)
    return sorted(matches)


@pytest.mark.parametrize(("query", "expected"), [
    ("Patient?_id=p1", ["p1"]),
    ("Patient?_id=p1,p2", ["p1", "p2"]),
    ("Patient?identifier=urn:mrn|1001", ["p1"]),
    ("Patient?identifier=1001", ["p1", "p3"]),
    ("Patient?identifier=urn:mrn|", ["p1", "p2"]),
    ("Patient?name=smi", ["p1", "p2"]),
    ("Patient?name=SMITH", ["p1", "p2"]),
    ("Patient?name:exact=Smith", ["p1"]),
    ("Patient?name:exact=smith", []),
    ("Patient?name:contains=mith", ["p1", "p2"]),
    ("Patient?family=muller", ["p3"]),
    ("Patient?given=ann", ["p1"]),
    ("Patient?given=marie", ["p1"]),
    ("Patient?gender=female", ["p1", "p3"]),
    ("Patient?gender=female,male", ["p1", "p2", "p3"]),
    ("Patient?gender=female&family=smith", ["p1"]),
    ("Patient?birthdate=1970", ["p1"]),
    ("Patient?birthdate=1970-05", ["p1"]),
    ("Patient?birthdate=eq1970-05-12", ["p1"]),
    ("Patient?birthdate=ne1970-05-12", ["p2", "p3"]),
    ("Patient?birthdate=gt1985-01-30", ["p3"]),
    ("Patient?birthdate=lt1985-01-30", ["p1"]),
    ("Patient?birthdate=ge1985-01-30", ["p2", "p3"]),
    ("Patient?birthdate=le1985-01-30", ["p1", "p2"]),
    ("Patient?birthdate=sa1985", ["p3"]),
    ("Patient?birthdate=eb1985", ["p1"]),
    ("Patient?birthdate=ge1970&birthdate=lt2000", ["p1", "p2"]),
    ("Patient?birthdate=1970,2001", ["p1", "p3"]),
    ("Patient?_lastUpdated=gt2000-01-01", ["p1", "p2", "p3"]),
    ("Patient?_lastUpdated=lt2000-01-01", []),
])
def test_patient_search(client, data, query, expected):
    assert found(client, query) == expected


@pytest.mark.parametrize(("query", "expected"), [
    ("Encounter?patient=p1", ["e1", "e2"]),
    ("Encounter?patient=Patient/p2", ["e3"]),
    ("Encounter?date=2024-01", ["e1"]),
    ("Encounter?date=ge2024", ["e1", "e2"]),
    ("Encounter?date=2023-12-31", ["e3"]),
    ("Encounter?status=finished", ["e1", "e3"]),
    ("Encounter?class=IMP", ["e2"]),
    (f"Encounter?class={ACT_CODE}|EMER", ["e3"]),
    (f"Encounter?type={SNOMED}|185349003", ["e1"]),
    ("Encounter?patient=p1&status=finished", ["e1"]),
    ("Observation?patient=p1", ["o1", "o2"]),
    ("Observation?subject=Patient/p2", ["o3"]),
    ("Observation?category=laboratory", ["o2", "o3"]),
    (f"Observation?category={OBS_CATEGORY}|vital-signs", ["o1"]),
    (f"Observation?code={LOINC}|4548-4", ["o2", "o3"]),
    ("Observation?code=8867-4,4548-4", ["o1", "o2", "o3"]),
    ("Observation?date=2024-03-05", ["o2"]),
    ("Observation?date=lt2024", ["o3"]),
    ("Observation?status=preliminary", ["o3"]),
    ("Observation?encounter=e1", ["o1"]),
    ("Observation?patient=p1&code=4548-4", ["o2"]),
    ("Observation?status:not=final", ["o3"]),
    ("Condition?patient=p1", ["c1"]),
    ("Condition?category=encounter-diagnosis", ["c2"]),
    ("Condition?clinical-status=active", ["c1"]),
    (f"Condition?code={SNOMED}|44054006", ["c1"]),
    ("Condition?onset-date=le2016", ["c1"]),
    ("Condition?encounter=Encounter/e3", ["c2"]),
    ("MedicationRequest?patient=p2", ["m2"]),
    ("MedicationRequest?status=active", ["m1"]),
    ("MedicationRequest?intent=plan", ["m2"]),
    ("MedicationRequest?authoredon=ge2024-01-01", ["m1"]),
    ("MedicationRequest?encounter=e1", ["m1"]),
    ("AllergyIntolerance?patient=p1", ["a1"]),
    ("AllergyIntolerance?clinical-status=inactive", ["a2"]),
    ("Immunization?patient=p1", ["i1"]),
    ("Immunization?date=2021", ["i2"]),
    ("Immunization?status=not-done", ["i2"]),
    (f"Immunization?vaccine-code={CVX}|140", ["i1"]),
    ("Procedure?patient=p2", ["pr2"]),
    ("Procedure?date=2024-01-10", ["pr1"]),
    ("Procedure?date=2020-02", ["pr2"]),
    ("Procedure?date=2020-02-02", []),  # the period ends on the 3rd: not contained in the day
    ("Procedure?code=80146002", ["pr2"]),
    ("Procedure?status=completed", ["pr1"]),
    ("DiagnosticReport?patient=p1", ["dr1"]),
    ("DiagnosticReport?category=RAD", ["dr2"]),
    (f"DiagnosticReport?code={LOINC}|4548-4", ["dr1"]),
    ("DiagnosticReport?date=2023", ["dr2"]),
    ("DocumentReference?patient=p2", ["d2"]),
    ("DocumentReference?category=clinical-note", ["d1"]),
    (f"DocumentReference?type={LOINC}|18842-5", ["d2"]),
    ("DocumentReference?date=ge2024", ["d1"]),
    ("Practitioner?name=house", ["dr-a"]),
    (f"Practitioner?identifier={NPI}|1111111111", ["dr-b"]),
    ("Organization?name=general", ["org1"]),
    ("Organization?name=sunrise", ["org2"]),
    ("Organization?identifier=urn:org|GH", ["org1"]),
    ("Location?name=north", ["loc2"]),
    ("Location?identifier=urn:loc|MC", ["loc1"]),
])
def test_clinical_search(client, data, query, expected):
    assert found(client, query) == expected


def ordered(client, query):
    return [e["resource"]["id"] for e in client.get(f"/fhir/{query}").json["entry"]]


def test_sort(client, data):
    assert ordered(client, "Patient?_sort=birthdate") == ["p1", "p2", "p3"]
    assert ordered(client, "Patient?_sort=-birthdate") == ["p3", "p2", "p1"]
    assert ordered(client, "Patient?_sort=family") == ["p3", "p1", "p2"]
    assert ordered(client, "Encounter?_sort=-date") == ["e2", "e1", "e3"]
    assert ordered(client, "Observation?_sort=status,-date") == ["o2", "o1", "o3"]
    assert client.get("/fhir/Patient?_sort=shoe-size").status_code == 400


def test_total_and_summary_count(client, data):
    none = client.get("/fhir/Patient?_total=none").json
    assert "total" not in none
    assert len(none["entry"]) == 3
    count = client.get("/fhir/Observation?_summary=count").json
    assert count["total"] == 3
    assert "entry" not in count
    zero = client.get("/fhir/Observation?_count=0").json
    assert zero["total"] == 3
    assert "entry" not in zero


def test_summary_true_keeps_summary_elements_and_tags_subsetted(client, data):
    bundle = client.get("/fhir/Patient?_id=p1&_summary=true").json
    resource = bundle["entry"][0]["resource"]
    assert set(resource) == {"resourceType", "id", "meta", "identifier", "name", "gender", "birthDate",
                             "managingOrganization"}
    assert resource["meta"]["tag"] == [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
                                        "code": "SUBSETTED", "display": "subsetted"}]


def test_summary_data_and_text(client, data):
    no_text = client.get("/fhir/Patient?_id=p1&_summary=data").json["entry"][0]["resource"]
    assert "text" not in no_text
    assert no_text["maritalStatus"] == {"text": "Married"}
    text = client.get("/fhir/Patient?_id=p1&_summary=text").json["entry"][0]["resource"]
    assert set(text) == {"resourceType", "id", "meta", "text"}
    obs = client.get("/fhir/Observation?_id=o1&_summary=text").json["entry"][0]["resource"]
    assert set(obs) == {"resourceType", "id", "meta", "status", "code"}


def test_pretty_search_bundle_holds_the_same_data(client, data):
    pretty = client.get("/fhir/Patient?_sort=birthdate&_pretty=true")
    compact = client.get("/fhir/Patient?_sort=birthdate")
    assert pretty.get_data(as_text=True).startswith('{\n  "resourceType": "Bundle"')
    assert [e["resource"] for e in pretty.json["entry"]] == [e["resource"] for e in compact.json["entry"]]


def test_elements(client, data):
    resource = client.get("/fhir/Patient?_id=p1&_elements=birthDate,gender").json["entry"][0]["resource"]
    assert set(resource) == {"resourceType", "id", "meta", "birthDate", "gender"}
    assert resource["meta"]["tag"][0]["code"] == "SUBSETTED"


def test_include_and_revinclude(client, data):
    bundle = client.get("/fhir/Encounter?_id=e1&_include=Encounter:patient&_include=Encounter:participant").json
    modes = sorted((e["search"]["mode"], e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"])
    assert modes == [("include", "Patient", "p1"), ("include", "Practitioner", "dr-a"), ("match", "Encounter", "e1")]
    assert bundle["total"] == 1
    rev = client.get("/fhir/Patient?_id=p2&_revinclude=Encounter:patient&_revinclude=Observation:subject").json
    modes = sorted((e["search"]["mode"], e["resource"]["id"]) for e in rev["entry"])
    assert modes == [("include", "e3"), ("include", "o3"), ("match", "p2")]
    report = client.get("/fhir/DiagnosticReport?_id=dr1&_include=DiagnosticReport:result").json
    assert [e["resource"]["id"] for e in report["entry"]] == ["dr1", "o2"]
    assert client.get("/fhir/Encounter?_include=Encounter:nonsense").status_code == 400


def test_entries_have_full_urls_built_from_base_url(client, data):
    bundle = client.post("/fhir/Patient/_search", data={"_id": "p1"}).json
    assert bundle["entry"][0]["fullUrl"] == "http://localhost/fhir/Patient/p1"
    rebound = client.post("/fhir/Patient/_search", data={"_id": "p1"}, base_url="http://127.0.0.1:5000")
    assert rebound.status_code == 421 and rebound.json["resourceType"] == "OperationOutcome"  # DNS rebinding
    assert bundle["link"][0] == {"relation": "self", "url": "http://localhost/fhir/Patient?_id=p1&_count=20&_offset=0"}


def test_post_search_merges_form_body_and_query(client, data):
    response = client.post("/fhir/Patient/_search?gender=female", data={"family": "smith"})
    assert response.status_code == 200
    assert [e["resource"]["id"] for e in response.json["entry"]] == ["p1"]
    json_body = client.post("/fhir/Patient/_search", json={"family": "smith"})
    assert json_body.status_code == 415


def test_unknown_parameters_under_lenient_handling_are_ignored_and_reported(client, data):
    bundle = client.get("/fhir/Patient?family=smith&shoe-size=12&patient.name=x",
                        headers={"Prefer": "handling=lenient"}).json
    matches = [e for e in bundle["entry"] if e["search"]["mode"] == "match"]
    assert [e["resource"]["id"] for e in matches] == ["p1", "p2"]
    outcome = bundle["entry"][-1]
    assert outcome["search"] == {"mode": "outcome"}
    assert outcome["resource"]["issue"][0]["severity"] == "warning"
    assert "shoe-size, patient.name" in outcome["resource"]["issue"][0]["diagnostics"]
    assert bundle["link"][0]["url"] == "http://localhost/fhir/Patient?family=smith&_count=20&_offset=0"


@pytest.mark.parametrize("headers", [{}, {"Prefer": "handling=strict"}])
def test_unknown_parameters_are_400_by_default_and_under_strict_handling(client, data, headers):
    response = client.get("/fhir/Patient?shoe-size=12", headers=headers)
    assert response.status_code == 400
    assert response.json["issue"][0]["diagnostics"].startswith(
        "Patient search does not support 'shoe-size' (unknown parameter).")


def test_paging_visits_every_resource_exactly_once(client, store):
    store.load([{"resourceType": "Observation", "id": f"obs-{n:02d}", "status": "final",
                 "code": {"text": "x"}, "subject": {"reference": "Patient/p1"}} for n in range(47)])
    url = "/fhir/Observation?patient=p1&_count=10"
    seen, pages = [], 0
    while url:
        bundle = client.get(url).json
        pages += 1
        assert bundle["total"] == 47
        seen += [e["resource"]["id"] for e in bundle["entry"]]
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        assert links["first"] == "http://localhost/fhir/Observation?patient=p1&_count=10&_offset=0"
        assert links["last"] == "http://localhost/fhir/Observation?patient=p1&_count=10&_offset=40"
        assert ("previous" in links) == (pages > 1)
        url = links.get("next")
    assert pages == 5
    assert sorted(seen) == [f"obs-{n:02d}" for n in range(47)]
    assert len(seen) == len(set(seen))
    previous = client.get("/fhir/Observation?patient=p1&_count=10&_offset=40").json
    back = {link["relation"]: link["url"] for link in previous["link"]}["previous"]
    assert back == "http://localhost/fhir/Observation?patient=p1&_count=10&_offset=30"


def test_count_is_capped_by_max_page_size(client, store, app):
    app.config["MAX_PAGE_SIZE"] = 5
    store.load([{"resourceType": "Organization", "id": f"org-{n}", "name": f"Org {n}"} for n in range(8)])
    bundle = client.get("/fhir/Organization?_count=500").json
    assert len(bundle["entry"]) == 5
    assert bundle["total"] == 8


def test_searching_an_unknown_type_is_404(client):
    response = client.get("/fhir/Spaceship?name=x")
    assert response.status_code == 404
    assert response.json["issue"][0]["diagnostics"].startswith("Unknown resource type 'Spaceship'")


def test_empty_result_is_a_bundle_with_total_zero(client):
    bundle = client.get("/fhir/Patient?family=nobody").json
    assert bundle["total"] == 0
    assert "entry" not in bundle
    assert {link["relation"] for link in bundle["link"]} == {"self", "first", "last"}
