"""The search parameters come from the R4 SearchParameter definitions as data; the index follows them."""

import json
import subprocess
import sys
from pathlib import Path

from sandbox.store import Store
from sandbox.store.reindex import DIGEST, DIGEST_KEY, indexed_digest, reindex_if_stale
from sandbox.store.searchparams import DATA_FILE, OMITTED, params_for

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "seed_data" / "fhir" / "make_search_parameters.py"


def test_the_data_names_its_source_and_holds_the_r4_translations():
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    assert data["source"]["definitions"] == "https://hl7.org/fhir/R4/definitions.json.zip"
    assert data["source"]["madeBy"] == "seed_data/fhir/make_search_parameters.py"
    observation = params_for("Observation")
    # clinical-date reads Observation.effective, a choice: the types a date search can read, spelled out.
    assert observation["date"].paths == ("effectiveDateTime", "effectivePeriod", "effectiveInstant")
    assert observation["date"].url == "http://hl7.org/fhir/SearchParameter/clinical-date"
    assert observation["patient"].targets == ("Patient",)  # Observation.subject.where(resolve() is Patient)
    assert params_for("Patient")["phone"].paths == ("telecom[system=phone]",)
    assert params_for("MedicationRequest")["code"].paths == ("medicationCodeableConcept",)
    assert params_for("Location")["address-city"].paths == ("address.city",)
    assert params_for("Patient")["death-date"].paths == ("deceasedDateTime",)
    assert [c.paths for c in observation["component-code-value-quantity"].components] == [("code",),
                                                                                          ("valueQuantity",)]
    assert {(o["base"], o["code"]) for o in OMITTED} >= {("Patient", "deceased"), ("Location", "near"),
                                                         ("Resource", "_content")}


def _definitions(folder: Path) -> Path:
    """A small definitions folder in the published layout, with the expression forms the translation reads."""
    def parameter(code, kind, base, expression, **more):
        return {"resource": {"resourceType": "SearchParameter", "url": f"http://hl7.org/fhir/SearchParameter/{code}",
                             "version": "4.0.1", "code": code, "type": kind, "base": base,
                             "expression": expression, "description": f"about {code}", **more}}
    bundle = {"entry": [
        parameter("value", "quantity", ["Observation"],
                  "(Observation.value as Quantity) | (Observation.value as SampledData)"),
        parameter("when", "date", ["Observation"], "Observation.effective"),
        parameter("phone", "token", ["Patient"], "Patient.telecom.where(system='phone')"),
        parameter("who", "reference", ["Observation", "Patient"],
                  "Observation.subject.where(resolve() is Patient) | Patient.link.other", target=["Patient", "Group"]),
        parameter("first", "reference", ["Bundle"], "Bundle.entry[0].resource"),
    ]}
    profiles = {"entry": [{"resource": {"resourceType": "StructureDefinition", "kind": "resource", "snapshot": {
        "element": [{"path": "Observation"}, {"path": "Observation.subject"},
                    {"path": "Observation.effective[x]", "type": [{"code": "dateTime"}, {"code": "Timing"}]},
                    {"path": "Observation.value[x]", "type": [{"code": "Quantity"}, {"code": "SampledData"}]}]}}}]}
    (folder / "search-parameters.json").write_text(json.dumps(bundle))
    (folder / "profiles-resources.json").write_text(json.dumps(profiles))
    return folder


def test_the_generator_translates_expressions_and_lists_what_it_cannot(tmp_path):
    definitions = _definitions(tmp_path)
    first, second = tmp_path / "one.json", tmp_path / "two.json"
    for output in (first, second):
        subprocess.run([sys.executable, str(GENERATOR), str(definitions), str(output)], check=True)
    assert first.read_bytes() == second.read_bytes()  # reproducible, byte for byte
    data = json.loads(first.read_text())
    by_code = {(rtype, e["code"]): e for rtype, entries in data["resource"].items() for e in entries}
    assert by_code[("Observation", "value")]["paths"] == ["valueQuantity"]
    assert by_code[("Observation", "value")]["unread"] == [
        "Observation.value as SampledData: a SampledData cannot be searched as a quantity"]
    assert by_code[("Observation", "when")]["paths"] == ["effectiveDateTime"]  # a Timing is no date
    assert by_code[("Patient", "phone")]["paths"] == ["telecom[system=phone]"]
    assert (by_code[("Observation", "who")]["paths"], by_code[("Observation", "who")]["target"]) == \
        (["subject"], ["Patient"])
    assert (by_code[("Patient", "who")]["paths"], by_code[("Patient", "who")]["target"]) == \
        (["link.other"], ["Group", "Patient"])
    assert data["omitted"] == [{
        "base": "Bundle", "code": "first", "url": "http://hl7.org/fhir/SearchParameter/first", "type": "reference",
        "expression": "Bundle.entry[0].resource",
        "reason": "'entry[0]' in 'Bundle.entry[0].resource' is not an element, a type cast or a where(k='v') filter"}]


def _search_rows(store: Store) -> list[tuple]:
    return store.conn.execute("SELECT rid, type, param, system, code FROM idx_token ORDER BY 1, 2, 3, 4, 5").fetchall()


def test_a_database_indexed_under_other_definitions_is_reindexed(seeded_app):
    store = seeded_app.extensions["store"]
    assert indexed_digest(store) == DIGEST
    before = _search_rows(store)
    quantities = store.conn.execute("SELECT count(*) FROM idx_quantity").fetchone()[0]
    assert before and quantities
    with store.transaction() as conn:  # as an older release left it: other definitions, fewer tables filled
        conn.execute("UPDATE store_meta SET value = 'older' WHERE name = ?", (DIGEST_KEY,))
        conn.execute("DELETE FROM idx_quantity")
        conn.execute("DELETE FROM idx_token WHERE param = 'code'")
    lines: list[str] = []
    assert reindex_if_stale(store, lines.append) is True
    assert lines[0].startswith("Search parameter definitions changed: reindexing ")
    assert indexed_digest(store) == DIGEST
    assert _search_rows(store) == before
    assert store.conn.execute("SELECT count(*) FROM idx_quantity").fetchone()[0] == quantities
    assert reindex_if_stale(store) is False


def test_us_core_adds_its_own_parameters_from_its_definitions():
    data = json.loads((DATA_FILE.with_name("us_core_search_parameters.json")).read_text(encoding="utf-8"))
    assert data["source"]["tag"] == "6.1.0"
    race = params_for("Patient")["race"]
    assert race.url == "http://hl7.org/fhir/us/core/SearchParameter/us-core-race"
    assert race.paths == ("extension[url=http://hl7.org/fhir/us/core/StructureDefinition/us-core-race]"
                          ".extension.value[x].code",)
    assert params_for("Encounter")["discharge-disposition"].paths == ("hospitalization.dischargeDisposition",)
    # US Core's restatements of R4 parameters are searched through the R4 definition
    assert params_for("Patient")["birthdate"].url == "http://hl7.org/fhir/SearchParameter/individual-birthdate"
