"""Bulk loads: prepared resources, deferred index building, and the query plans searches get."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from sandbox.store import Store
from sandbox.store.query import parse_search
from sandbox.store.resources import prepare
from sandbox.store.search import Compartment, compile_where, search


def _obs(oid: str, patient: str, category: str, day: int) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "subject": {"reference": f"Patient/{patient}"},
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": category}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]},
            "effectiveDateTime": f"2026-01-{day:02d}"}


def _index_names(store: Store) -> set[str]:
    return {row[0] for row in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}


def test_bulk_load_into_an_empty_store_builds_the_indexes_at_the_end(tmp_path):
    store = Store(str(tmp_path / "bulk.sqlite"))
    before = _index_names(store)
    with store.bulk_load():
        store.load_prepared([prepare(_obs(f"o{n}", "p1", "laboratory", n + 1)) for n in range(5)])
        assert "idx_token_lookup" not in _index_names(store)  # filled without the index meanwhile
    assert _index_names(store) == before
    found = search(store, parse_search("Observation", [("patient", "p1"), ("category", "laboratory")]))
    assert found.total == 5


def test_a_failed_bulk_load_leaves_nothing_behind_and_keeps_the_indexes(tmp_path):
    store = Store(str(tmp_path / "bulk.sqlite"))
    before = _index_names(store)
    with pytest.raises(RuntimeError), store.bulk_load():
        store.load_prepared([prepare(_obs("o1", "p1", "laboratory", 1))])
        raise RuntimeError("generation failed")
    assert store.count() == 0
    assert _index_names(store) == before


def test_load_prepared_makes_a_new_version_of_a_known_resource():
    store = Store(":memory:")
    store.load([_obs("o1", "p1", "laboratory", 1)])
    store.load_prepared([prepare(_obs("o1", "p1", "vital-signs", 2)), prepare(_obs("o2", "p1", "laboratory", 3))])
    assert store.read("Observation", "o1").version == 2
    assert search(store, parse_search("Observation", [("category", "vital-signs")])).total == 1
    assert search(store, parse_search("Observation", [("category", "laboratory")])).total == 1


def _plan(store: Store, rtype: str, params: list[tuple[str, str]], filters=()) -> str:
    query = parse_search(rtype, params)
    where, args = compile_where(rtype, query.criteria, filters)
    rows = store.conn.execute(f"EXPLAIN QUERY PLAN SELECT r.rid FROM resources r WHERE {where}", args).fetchall()
    return "\n".join(row[-1] for row in rows)


@pytest.mark.parametrize("params, filters", [
    ([("patient", "p1"), ("category", "laboratory"), ("date", "ge2026-01-02")], ()),
    ([("category", "laboratory"), ("code", "http://loinc.org|2345-7")], ()),
    ([("category", "laboratory")], (Compartment(("p1",)),)),
    ([("status:not", "final"), ("patient", "p1")], ()),
])
def test_searches_run_on_indexes_and_are_driven_by_the_narrowest_term(params, filters):
    store = Store(":memory:")
    store.load([_obs(f"o{n}", f"p{n % 3}", "laboratory", n + 1) for n in range(9)])
    plan = _plan(store, "Observation", params, filters)
    assert "SCAN" not in plan.replace("SCAN CONSTANT ROW", ""), plan
    if any(name == "patient" for name, _ in params) or filters:
        # the patient (reference or compartment) picks the candidate row ids; other criteria only check them
        lines = plan.splitlines()
        assert "INTEGER PRIMARY KEY" in lines[0] and lines[1].startswith("LIST SUBQUERY"), plan
        assert "idx_reference" in lines[2] or "compartment" in lines[2], plan


def test_a_failure_in_the_generating_process_is_raised_with_its_traceback():
    from sandbox.seed.background import GenerationFailed, prepared_batches

    with pytest.raises(GenerationFailed, match="Traceback"):
        list(prepared_batches(1, 1, "not a date"))


def _journal_mode(store: Store) -> str:
    return store.conn.execute("PRAGMA journal_mode").fetchone()[0]


def test_a_load_into_an_empty_file_skips_the_write_ahead_log_and_returns_to_it(tmp_path):
    store = Store(str(tmp_path / "bulk.sqlite"))
    with store.bulk_load():
        assert _journal_mode(store) == "delete"  # new pages straight into the file
        store.load_prepared([prepare(_obs("o1", "p1", "laboratory", 1))])
    assert _journal_mode(store) == "wal"
    assert store.count() == 1


def test_a_load_while_another_connection_reads_keeps_the_write_ahead_log(tmp_path):
    import sqlite3

    path = str(tmp_path / "bulk.sqlite")
    store = Store(path)
    reader = sqlite3.connect(path)
    reader.execute("SELECT count(*) FROM resources").fetchone()  # holds the log open
    try:
        with store.bulk_load():
            assert _journal_mode(store) == "wal"
            store.load_prepared([prepare(_obs("o1", "p1", "laboratory", 1))])
        assert reader.execute("SELECT count(*) FROM resources").fetchone() == (1,)
    finally:
        reader.close()


def _comparable(prepared) -> tuple:
    """A prepared resource without its moment of preparation."""
    resource = json.loads(prepared.stored.json)
    del resource["meta"]["lastUpdated"]
    return resource, prepared.index


@pytest.mark.parametrize("producers", [1, 2, 3])
def test_batches_made_by_several_processes_come_back_as_a_sequential_run_makes_them(monkeypatch, producers):
    from sandbox.seed import background, generate_batches

    monkeypatch.setattr(background, "producer_count", lambda: producers)
    anchor = dt.date(2026, 1, 1)
    sequential = [[_comparable(prepare(resource)) for resource in batch] for batch in generate_batches(5, 7, anchor)]
    parallel = [[_comparable(item) for item in batch] for batch in background.prepared_batches(5, 7, anchor)]
    assert parallel == sequential
    registry = next(resource for resource, _ in parallel[-1] if resource["id"] == "group-diabetes-registry")
    assert registry["member"]  # the Groups, made from what the producers reported, have their members
