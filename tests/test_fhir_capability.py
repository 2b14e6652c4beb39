"""The CapabilityStatement at /fhir/metadata: complete, consistent with the store, and parseable by
strict R4 clients (Python fhirclient) and the R4B models."""

import pytest
from fhirclient.models.capabilitystatement import CapabilityStatement

from sandbox import __version__
from sandbox.fhir.capability import SECURITY_HOOK
from sandbox.store.resource_types import STORABLE_TYPES
from sandbox.store.searchparams import params_for
from sandbox.store.validation import can_validate


@pytest.fixture
def statement(client):
    response = client.get("/fhir/metadata")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/fhir+json; charset=utf-8"
    return response.json


def resource_entry(statement, rtype):
    return next(r for r in statement["rest"][0]["resource"] if r["type"] == rtype)


def test_required_elements(statement):
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["status"] == "active"
    assert statement["kind"] == "instance"
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["format"] == ["json", "application/fhir+json"]
    assert statement["software"] == {"name": "SMART Sandbox EHR", "version": __version__}
    assert statement["implementation"]["url"] == "http://localhost/fhir"
    assert len(statement["date"]) == 10


def test_parses_with_fhirclient_strict_r4_models(statement):
    parsed = CapabilityStatement(statement)
    assert parsed.fhirVersion == "4.0.1"
    assert parsed.rest[0].mode == "server"


def test_parses_with_r4b_models(statement):
    from fhir.resources.R4B.capabilitystatement import CapabilityStatement as R4BCapabilityStatement

    R4BCapabilityStatement.model_validate(statement)


def test_every_storable_type_is_listed_with_its_interactions(statement):
    rest = statement["rest"][0]
    assert rest["mode"] == "server"
    assert sorted(r["type"] for r in rest["resource"]) == sorted(STORABLE_TYPES)
    assert [i["code"] for i in rest["interaction"]] == ["transaction", "batch", "history-system"]
    for resource in rest["resource"]:
        writes = ["update", "patch", "delete", "create"] if can_validate(resource["type"]) else ["delete"]
        assert [i["code"] for i in resource["interaction"]] == [
            "read", "vread", *writes, "search-type", "history-instance", "history-type"]
        assert resource["versioning"] == "versioned"
        assert resource["readHistory"] is True
        assert resource["updateCreate"] is True
        assert resource["conditionalCreate"] is True
        assert resource["conditionalUpdate"] is True
        assert resource["conditionalDelete"] == "multiple"


def test_search_parameters_match_the_store(statement):
    observation = resource_entry(statement, "Observation")
    names = [p["name"] for p in observation["searchParam"]]
    assert names == ["_id", "_lastUpdated", *params_for("Observation")]
    by_name = {p["name"]: p for p in observation["searchParam"]}
    # R4 defines Observation's code in the shared SearchParameter clinical-code.
    assert by_name["code"] == {"name": "code", "definition": "http://hl7.org/fhir/SearchParameter/clinical-code",
                               "type": "token", "documentation": "The code of the observation type"}
    assert by_name["value-quantity"]["type"] == "quantity"
    assert by_name["code-value-quantity"] == {
        "name": "code-value-quantity", "type": "composite",
        "definition": "http://hl7.org/fhir/SearchParameter/Observation-code-value-quantity",
        "documentation": "Code and quantity value parameter pair"}
    assert by_name["_id"]["definition"] == "http://hl7.org/fhir/SearchParameter/Resource-id"
    assert by_name["date"]["type"] == "date"
    assert "Observation:patient" in observation["searchInclude"]
    assert "Observation:encounter" in observation["searchInclude"]


def test_patient_lists_revincludes_and_everything(statement):
    patient = resource_entry(statement, "Patient")
    assert "Encounter:patient" in patient["searchRevInclude"]
    assert "Observation:subject" in patient["searchRevInclude"]
    assert [operation["name"] for operation in patient["operation"]] == ["everything", "export", "validate"]
    assert patient["operation"][0] == {
        "name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
        "documentation": "The patient, their compartment and the resources it references. "
                         "Supports _since, _type, _count and _offset."}


def test_validate_is_listed_where_writes_can_be_checked(statement):
    observation = resource_entry(statement, "Observation")
    assert observation["operation"] == [{
        "name": "validate", "definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate",
        "documentation": "The checks of a create (R4 model, required bindings, invariants, local references), "
                         "answered as an OperationOutcome; nothing is stored."}]
    unchecked = resource_entry(statement, "EffectEvidenceSynthesis")
    assert "operation" not in unchecked
    assert unchecked["documentation"] == ("Not writable: this server has no model to validate a "
                                          "EffectEvidenceSynthesis with.")


def test_the_authorization_server_fills_the_security_section(statement):
    assert statement["rest"][0]["security"]["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"


def test_security_hook_fills_rest_security(app, client):
    app.extensions[SECURITY_HOOK] = lambda base_url: {
        "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                 "code": "SMART-on-FHIR"}]}],
        "extension": [{"url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                       "extension": [{"url": "authorize", "valueUri": f"{base_url}/auth/authorize"}]}]}
    statement = client.get("/fhir/metadata").json
    assert statement["rest"][0]["security"]["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    CapabilityStatement(statement)


def test_metadata_is_read_only(client):
    assert client.post("/fhir/metadata", json={}).status_code == 405


def test_declares_exactly_the_search_parameters_that_search_accepts(statement, client):
    """What /metadata lists is what a strict search accepts: every declared parameter is applied, and an
    undeclared one is refused with 400."""
    value = {"token": "x", "string": "x", "date": "2020", "reference": "Patient/x", "uri": "http://x.example",
             "number": "5", "quantity": "5.4||mg", "composite": "x$2020"}
    for entry in statement["rest"][0]["resource"]:
        for param in entry.get("searchParam", []):
            response = client.get(f"/fhir/{entry['type']}?{param['name']}={value[param['type']]}&_summary=count")
            assert response.status_code == 200, (entry["type"], param["name"], response.json)
    refused = client.get("/fhir/Patient?deceased=true")  # R4 defines it by an expression no index reads
    assert refused.status_code == 400
    assert "'deceased' (an R4 parameter whose expression this server cannot index" in \
        refused.json["issue"][0]["diagnostics"]
    assert "Prefer: handling=lenient" in statement["rest"][0]["documentation"]
