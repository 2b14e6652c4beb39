"""Number, quantity and composite search (R4 search.html §3.1.1.5.1, §3.1.1.5.6, §3.1.1.5.8) and the ``ap``
prefix, on the seeded database. Each expected set is worked out in Python from the stored JSON and compared with
the search, read page by page, also under a patient-scoped and a granular token."""

from decimal import Decimal

import pytest

from tests.test_fhir_search_chaining import STORY_PATIENT, bearer, matching, pages, stored

HBA1C, SYSTOLIC, DIASTOLIC, BP_PANEL = "4548-4", "8480-6", "8462-4", "85354-9"
LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"


def loinc_codes(concept: dict | None) -> set[str]:
    return {c.get("code") for c in (concept or {}).get("coding", []) if c.get("system") == LOINC}


def observations(app) -> list[dict]:
    return stored(app, "Observation")


def with_value(app, code: str, test) -> set[str]:
    """Ids of the observations of ``code`` whose valueQuantity passes ``test``."""
    return {o["id"] for o in observations(app) if code in loinc_codes(o.get("code"))
            and "valueQuantity" in o and test(Decimal(str(o["valueQuantity"]["value"])))}


@pytest.mark.parametrize(("prefix", "test"), [
    ("gt", lambda v: v > Decimal("7")),
    ("ge", lambda v: v >= Decimal("7")),
    ("lt", lambda v: v < Decimal("7")),
    ("le", lambda v: v <= Decimal("7")),
    ("sa", lambda v: v > Decimal("7")),
    ("eb", lambda v: v < Decimal("7")),
    ("eq", lambda v: Decimal("6.5") <= v < Decimal("7.5")),  # "7" stands for [6.5, 7.5)
    ("ne", lambda v: not Decimal("6.5") <= v < Decimal("7.5")),
    ("ap", lambda v: Decimal("6.3") <= v <= Decimal("7.7")),  # within 10 %
])
def test_value_quantity_prefixes_match_the_stored_values(seeded_app, seeded_client, prefix, test):
    expected = with_value(seeded_app, HBA1C, test)
    assert expected
    assert matching(seeded_client, f"/fhir/Observation?code={HBA1C}&value-quantity={prefix}7") == expected
    assert matching(seeded_client, f"/fhir/Observation?code={HBA1C}&value-quantity={prefix}7|{UCUM}|%") == expected
    assert matching(seeded_client, f"/fhir/Observation?code={HBA1C}&value-quantity={prefix}7||%") == expected


def test_precision_of_the_value_sets_the_range_of_eq(seeded_app, seeded_client):
    sample = next(o for o in observations(seeded_app) if HBA1C in loinc_codes(o.get("code")) and "valueQuantity" in o)
    value = Decimal(str(sample["valueQuantity"]["value"]))
    exact = with_value(seeded_app, HBA1C, lambda v: v == value)
    assert sample["id"] in exact
    assert matching(seeded_client, f"/fhir/Observation?code={HBA1C}&value-quantity={value}") == \
        with_value(seeded_app, HBA1C, lambda v: value - Decimal("0.05") <= v < value + Decimal("0.05"))


def test_a_unit_of_another_system_or_code_matches_nothing(seeded_client):
    assert matching(seeded_client, f"/fhir/Observation?code={HBA1C}&value-quantity=gt1||mg") == set()
    assert matching(seeded_client, f"/fhir/Observation?code={HBA1C}&value-quantity=gt1|http://example.org|%") == set()


def test_quantities_compare_across_metric_prefixes(seeded_app, seeded_client):
    """5 mg and 0.004 g are compared in grams: R4 §3.1.1.5.6 allows canonical units."""
    created = {}
    for value, code in ((5, "mg"), (0.004, "g"), (4000, "ug")):
        body = {"resourceType": "Observation", "status": "final",
                "code": {"coding": [{"system": "http://example.org/checks", "code": "dose"}]},
                "subject": {"reference": f"Patient/{STORY_PATIENT}"},
                "valueQuantity": {"value": value, "unit": code, "system": UCUM, "code": code}}
        response = seeded_client.post("/fhir/Observation", json=body)
        assert response.status_code == 201, response.json
        created[code] = response.json["id"]
    base = "/fhir/Observation?code=http://example.org/checks|dose"
    assert matching(seeded_client, f"{base}&value-quantity=gt4.5|{UCUM}|mg") == {created["mg"]}
    assert matching(seeded_client, f"{base}&value-quantity=4||mg") == {created["g"], created["ug"]}
    assert matching(seeded_client, f"{base}&value-quantity=lt0.0045|{UCUM}|g") == {created["g"], created["ug"]}
    assert matching(seeded_client, f"{base}&value-quantity=ge4|{UCUM}|mg&value-quantity=le5000|{UCUM}|ug") == \
        set(created.values())


def test_body_weight_in_kilograms_is_found_in_grams(seeded_app, seeded_client):
    weight = "29463-7"
    expected = with_value(seeded_app, weight, lambda v: v > 80)
    assert expected
    assert matching(seeded_client, f"/fhir/Observation?code={weight}&value-quantity=gt80000|{UCUM}|g") == expected
    assert matching(seeded_client, f"/fhir/Observation?code={weight}&value-quantity=gt80000||g") == expected


def components_with(app, code: str, test) -> set[str]:
    """Observations with a component of ``code`` whose own valueQuantity passes ``test`` (same component)."""
    return {o["id"] for o in observations(app) for c in o.get("component", [])
            if code in loinc_codes(c.get("code")) and "valueQuantity" in c
            and test(Decimal(str(c["valueQuantity"]["value"])))}


def test_component_code_value_quantity_pairs_code_and_value_of_one_component(seeded_app, seeded_client):
    expected = components_with(seeded_app, SYSTOLIC, lambda v: v > 130)
    assert expected
    assert matching(seeded_client, f"/fhir/Observation?component-code-value-quantity={LOINC}|{SYSTOLIC}$gt130") \
        == expected
    assert matching(seeded_client, f"/fhir/Observation?combo-code-value-quantity={SYSTOLIC}$gt130") == expected
    # Not the same as two independent parameters: the diastolic value never pairs with the systolic code.
    paired = components_with(seeded_app, SYSTOLIC, lambda v: v < 110)
    loose = matching(seeded_client, f"/fhir/Observation?component-code={SYSTOLIC}&component-value-quantity=lt110")
    assert paired < loose  # a diastolic under 110 is enough for the loose pair, not for the composite
    assert matching(seeded_client, f"/fhir/Observation?component-code-value-quantity={SYSTOLIC}$lt110") == paired


def test_code_value_quantity_and_ors(seeded_app, seeded_client):
    expected = with_value(seeded_app, HBA1C, lambda v: v >= Decimal("6.5"))
    lows = with_value(seeded_app, HBA1C, lambda v: v < 5)
    assert matching(seeded_client, f"/fhir/Observation?code-value-quantity={LOINC}|{HBA1C}$ge6.5") == expected
    assert matching(seeded_client, f"/fhir/Observation?code-value-quantity={HBA1C}$ge6.5,{HBA1C}$lt5") == \
        expected | lows


def test_code_value_concept(seeded_app, seeded_client):
    pairs = {(code, coding.get("code")) for o in observations(seeded_app) for code in loinc_codes(o.get("code"))
             for coding in o.get("valueCodeableConcept", {}).get("coding", [])}
    assert pairs
    code, value = sorted(pairs)[0]
    expected = {o["id"] for o in observations(seeded_app) if code in loinc_codes(o.get("code"))
                and value in {c.get("code") for c in o.get("valueCodeableConcept", {}).get("coding", [])}}
    assert matching(seeded_client, f"/fhir/Observation?code-value-concept={code}${value}") == expected


def test_quantity_searches_page_with_a_steady_total(seeded_app, seeded_client):
    expected = with_value(seeded_app, HBA1C, lambda v: v > 6)
    ids, total, count = pages(seeded_client, f"/fhir/Observation?code={HBA1C}&value-quantity=gt6&_count=3")
    assert (sorted(ids), total) == (sorted(expected), len(expected))
    assert count == (total + 2) // 3
    assert matching(seeded_client, f"/fhir/Observation?code={HBA1C}&value-quantity=gt6&_sort=value-quantity") \
        == expected


def test_a_patient_scoped_token_sees_only_its_patients_values(seeded_app, seeded_client):
    mine = matching(seeded_client, f"/fhir/Observation?patient={STORY_PATIENT}")
    expected = with_value(seeded_app, HBA1C, lambda v: v > 6) & mine
    headers = bearer(seeded_app, "patient/*.rs", patient=STORY_PATIENT)
    assert expected
    assert matching(seeded_client, f"/fhir/Observation?code={HBA1C}&value-quantity=gt6", headers) == expected
    ids, total, _ = pages(seeded_client, f"/fhir/Observation?code-value-quantity={HBA1C}$gt6&_count=2", headers)
    assert (sorted(ids), total) == (sorted(expected), len(expected))


def test_a_granular_token_hides_what_its_category_does_not_cover(seeded_app, seeded_client):
    labs = matching(seeded_client, f"/fhir/Observation?patient={STORY_PATIENT}&category=laboratory")
    vitals = matching(seeded_client, f"/fhir/Observation?patient={STORY_PATIENT}&category=vital-signs")
    granular = bearer(seeded_app, "patient/Observation.rs?category=laboratory", patient=STORY_PATIENT)
    assert matching(seeded_client, f"/fhir/Observation?code={HBA1C}&value-quantity=gt0", granular) == \
        with_value(seeded_app, HBA1C, lambda v: v > 0) & labs
    systolic = components_with(seeded_app, SYSTOLIC, lambda v: v > 0) & vitals
    assert systolic
    assert matching(seeded_client, f"/fhir/Observation?component-code-value-quantity={SYSTOLIC}$gt0", granular) \
        == set()


def test_date_ap_takes_in_values_near_the_date(seeded_app, seeded_client):
    mine = [o for o in observations(seeded_app) if o.get("subject", {}).get("reference") == f"Patient/{STORY_PATIENT}"]
    timed = [o for o in mine if "effectiveDateTime" in o]
    day = sorted(o["effectiveDateTime"][:10] for o in timed)[len(timed) // 2]
    same_day = {o["id"] for o in timed if o["effectiveDateTime"][:10] == day}
    near = matching(seeded_client, f"/fhir/Observation?patient={STORY_PATIENT}&date=ap{day}")
    assert same_day <= near
    assert near < {o["id"] for o in mine}  # far-away dates are left out (a period around the day, such as a job's,
    # is near it)


@pytest.mark.parametrize(("query", "named"), [
    ("value-quantity=abc", "'abc' is not a valid quantity search value"),
    ("value-quantity=5|a", "'5|a' is not a quantity search value"),
    ("code-value-quantity=8480-6", "'code-value-quantity' takes a value of the form code$value"),
    ("code-value-quantity=8480-6$high", "'high' is not a valid quantity search value"),
])
def test_malformed_values_are_400(seeded_client, query, named):
    response = seeded_client.get(f"/fhir/Observation?{query}")
    assert response.status_code == 400
    assert named in response.json["issue"][0]["diagnostics"]


def test_unsupported_modifiers_are_400_naming_them(seeded_client):
    response = seeded_client.get("/fhir/Observation?value-quantity:exact=5")
    assert response.status_code == 400
    assert "'value-quantity:exact' (quantity parameters take only :missing)" in \
        response.json["issue"][0]["diagnostics"]


def test_combo_parameters_read_the_observation_and_its_components(seeded_app, seeded_client):
    """R4 defines combo-* as the union of the plain and the component parameters."""
    def quantities(o: dict) -> list[Decimal]:
        found = [o.get("valueQuantity")] + [c.get("valueQuantity") for c in o.get("component", [])]
        return [Decimal(str(q["value"])) for q in found if q]

    expected = {o["id"] for o in observations(seeded_app) if any(v > 130 for v in quantities(o))}
    assert expected & components_with(seeded_app, SYSTOLIC, lambda v: v > 130)
    assert matching(seeded_client, "/fhir/Observation?combo-value-quantity=gt130") == expected
    assert matching(seeded_client, "/fhir/Observation?combo-value-quantity:missing=false&combo-code=" + SYSTOLIC) \
        == {o["id"] for o in observations(seeded_app) if SYSTOLIC in {c for x in o.get("component", [])
                                                                        for c in loinc_codes(x.get("code"))}}
    ids, total, _ = pages(seeded_client, "/fhir/Observation?combo-value-quantity=gt130&_sort=-combo-value-quantity"
                                         "&_count=500")
    assert total == len(expected)


def test_combo_code_text_reads_the_displays_of_components_too(seeded_app, seeded_client):
    from sandbox.store.indexing import normalize_string

    def displays(concept: dict | None) -> list[str]:
        return [normalize_string(c.get("display", "")) for c in (concept or {}).get("coding", [])]

    expected = {o["id"] for o in observations(seeded_app)
                if any(d.startswith("systolic") for x in [o.get("code")] + [c.get("code") for c in
                                                                           o.get("component", [])]
                       for d in displays(x))}
    assert expected
    assert matching(seeded_client, "/fhir/Observation?combo-code:text=Systolic") == expected
    assert matching(seeded_client, "/fhir/Observation?code:text=Systolic") < expected
