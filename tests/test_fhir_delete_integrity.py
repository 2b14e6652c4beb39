"""R4 http.html §3.1.0.7.1: a delete that would break referential integrity is refused with 409 Conflict
and an OperationOutcome naming the resources that still refer to the target."""

from tests.conftest import issue_token


def create(client, resource):
    response = client.post(f"/fhir/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.json
    return response.json["id"]


def patient(**extra):
    return {"resourceType": "Patient", "name": [{"family": "Smith"}], **extra}


def observation(subject):
    return {"resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": subject}}


def test_deleting_a_referenced_patient_is_409_listing_referrers_and_deletes_nothing(client):
    pid = create(client, patient())
    oids = sorted(create(client, observation(f"Patient/{pid}")) for _ in range(2))
    response = client.delete(f"/fhir/Patient/{pid}")
    assert response.status_code == 409
    issue = response.json["issue"][0]
    assert issue["code"] == "conflict"
    assert issue["diagnostics"] == (f"Patient/{pid} is still referenced by 2 resource(s): "
                                    f"Observation/{oids[0]}, Observation/{oids[1]}; delete or change those first")
    assert client.get(f"/fhir/Patient/{pid}").status_code == 200


def test_only_the_first_ten_referrers_are_named_with_a_count_of_the_rest(client):
    pid = create(client, patient())
    for _ in range(12):
        create(client, observation(f"Patient/{pid}"))
    diagnostics = client.delete(f"/fhir/Patient/{pid}").json["issue"][0]["diagnostics"]
    assert "by 12 resource(s)" in diagnostics
    assert diagnostics.count("Observation/") == 10
    assert "and 2 more" in diagnostics


def test_the_delete_succeeds_once_the_referrers_are_gone(client):
    pid = create(client, patient())
    oid = create(client, observation(f"Patient/{pid}"))
    assert client.delete(f"/fhir/Patient/{pid}").status_code == 409
    assert client.delete(f"/fhir/Observation/{oid}").status_code == 200
    assert client.delete(f"/fhir/Patient/{pid}").status_code == 200
    assert client.get(f"/fhir/Patient/{pid}").status_code == 410


def test_a_resource_referring_to_itself_does_not_block_its_delete(client):
    client.put("/fhir/Patient/self-ref", json=patient(id="self-ref", link=[
        {"other": {"reference": "Patient/self-ref"}, "type": "seealso"}]))
    assert client.delete("/fhir/Patient/self-ref").status_code == 200


def test_a_token_that_may_not_delete_learns_nothing_about_referrers(app, client):
    pid = create(client, patient())
    create(client, observation(f"Patient/{pid}"))
    token = issue_token(app.extensions["store"], scope="system/*.rs")
    response = client.delete(f"/fhir/Patient/{pid}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert "Observation" not in str(response.json)


def test_a_transaction_deleting_a_referenced_resource_alone_fails_with_409(client):
    pid = create(client, patient())
    create(client, observation(f"Patient/{pid}"))
    bundle = {"resourceType": "Bundle", "type": "transaction",
              "entry": [{"request": {"method": "DELETE", "url": f"Patient/{pid}"}}]}
    response = client.post("/fhir", json=bundle)
    assert response.status_code == 409
    assert client.get(f"/fhir/Patient/{pid}").status_code == 200


def test_a_transaction_deleting_the_referrer_first_then_the_target_succeeds(client):
    pid = create(client, patient())
    oid = create(client, observation(f"Patient/{pid}"))
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "DELETE", "url": f"Observation/{oid}"}},
        {"request": {"method": "DELETE", "url": f"Patient/{pid}"}}]}
    response = client.post("/fhir", json=bundle)
    assert response.status_code == 200, response.json
    assert client.get(f"/fhir/Patient/{pid}").status_code == 410


def test_a_transaction_may_delete_the_target_before_its_referrers(client):
    """Integrity is judged once every entry ran: the order of DELETE entries in the Bundle does not matter."""
    pid = create(client, patient())
    oids = [create(client, observation(f"Patient/{pid}")) for _ in range(2)]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "DELETE", "url": f"Patient/{pid}"}},
        *({"request": {"method": "DELETE", "url": f"Observation/{oid}"}} for oid in oids)]}
    response = client.post("/fhir", json=bundle)
    assert response.status_code == 200, response.json
    assert client.get(f"/fhir/Patient/{pid}").status_code == 410
    assert all(client.get(f"/fhir/Observation/{oid}").status_code == 410 for oid in oids)


def test_a_transaction_that_leaves_a_referrer_behind_fails_whatever_the_order(client):
    pid = create(client, patient())
    gone, left = create(client, observation(f"Patient/{pid}")), create(client, observation(f"Patient/{pid}"))
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "DELETE", "url": f"Patient/{pid}"}},
        {"request": {"method": "DELETE", "url": f"Observation/{gone}"}}]}
    response = client.post("/fhir", json=bundle)
    assert response.status_code == 409 and f"Observation/{left}" in str(response.json)
    assert client.get(f"/fhir/Patient/{pid}").status_code == 200
    assert client.get(f"/fhir/Observation/{gone}").status_code == 200  # nothing was stored


# -- conditional delete (R4 §3.1.0.7.3, declared "multiple": several matches need _multiple=true) ------------

def test_a_conditional_delete_matching_nothing_is_200_with_nothing_to_delete(client):
    response = client.delete("/fhir/Patient?identifier=nothing-here")
    assert response.status_code == 200
    assert response.json["issue"][0]["severity"] == "information"
    assert response.json["issue"][0]["diagnostics"] == "No Patient matches 'identifier=nothing-here'; nothing to delete"


def test_a_conditional_delete_matching_one_deletes_it(client):
    pid = create(client, patient(identifier=[{"system": "urn:t", "value": "one"}]))
    response = client.delete("/fhir/Patient?identifier=urn:t|one")
    assert response.status_code == 200
    assert client.get(f"/fhir/Patient/{pid}").status_code == 410


def test_a_conditional_delete_of_a_referenced_match_is_409(client):
    pid = create(client, patient(identifier=[{"system": "urn:t", "value": "ref"}]))
    create(client, observation(f"Patient/{pid}"))
    assert client.delete("/fhir/Patient?identifier=urn:t|ref").status_code == 409
    assert client.get(f"/fhir/Patient/{pid}").status_code == 200


def test_a_conditional_delete_matching_several_is_412_saying_how_many(client):
    pids = [create(client, patient(identifier=[{"system": "urn:t", "value": "many"}])) for _ in range(3)]
    response = client.delete("/fhir/Patient?identifier=urn:t|many")
    assert response.status_code == 412
    assert "matches 3 resources" in response.json["issue"][0]["diagnostics"]
    assert all(client.get(f"/fhir/Patient/{pid}").status_code == 200 for pid in pids)


def test_multiple_true_deletes_every_match_in_one_transaction(client):
    pids = [create(client, patient(identifier=[{"system": "urn:t", "value": "all"}])) for _ in range(3)]
    response = client.delete("/fhir/Patient?identifier=urn:t|all&_multiple=true")
    assert response.status_code == 200, response.json
    assert "Deleted 3 Patient resources" in response.json["issue"][0]["diagnostics"]
    assert all(client.get(f"/fhir/Patient/{pid}").status_code == 410 for pid in pids)


def test_multiple_deletes_matches_that_refer_to_each_other_but_none_referenced_from_outside(client):
    pid = create(client, patient())
    first = create(client, observation(f"Patient/{pid}"))
    second = create(client, {**observation(f"Patient/{pid}"), "hasMember": [{"reference": f"Observation/{first}"}]})
    assert client.delete(f"/fhir/Observation?subject=Patient/{pid}&_multiple=true").status_code == 200
    assert client.get(f"/fhir/Observation/{first}").status_code == 410
    assert client.get(f"/fhir/Observation/{second}").status_code == 410

    kept = [create(client, patient(identifier=[{"system": "urn:t", "value": "held"}])) for _ in range(2)]
    create(client, observation(f"Patient/{kept[1]}"))
    refused = client.delete("/fhir/Patient?identifier=urn:t|held&_multiple=true")
    assert refused.status_code == 409
    assert all(client.get(f"/fhir/Patient/{p}").status_code == 200 for p in kept)  # none of them, not one


def test_multiple_must_be_true_or_false(client):
    assert client.delete("/fhir/Patient?identifier=urn:t|x&_multiple=yes").status_code == 400


def test_a_conditional_delete_with_an_unknown_parameter_is_refused(client):
    assert client.delete("/fhir/Patient?no-such-param=1").status_code == 400


def test_a_patient_token_conditional_delete_only_sees_its_own_compartment(app, client):
    mine, theirs = create(client, patient()), create(client, patient())
    own = create(client, observation(f"Patient/{mine}"))
    other = create(client, observation(f"Patient/{theirs}"))
    token = issue_token(app.extensions["store"], scope="patient/*.cruds", patient=mine)
    response = client.delete("/fhir/Observation?code=http://loinc.org|8867-4",
                             headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.json
    assert client.get(f"/fhir/Observation/{own}").status_code == 410
    assert client.get(f"/fhir/Observation/{other}").status_code == 200
