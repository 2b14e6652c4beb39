"""The resource store: versions, history, deletes and index maintenance."""

import pytest

from sandbox.store import Store
from sandbox.store.errors import Gone, NotFound, PreconditionFailed


@pytest.fixture
def mem():
    return Store(":memory:")


def patient(pid="p1", family="Smith", **extra):
    return {"resourceType": "Patient", "id": pid, "name": [{"family": family, "given": ["Ann"]}], **extra}


def test_update_as_create_then_new_versions(mem):
    first, created = mem.update(patient())
    assert created and first.version == 1
    second, created = mem.update(patient(family="Jones"))
    assert not created and second.version == 2
    resource = mem.read("Patient", "p1").resource
    assert resource["meta"]["versionId"] == "2"
    assert resource["name"][0]["family"] == "Jones"
    assert mem.vread("Patient", "p1", 1).resource["name"][0]["family"] == "Smith"


def test_create_assigns_a_new_id(mem):
    stored = mem.create(patient(pid="ignored"))
    assert stored.id != "ignored"
    assert mem.read("Patient", stored.id).resource["id"] == stored.id


def test_if_match_refuses_a_stale_version(mem):
    mem.update(patient())
    mem.update(patient(family="Jones"))
    with pytest.raises(PreconditionFailed):
        mem.update(patient(family="Brown"), if_match=1)
    assert mem.update(patient(family="Brown"), if_match=2)[0].version == 3


def test_delete_is_recorded_and_reads_answer_gone(mem):
    mem.update(patient())
    deletion = mem.delete("Patient", "p1")
    assert deletion.version == 2 and deletion.deleted
    with pytest.raises(Gone):
        mem.read("Patient", "p1")
    with pytest.raises(Gone):
        mem.vread("Patient", "p1", 2)
    assert mem.vread("Patient", "p1", 1).resource["name"][0]["family"] == "Smith"
    assert mem.delete("Patient", "p1") is None
    history, total = mem.history("Patient", "p1")
    assert total == 2
    assert [(h.version, h.method) for h in history] == [(2, "DELETE"), (1, "POST")]


def test_unknown_resources_are_not_found(mem):
    with pytest.raises(NotFound):
        mem.read("Patient", "nobody")
    mem.update(patient())
    with pytest.raises(NotFound):
        mem.vread("Patient", "p1", 9)


def test_update_after_delete_recreates(mem):
    mem.update(patient())
    mem.delete("Patient", "p1")
    stored, created = mem.update(patient(family="Back"))
    assert created and stored.version == 3
    assert mem.read("Patient", "p1").resource["name"][0]["family"] == "Back"


def test_index_rows_follow_the_current_version(mem):
    mem.update(patient(family="Smith"))
    mem.update(patient(family="Jones"))
    rows = mem.conn.execute("SELECT value FROM idx_string WHERE param = 'family'").fetchall()
    assert rows == [("Jones",)]
    mem.delete("Patient", "p1")
    for table in ("idx_token", "idx_string", "idx_date", "idx_reference", "compartment"):
        assert mem.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0


def test_compartment_membership_is_indexed(mem):
    mem.update(patient())
    mem.update({"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"},
                "subject": {"reference": "Patient/p1"}, "performer": [{"reference": "Patient/p2"}]})
    members = mem.conn.execute("SELECT type, patient_id FROM compartment ORDER BY type, patient_id").fetchall()
    assert members == [("Observation", "p1"), ("Observation", "p2"), ("Patient", "p1")]


def test_type_and_system_history(mem):
    mem.update(patient("a"))
    mem.update(patient("b"))
    mem.update(patient("a", family="Again"))
    _, total = mem.history("Patient")
    assert total == 3
    page, total = mem.history(count=2)
    assert total == 3 and len(page) == 2
    assert (page[0].id, page[0].version) == ("a", 2)


def test_secrets_persist_across_store_instances(tmp_path):
    path = str(tmp_path / "s.sqlite")
    first = Store(path).secret("key")
    assert Store(path).secret("key") == first
    assert len(first) >= 32


def test_wal_mode_for_several_processes(tmp_path):
    store = Store(str(tmp_path / "w.sqlite"))
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_failed_transaction_loses_nothing(mem):
    mem.update(patient())
    with pytest.raises(RuntimeError), mem.transaction():
        mem.update(patient(family="Half"))
        raise RuntimeError("boom")
    assert mem.read("Patient", "p1").resource["name"][0]["family"] == "Smith"
