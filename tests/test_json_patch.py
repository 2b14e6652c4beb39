"""JSON Patch (RFC 6902) and JSON Merge Patch (RFC 7396) as plain functions, on the examples of their
Appendix A."""

import pytest

from sandbox.fhir.json_patch import apply_json_patch, apply_merge_patch
from sandbox.store.errors import InvalidRequest, Unprocessable


@pytest.mark.parametrize("document, patch, expected", [
    ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),  # A.1
    ({"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}], {"foo": ["bar", "qux", "baz"]}),
    ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),  # A.3
    ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),  # A.4
    ({"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}],
     {"baz": "boo", "foo": "bar"}),  # A.5
    ({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
     [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
     {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),  # A.6
    ({"foo": ["all", "grass", "cows", "eat"]}, [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
     {"foo": ["all", "cows", "eat", "grass"]}),  # A.7
    ({"baz": "qux", "foo": ["a", 2, "c"]}, [{"op": "test", "path": "/baz", "value": "qux"},
                                           {"op": "test", "path": "/foo/1", "value": 2}],
     {"baz": "qux", "foo": ["a", 2, "c"]}),  # A.8
    ({"foo": "bar"}, [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
     {"foo": "bar", "child": {"grandchild": {}}}),  # A.10
    ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}], {"foo": "bar", "baz": "qux"}),
    ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),  # A.14
    ({"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
     {"foo": ["bar", ["abc", "def"]]}),  # A.16
    ({"a": [1]}, [{"op": "copy", "from": "/a/0", "path": "/b"}], {"a": [1], "b": 1}),
])
def test_rfc_6902_appendix_a(document, patch, expected):
    assert apply_json_patch(patch, document) == expected


@pytest.mark.parametrize("document, patch, error", [
    ({"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}], Unprocessable),  # A.9
    ({"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}], Unprocessable),  # A.12
    ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}], Unprocessable),  # A.15
    ({"a": 1}, [{"op": "test", "path": "/a", "value": True}], Unprocessable),  # true is not 1
    ({"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a/b/c"}], InvalidRequest),
    ({"a": [1]}, [{"op": "remove", "path": "/a/01"}], Unprocessable),  # leading zeros are not indexes
    ({"a": 1}, [{"op": "remove"}], InvalidRequest),
])
def test_rfc_6902_errors(document, patch, error):
    with pytest.raises(error):
        apply_json_patch(patch, document)


def test_a_failed_patch_leaves_the_target_as_it_was():
    target = {"a": [1, 2]}
    with pytest.raises(Unprocessable):
        apply_json_patch([{"op": "remove", "path": "/a/0"}, {"op": "test", "path": "/a/0", "value": 1}], target)
    assert target == {"a": [1, 2]}


@pytest.mark.parametrize("target, patch, expected", [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
])
def test_rfc_7396_appendix_a(target, patch, expected):
    assert apply_merge_patch(patch, target) == expected
