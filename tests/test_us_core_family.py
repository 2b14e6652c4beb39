"""Family members (US Core RelatedPerson) sign in to the patient portal and see the record they are linked to:
the seeded ones of the story patients, and one added with `sandbox users add-family`."""

from __future__ import annotations

import pytest
from authorize_support import hidden
from click.testing import CliRunner
from dom import dom

from sandbox.auth.cli import users
from sandbox.auth.users import UserDirectory
from sandbox.settings import load

pytestmark = pytest.mark.seeded  # client and store work on a copy of the seeded database


def portal_sign_in(client, username: str):
    page = client.get("/portal/login")
    return client.post("/portal/login", data={"csrf": hidden(page.text, "csrf"), "next": hidden(page.text, "next"),
                                              "username": username})


def related_user_of(store, patient_id: str):
    for user in UserDirectory(store).list("related-person"):
        rtype, rid = user.fhir_resource
        linked = store.read(rtype, rid).resource["patient"]["reference"]
        if linked == f"Patient/{patient_id}":
            return user
    raise AssertionError(f"no family member of {patient_id} can sign in")


def add_family(store, *args: str):
    return CliRunner().invoke(users, ["add-family", *args], obj=load({"DB": store.path}, environ={}))


def test_every_story_patient_has_a_family_member_who_can_sign_in(store):
    for patient_id in ("story-diabetes", "story-child", "story-pregnancy", "story-elderly", "story-inpatient"):
        user = related_user_of(store, patient_id)
        resource = store.read(*user.fhir_resource).resource
        assert resource["meta"]["profile"] == ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-relatedperson"]
        assert resource["active"] is True and resource["relationship"][0]["coding"][0]["code"]


def test_the_seeded_mother_of_the_story_child_sees_her_record(client, store):
    mother = related_user_of(store, "story-child")
    assert (mother.username, mother.display_name) == ("hoa.nguyen", "Hoa Nguyen")
    assert portal_sign_in(client, mother.username).status_code in (302, 303)
    page = dom(client.get("/portal").text)
    assert page.one("header.topbar .portal-who").text == "Hoa Nguyen · Family member"
    assert page.one("main h1").text == "Lily Nguyen's health"
    assert "Marcus" not in page.one("main").text


def test_a_family_member_added_from_the_command_line_signs_in_and_sees_the_record(client, store):
    patient = next(rid for rid, in store.conn.execute(
        "SELECT id FROM resources WHERE type = 'Patient' AND id NOT LIKE 'story-%' ORDER BY id LIMIT 1"))
    name = store.read("Patient", patient).resource["name"][0]
    result = add_family(store, patient, "--given", "Ana", "--relationship", "daughter", "--family", "Okafor")
    assert result.exit_code == 0, result.output
    assert "they sign in to the portal as ana.okafor" in result.output
    user = UserDirectory(store).by_username("ana.okafor")
    resource = store.read(*user.fhir_resource).resource
    assert resource["patient"] == {"reference": f"Patient/{patient}"}
    assert resource["relationship"][0]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "DAUC", "display": "daughter"}
    assert client.get(f"/fhir/RelatedPerson?patient=Patient/{patient}").get_json()["total"] >= 1
    portal_sign_in(client, "ana.okafor")
    page = dom(client.get("/portal").text)
    assert page.one("main h1").text == f"{name['given'][0]} {name['family']}'s health"


@pytest.mark.parametrize(("args", "message"), [
    (["no-such-patient", "--given", "Ana", "--relationship", "son"], "there is no Patient/no-such-patient"),
    (["story-child", "--given", "Ana", "--relationship", "cousin"], "relationship must be one of"),
    (["story-child", "--given", " ", "--relationship", "son"], "first name"),
])
def test_add_family_refuses_what_it_cannot_do(store, args, message):
    result = add_family(store, *args)
    assert result.exit_code == 1 and message in result.output
    assert UserDirectory(store).by_username("ana.nguyen") is None


def test_add_family_refuses_a_taken_username(store):
    result = add_family(store, "story-child", "--given", "Hoa", "--relationship", "parent-female")
    assert result.exit_code == 1 and "username 'hoa.nguyen' is taken" in result.output
