"""Sandbox users derived from the FHIR data: clinicians, story-patient portal users and their related persons."""

from __future__ import annotations

import pytest

from sandbox.auth.users import (
    CLINICIAN_COUNT,
    UserDirectory,
    display_name,
    ensure_admin,
    patients_of,
    seed_users,
    username_for,
)


def practitioner(rid, given, family, prefix=("Dr.",)):
    return {"resourceType": "Practitioner", "id": rid,
            "name": [{"use": "official", "family": family, "given": [given], "prefix": list(prefix)}]}


def patient(rid, given, family):
    return {"resourceType": "Patient", "id": rid, "name": [{"family": family, "given": [given]}]}


def related_person(rid, patient_id, given, family):
    return {"resourceType": "RelatedPerson", "id": rid, "patient": {"reference": f"Patient/{patient_id}"},
            "name": [{"family": family, "given": [given]}]}


PRACTITIONERS = [
    practitioner("pr-1", "Alice", "Smith"), practitioner("pr-2", "José", "Núñez"),
    practitioner("pr-3", "Alice", "Smith"), practitioner("pr-4", "Jaime366", "Rohan584", prefix=()),
    practitioner("pr-5", "Wei", "Chen"), practitioner("pr-6", "Sixth", "Doctor"),
    practitioner("pr-7", "Seventh", "Doc"),
]
PATIENTS = [patient("story-diabetes", "Maria", "Garcia"), patient("story-child", "Leo", "Brown"),
            patient("p-random", "Random", "Person"), patient("story-elderly", "Maria", "Garcia")]
RELATED = [related_person("rp-1", "story-child", "Emma", "Brown"), related_person("rp-2", "p-random", "Not", "Seeded")]


@pytest.fixture
def populated(store):
    for resource in [*PRACTITIONERS, *PATIENTS, *RELATED]:
        store.update(resource)
    return store


@pytest.fixture
def directory(populated):
    seed_users(populated)
    return UserDirectory(populated)


def test_clinicians_are_made_for_the_first_practitioners_in_seed_order(directory):
    clinicians = directory.list(kind="clinician")
    assert CLINICIAN_COUNT == 5
    assert [u.fhir_user for u in clinicians] == [f"Practitioner/pr-{i}" for i in range(1, 6)]
    assert [u.username for u in clinicians] == ["alice.smith", "jose.nunez", "alice.smith2", "jaime.rohan", "wei.chen"]
    assert [u.display_name for u in clinicians][:2] == ["Dr. Alice Smith", "Dr. José Núñez"]


def test_portal_users_are_made_for_story_patients_and_their_related_persons_only(directory):
    assert [(u.username, u.fhir_user) for u in directory.list(kind="patient")] == [
        ("maria.garcia", "Patient/story-diabetes"), ("leo.brown", "Patient/story-child"),
        ("maria.garcia2", "Patient/story-elderly")]
    assert [(u.username, u.fhir_user, u.display_name) for u in directory.list(kind="related-person")] == [
        ("emma.brown", "RelatedPerson/rp-1", "Emma Brown")]


def test_lookups(directory):
    alice = directory.by_username("alice.smith")
    assert directory.get(alice.id) == alice
    assert alice.id == "alice.smith" and alice.kind == "clinician" and alice.seeded
    assert directory.by_fhir_user("Patient/story-child").username == "leo.brown"
    assert directory.by_fhir_user("Patient/p-random") is None
    assert directory.first_clinician() == alice
    assert alice.fhir_resource == ("Practitioner", "pr-1")
    assert len(directory.list()) == 5 + 3 + 1


def test_seeding_again_keeps_ids_follows_renames_and_drops_users_whose_resource_is_gone(populated, directory):
    before = {u.fhir_user: u.id for u in directory.list()}
    populated.update(patient("story-child", "Leonardo", "Brown"))
    populated.delete("RelatedPerson", "rp-1")
    seed_users(populated)
    after = {u.fhir_user: u for u in directory.list()}
    assert "RelatedPerson/rp-1" not in after
    assert after["Patient/story-child"].id == before["Patient/story-child"]
    assert after["Patient/story-child"].display_name == "Leonardo Brown"
    assert {ref: u.id for ref, u in after.items()} == {k: v for k, v in before.items() if k != "RelatedPerson/rp-1"}


def test_users_made_by_hand_are_left_alone_and_their_usernames_avoided(populated):
    directory = UserDirectory(populated)
    mine = directory.create("wei.chen", "Wei Chen (test account)", "clinician", "Practitioner/pr-6", password="pw")
    seed_users(populated)
    assert directory.get("wei.chen") == mine
    assert directory.by_fhir_user("Practitioner/pr-5").username == "wei.chen2"
    assert directory.first_clinician().username == "alice.smith"  # seeded clinicians come first


def test_the_administrator_stands_for_its_own_practitioner_and_works_in_the_ehr(populated, directory):
    ensure_admin(populated)
    ensure_admin(populated)  # made once
    admin = directory.by_username("admin")
    assert (admin.id, admin.display_name, admin.fhir_user) == ("admin", "Sandbox Administrator",
                                                                "Practitioner/sandbox-admin")
    assert populated.read("Practitioner", "sandbox-admin").resource["name"][0]["text"] == "Sandbox Administrator"
    assert admin.is_admin and admin.is_clinician and not admin.seeded
    assert patients_of(populated, admin) is None  # sees every patient, as a clinician does
    assert not any(u.is_admin for u in directory.list() if u.id != "admin")
    assert directory.first_clinician().username == "alice.smith"  # EHR launches still default to a sample clinician
    seed_users(populated)
    assert directory.get("admin") == admin  # not a seeded user: seeding again keeps it


def test_users_list_shows_each_users_role(populated, directory):
    from click.testing import CliRunner

    from sandbox.auth.cli import users
    from sandbox.settings import load

    ensure_admin(populated)
    listed = CliRunner().invoke(users, ["list"], obj=load({"DB": populated.path}, environ={}))
    roles = {line.split()[0]: line.split()[1] for line in listed.output.splitlines()}
    assert (roles["admin"], roles["alice.smith"], roles["maria.garcia"], roles["emma.brown"]) == \
        ("administrator", "clinician", "patient", "related-person")


def test_create_checks_kind_reference_and_username(directory):
    with pytest.raises(ValueError, match="kind must be one of clinician, patient, related-person"):
        directory.create("x", "X", "nurse", "Practitioner/pr-1")
    with pytest.raises(ValueError, match="a patient user stands for a Patient/<id>, not 'Practitioner/pr-1'"):
        directory.create("x", "X", "patient", "Practitioner/pr-1")
    with pytest.raises(ValueError, match="username 'alice.smith' is taken"):
        directory.create("alice.smith", "X", "clinician", "Practitioner/pr-7")


def test_passwords_are_kept_as_hashes(directory):
    directory.set_password("alice.smith", "correct horse")
    alice = directory.get("alice.smith")
    assert alice.password_hash and "correct horse" not in alice.password_hash
    assert alice.check_password("correct horse") and not alice.check_password("wrong")
    directory.set_password("alice.smith", None)
    assert not directory.get("alice.smith").check_password("correct horse")


def test_no_practitioners_means_no_first_clinician(store):
    assert seed_users(store) == []
    assert UserDirectory(store).first_clinician() is None


@pytest.mark.parametrize(("resource", "username", "display"), [
    (practitioner("a", "Ana María", "de la Cruz"), "ana-maria.de-la-cruz", "Dr. Ana María de la Cruz"),
    ({"resourceType": "Patient", "id": "p", "name": [{"text": "Sam Lee", "given": ["Samuel"], "family": "Lee"}]},
     "samuel.lee", "Sam Lee"),
    ({"resourceType": "Patient", "id": "story-x", "name": [{"use": "nickname", "given": ["Bo"]},
                                                            {"use": "official", "given": ["Robert"], "family": "Ng"}]},
     "robert.ng", "Robert Ng"),
    ({"resourceType": "Patient", "id": "story-nameless"}, "story-nameless", ""),
    ({"resourceType": "Patient", "id": "p", "name": [{"family": "李"}]}, "p", "李"),
])
def test_usernames_and_display_names_come_from_names(resource, username, display):
    assert username_for(resource, resource["id"]) == username
    assert display_name(resource) == display
