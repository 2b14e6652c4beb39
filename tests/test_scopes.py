"""SMART scopes: the v1 and v2 grammar, the v1↔v2 mapping, granular scopes and narrowing."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.auth.scopes import ScopeSet, is_known, parse_resource_scope

LAB = "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory"


@pytest.mark.parametrize("text, context, rtype, perms, version", [
    ("patient/Observation.read", "patient", "Observation", "rs", 1),
    ("user/*.write", "user", "*", "cud", 1),
    ("system/*.*", "system", "*", "cruds", 1),
    ("patient/Observation.rs", "patient", "Observation", "rs", 2),
    ("user/Patient.cruds", "user", "Patient", "cruds", 2),
    ("system/Encounter.s", "system", "Encounter", "s", 2),
    ("patient/*.cud", "patient", "*", "cud", 2),
])
def test_valid_resource_scopes(text, context, rtype, perms, version):
    scope = parse_resource_scope(text)
    assert (scope.context, scope.resource_type, scope.permissions, scope.version) == (context, rtype, perms, version)
    assert str(scope) == text


def test_granular_scope_keeps_its_query_and_text():
    scope = parse_resource_scope(LAB)
    assert scope.query == (("category", "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"),)
    assert str(scope) == LAB


@pytest.mark.parametrize("text", [
    "patient/Observation.sr",  # out of cruds order
    "patient/Observation.rr",
    "patient/Observation.x",
    "patient/Observation.",
    "clinic/Observation.rs",
    "patient/Spaceship.rs",  # not a FHIR type
    "patient/observation.rs",
    "patient/Observation.read?category=x",  # v1 has no granular form
    "patient/Observation.rs?category=",
    "patient/Observation.rs?",
    "Observation.rs",
])
def test_invalid_resource_scopes(text):
    assert parse_resource_scope(text) is None
    assert not is_known(text)


@pytest.mark.parametrize("text", ["openid", "fhirUser", "profile", "offline_access", "online_access", "launch",
                                  "launch/patient", "launch/encounter", "launch/DiagnosticReport"])
def test_context_and_identity_scopes_are_known(text):
    assert is_known(text)


def test_unknown_scopes_are_dropped_not_refused():
    scopes = ScopeSet.parse("openid launch/patient frobnicate patient/Observation.rs launch/Spaceship openid")
    assert scopes.scopes == ("openid", "launch/patient", "patient/Observation.rs")


def test_v1_read_equals_v2_rs():
    v1 = parse_resource_scope("patient/Observation.read")
    v2 = parse_resource_scope("patient/Observation.rs")
    assert v1.covers(v2) and v2.covers(v1)
    assert parse_resource_scope("user/*.*").covers(parse_resource_scope("user/Patient.cruds"))
    assert not parse_resource_scope("user/*.read").covers(parse_resource_scope("user/Patient.c"))


def test_granular_is_narrower_than_plain():
    plain = parse_resource_scope("patient/Observation.rs")
    granular = parse_resource_scope(LAB)
    assert plain.covers(granular)
    assert not granular.covers(plain)


def test_contexts_never_cover_each_other():
    assert not parse_resource_scope("user/*.cruds").covers(parse_resource_scope("patient/Patient.r"))


def test_restrict_echoes_allowed_scopes_verbatim():
    allowed = ScopeSet.parse("launch openid fhirUser patient/*.rs offline_access")
    requested = ScopeSet.parse(f"launch openid fhirUser {LAB} patient/Patient.read online_access")
    assert requested.restrict_to(allowed).scopes == ("launch", "openid", "fhirUser", LAB, "patient/Patient.read")


def test_restrict_narrows_what_is_too_wide():
    allowed = ScopeSet.parse("patient/Observation.rs patient/Patient.read")
    granted = ScopeSet.parse("patient/*.cruds").restrict_to(allowed)
    assert granted.scopes == ("patient/Observation.rs", "patient/Patient.rs")
    # a v1 request is answered in v1
    assert ScopeSet.parse("patient/*.read").restrict_to(allowed).scopes == ("patient/Observation.read",
                                                                            "patient/Patient.read")


def test_refresh_may_narrow_never_widen():
    granted = ScopeSet.parse("openid patient/*.rs offline_access")
    assert ScopeSet.parse("patient/Observation.rs").is_subset_of(granted)
    assert ScopeSet.parse(f"openid {LAB}").is_subset_of(granted)
    assert not ScopeSet.parse("patient/Observation.cruds").is_subset_of(granted)
    assert not ScopeSet.parse("user/Observation.rs").is_subset_of(granted)
    assert not ScopeSet.parse("fhirUser").is_subset_of(granted)


def test_launch_types():
    scopes = ScopeSet.parse("launch launch/patient launch/encounter launch/ImagingStudy")
    assert scopes.launch_types == ["Patient", "Encounter", "ImagingStudy"]


# -- the grammar, property-based ---------------------------------------------------------------

contexts = st.sampled_from(["patient", "user", "system"])
types = st.sampled_from(["Observation", "Patient", "Condition", "*", "MedicationRequest"])
v2_perms = st.sets(st.sampled_from("cruds"), min_size=1).map(lambda s: "".join(p for p in "cruds" if p in s))
v1_perms = st.sampled_from(["read", "write", "*"])
queries = st.lists(st.tuples(st.sampled_from(["category", "code", "status"]),
                             st.text("abcdefghij|:/.-", min_size=1, max_size=12)), max_size=2)


@given(contexts, types, v2_perms, queries)
def test_every_v2_scope_of_the_grammar_parses_and_round_trips(context, rtype, perms, query):
    text = f"{context}/{rtype}.{perms}" + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")
    scope = parse_resource_scope(text)
    assert scope is not None
    assert (scope.context, scope.resource_type, scope.permissions) == (context, rtype, perms)
    assert str(scope) == text
    assert scope.covers(scope)


@given(contexts, types, v1_perms)
def test_every_v1_scope_maps_to_v2(context, rtype, word):
    scope = parse_resource_scope(f"{context}/{rtype}.{word}")
    assert scope.version == 1
    assert scope.permissions == {"read": "rs", "write": "cud", "*": "cruds"}[word]


@given(contexts, types, st.text("cruds", min_size=1, max_size=6))
def test_permission_strings_out_of_order_are_rejected(context, rtype, perms):
    scope = parse_resource_scope(f"{context}/{rtype}.{perms}")
    in_order = "".join(p for p in "cruds" if p in perms)
    if perms == in_order:
        assert scope is not None
    else:
        assert scope is None


@given(contexts, types, v2_perms, contexts, types, v2_perms)
def test_intersection_is_covered_by_both(c1, t1, p1, c2, t2, p2):
    a = parse_resource_scope(f"{c1}/{t1}.{p1}")
    b = parse_resource_scope(f"{c2}/{t2}.{p2}")
    both = a.intersect(b)
    if both is not None:
        assert a.covers(both) and b.covers(both)
        assert parse_resource_scope(str(both)) is not None
    else:
        assert not (a.covers(b) or b.covers(a))


@given(st.text(max_size=40))
def test_arbitrary_text_never_crashes_the_parser(text):
    ScopeSet.parse(text)
    parse_resource_scope(text)
