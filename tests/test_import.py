"""The importer: FHIR Bundles and Bulk Data NDJSON, in dependency order, with conditional and urn:uuid
references resolved; and the real Synthea bulk export loaded completely and served back over HTTP."""

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter

import pytest
from click.testing import CliRunner
from conftest import ANCHOR_DATE, FIXTURES, with_test_token

from sandbox.app import create_app
from sandbox.cli import main
from sandbox.importer import import_paths, ordered_files
from sandbox.store import Store

SYNTHEA = FIXTURES / "synthea-10-patients"
NPI = "http://hl7.org/fhir/sid/us-npi"
CONDITIONAL = re.compile(r'"reference":"[A-Za-z]+\?')
RELATIVE = re.compile(r'"reference":"([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})"')


def quiet(line):
    pass


def write_ndjson(path, resources):
    path.write_text("".join(json.dumps(r) + "\n" for r in resources))
    return path


# -- the real Synthea export -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def synthea(tmp_path_factory):
    if not SYNTHEA.is_dir():
        pytest.skip(f"The Synthea bulk export is not at {SYNTHEA}: it lives in ../shared/fixtures beside the "
                    "checkout and is never copied into the repository")
    db = tmp_path_factory.mktemp("synthea") / "synthea.sqlite"
    report = import_paths(Store(str(db)), [SYNTHEA], echo=quiet)
    app = with_test_token(create_app({"DB": str(db), "BASE_URL": "http://localhost", "ANCHOR_DATE": ANCHOR_DATE,
                                      "TESTING": True}))
    return report, app


def fixture_lines():
    """(type, id) of every line of the export."""
    lines = []
    for path in sorted(SYNTHEA.glob("*.ndjson")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                resource = json.loads(line)
                lines.append((resource["resourceType"], resource["id"]))
    return lines


def test_every_line_of_the_export_is_stored(synthea):
    report, app = synthea
    store = app.extensions["store"]
    lines = fixture_lines()
    assert report.ok, report.problems[:5]
    assert report.failed == Counter()
    assert report.loaded == Counter(rtype for rtype, _ in lines)
    stored = set(store.conn.execute("SELECT type, id FROM resources WHERE deleted = 0").fetchall())
    assert stored == set(lines)


def test_no_conditional_reference_is_left_and_every_target_exists(synthea):
    _, app = synthea
    store = app.extensions["store"]
    stored = set(store.conn.execute("SELECT type, id FROM resources WHERE deleted = 0").fetchall())
    dangling, references = [], 0
    for (text,) in store.conn.execute("SELECT json FROM resources WHERE deleted = 0"):
        assert not CONDITIONAL.search(text)
        for target in RELATIVE.findall(text):
            references += 1
            if target not in stored:
                dangling.append(target)
    assert references > 20000
    assert dangling == []


def test_imported_practitioners_are_referenced_by_their_ids(synthea):
    _, app = synthea
    client = app.test_client()
    npi_practitioner = client.get(f"/fhir/Practitioner?identifier={NPI}|9999974493").json["entry"][0]["resource"]
    encounters = client.get(f"/fhir/Encounter?participant=Practitioner/{npi_practitioner['id']}&_count=1").json
    assert encounters["total"] > 0


def test_the_export_is_served_back_over_http(synthea):
    _, app = synthea
    client = app.test_client()
    patients = client.get("/fhir/Patient?_count=50").json
    assert patients["total"] == 13
    patient_id = "79a66c97-6131-3213-f3c9-4606946ab056"
    patient = client.get(f"/fhir/Patient/{patient_id}")
    assert patient.status_code == 200
    assert patient.json["name"][0]["family"] == "Upton904"
    expected = sum(1 for rtype, _ in _patient_lines(patient_id) if rtype == "Encounter")
    encounters = client.get(f"/fhir/Encounter?patient={patient_id}&_count=1").json
    assert encounters["total"] == expected == 708


def _patient_lines(patient_id):
    for line in (SYNTHEA / "Encounter.000.ndjson").read_text(encoding="utf-8").splitlines():
        resource = json.loads(line)
        if resource["subject"]["reference"] == f"Patient/{patient_id}":
            yield resource["resourceType"], resource["id"]


def test_imported_resources_without_narrative_get_one_and_synthea_narratives_are_kept(synthea):
    _, app = synthea
    store = app.extensions["store"]
    written = {}
    for path in sorted(SYNTHEA.glob("*.ndjson")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                resource = json.loads(line)
                written[(resource["resourceType"], resource["id"])] = resource.get("text")
    kept = 0
    for rtype, rid, text in store.conn.execute("SELECT type, id, json FROM resources WHERE deleted = 0"):
        narrative = json.loads(text)["text"]
        original = written[(rtype, rid)]
        if original is not None:
            assert narrative == original
            kept += 1
            continue
        assert narrative["status"] == "generated"
        div = ET.fromstring(narrative["div"])
        assert div.tag == "{http://www.w3.org/1999/xhtml}div"
        assert "".join(div.itertext()).startswith(rtype)
    assert kept == 13  # Synthea writes a narrative for each patient only


def test_everything_of_an_imported_patient_has_encounters_and_practitioners(synthea):
    _, app = synthea
    client = app.test_client()
    patient_id = "129c6ac7-8d06-89de-ad63-0204a93e76c3"
    entries, url = [], f"/fhir/Patient/{patient_id}/$everything?_count=500"
    while url:
        page = client.get(url).json
        entries += [e["resource"] for e in page["entry"]]
        url = {link["relation"]: link["url"] for link in page["link"]}.get("next")
    assert len(entries) == page["total"]
    types = Counter(r["resourceType"] for r in entries)
    assert types["Patient"] == 1
    assert types["Encounter"] == 90
    included = {(r["resourceType"], r["id"]) for r in entries}
    for encounter in (r for r in entries if r["resourceType"] == "Encounter"):
        practitioner = tuple(encounter["participant"][0]["individual"]["reference"].split("/"))
        assert practitioner in included
        organization = tuple(encounter["serviceProvider"]["reference"].split("/"))
        assert organization in included


# -- bundles and NDJSON files written here ---------------------------------------------------------

def test_files_load_in_dependency_order(tmp_path):
    for name in ("Observation.000.ndjson", "Patient.000.ndjson", "Practitioner.001.ndjson",
                 "Organization.000.ndjson", "Encounter.000.ndjson", "Location.000.ndjson"):
        (tmp_path / name).write_text("")
    assert [p.name for p in ordered_files([tmp_path])] == [
        "Organization.000.ndjson", "Location.000.ndjson", "Practitioner.001.ndjson", "Patient.000.ndjson",
        "Encounter.000.ndjson", "Observation.000.ndjson"]


def test_transaction_bundle_with_urn_uuids_and_conditional_create(tmp_path, store):
    store.load([{"resourceType": "Practitioner", "id": "known",
                 "identifier": [{"system": NPI, "value": "111"}]}])
    patient_urn = "urn:uuid:2a7f1c9e-3b4d-4e5f-8a6b-7c8d9e0f1a2b"
    practitioner_urn = "urn:uuid:9b8a7c6d-5e4f-4a3b-9c2d-1e0f2a3b4c5d"
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000001",
         "resource": {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"},
                      "subject": {"reference": patient_urn},
                      "participant": [{"individual": {"reference": practitioner_urn}}]},
         "request": {"method": "POST", "url": "Encounter"}},
        {"fullUrl": patient_urn, "resource": {"resourceType": "Patient", "id": "own-id"},
         "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": practitioner_urn,
         "resource": {"resourceType": "Practitioner", "identifier": [{"system": NPI, "value": "111"}]},
         "request": {"method": "POST", "url": "Practitioner", "ifNoneExist": f"identifier={NPI}|111"}},
    ]}
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    report = import_paths(store, [path], echo=quiet)
    assert report.ok
    assert report.loaded == Counter({"Patient": 1, "Encounter": 1})
    assert report.matched == Counter({"Practitioner": 1})
    encounter = store.read("Encounter", "00000000-0000-4000-8000-000000000001").resource
    assert encounter["subject"] == {"reference": "Patient/own-id"}
    assert encounter["participant"][0]["individual"] == {"reference": "Practitioner/known"}


def test_collection_bundle_and_single_resource_files(tmp_path, store):
    patient = {"resourceType": "Patient", "id": "p1", "managingOrganization": {"reference": "Organization/org1"}}
    (tmp_path / "collection.json").write_text(json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": patient},
        {"resource": {"resourceType": "Organization", "id": "org1", "name": "Clinic"}},
    ]}))
    (tmp_path / "single.json").write_text(json.dumps({"resourceType": "Patient", "id": "p2"}))
    report = import_paths(store, [tmp_path], echo=quiet)
    assert report.ok
    assert report.loaded == Counter({"Organization": 1, "Patient": 2})


def test_conditional_reference_to_a_later_resource_is_retried(tmp_path, store):
    write_ndjson(tmp_path / "Organization.000.ndjson", [
        {"resourceType": "Organization", "id": "child", "partOf": {"reference": "Organization?identifier=urn:o|p"}},
        {"resourceType": "Organization", "id": "parent", "identifier": [{"system": "urn:o", "value": "p"}]},
    ])
    report = import_paths(store, [tmp_path], echo=quiet)
    assert report.ok
    assert store.read("Organization", "child").resource["partOf"] == {"reference": "Organization/parent"}


def test_errors_name_the_file_and_line_and_the_import_goes_on(tmp_path, store):
    path = tmp_path / "Patient.000.ndjson"
    path.write_text("\n".join([
        json.dumps({"resourceType": "Patient", "id": "good-1"}),
        "{broken json",
        json.dumps({"resourceType": "Patient", "id": "bad-date", "birthDate": "1970-02-31"}),
        json.dumps({"resourceType": "Patient", "id": "dangling",
                    "generalPractitioner": [{"reference": "Practitioner?identifier=none|0"}]}),
        json.dumps({"resourceType": "Patient", "id": "good-2"}),
    ]) + "\n")
    lines = []
    report = import_paths(store, [path], echo=lines.append)
    assert report.loaded == Counter({"Patient": 2})
    assert report.failed == Counter({"?": 1, "Patient": 2})
    assert [p.split(": ")[0] for p in report.problems] == [f"{path}:2", f"{path}:3", f"{path}:4"]
    assert "matches no Practitioner" in report.problems[2]
    assert any(line.startswith(f"  error: {path}:3: Patient.birthDate is not valid: ") for line in lines)
    assert store.exists("Patient", "good-2")


def test_cli_import_prints_a_summary_and_fails_on_errors(tmp_path):
    db = tmp_path / "cli.sqlite"
    good = write_ndjson(tmp_path / "Patient.000.ndjson", [{"resourceType": "Patient", "id": "p1"}])
    runner = CliRunner()
    result = runner.invoke(main, ["--db", str(db), "import", str(good)])
    assert result.exit_code == 0, result.output
    assert "Patient                        1 loaded" in result.stdout
    bad = tmp_path / "bad"
    bad.mkdir()
    write_ndjson(bad / "Observation.000.ndjson", [{"resourceType": "Observation", "id": "o1"}])
    result = runner.invoke(main, ["--db", str(db), "import", str(good), str(bad)])
    assert result.exit_code == 1
    assert "Observation                    0 loaded, 1 failed" in result.stdout
    assert "1 resources could not be imported" in result.stderr
