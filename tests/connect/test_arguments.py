"""Shell argument parsing and address forms: pure functions, no server."""

from __future__ import annotations

import pytest

from aster_connect.addresses import resolve_address
from aster_connect.arguments import parse_arguments
from aster_connect.schema import MethodInfo
from aster_core.errors import UsageError

ECHO = MethodInfo.from_manifest({"name": "echo", "pattern": "unary", "request_type": "EchoRequest", "fields": [
    {"name": "text", "kind": "string", "required": False, "default_value": ""},
    {"name": "times", "kind": "int", "default_value": 1},
    {"name": "ratio", "kind": "float"},
    {"name": "loud", "kind": "bool"},
    {"name": "inner", "kind": "ref", "ref_name": "Inner"},
    {"name": "tags", "kind": "list", "item_kind": "string"},
    {"name": "mood", "kind": "enum", "enum_values": [0, 1, 2]},
]})


@pytest.mark.parametrize("text, expected", [
    ('{"text": "a b", "times": 2}', {"text": "a b", "times": 2}),
    ("hello 3 0.5 yes", {"text": "hello", "times": 3, "ratio": 0.5, "loud": True}),
    ('text="two words" times=2', {"text": "two words", "times": 2}),
    ("times=4 word", {"times": 4, "text": "word"}),            # positional words skip fields already set
    ("inner.label=x inner.weight=1.5", {"inner": {"label": "x", "weight": 1.5}}),
    ('tags=["a","b"] mood=2 text=42', {"tags": ["a", "b"], "mood": 2, "text": "42"}),
    ("", None),
])
def test_parse(text, expected):
    assert parse_arguments(ECHO, text) == expected


@pytest.mark.parametrize("text, message", [
    ("times=lots", "times must be int"),
    ("loud=maybe", "loud must be bool"),
    ("mood=7", "mood must be"),
    ("nope=1", "has no field 'nope'"),
    ("a 1 2.0 true {} [] 0 extra", "too many arguments"),
    ('{"text": ', "not valid JSON"),
    ('text="open', "cannot split"),
])
def test_parse_errors(text, message):
    with pytest.raises(UsageError) as raised:
        parse_arguments(ECHO, text)
    assert message in raised.value.message and raised.value.hint


def test_address_forms(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_address("aster1" + "A" * 40).kind == "ticket"
    assert resolve_address("ab" * 32).kind == "endpoint_id"
    assert resolve_address("Y2EwYzlmNjEyOTE0ZDhmZjk3NGY0NTA4").kind == "node_addr"
    (tmp_path / ".aster-identity").write_text(
        '[[peers]]\nname = "prod"\nrole = "consumer"\naddress = "aster1' + "B" * 40 + '"\nsignature = "00"\n'
        '[[peers]]\nname = "bare"\nrole = "consumer"\n')
    prod = resolve_address("prod")
    assert (prod.kind, prod.peer, prod.value[:7]) == ("peer", "prod", "aster1B")
    with pytest.raises(UsageError) as no_address:
        resolve_address("bare")
    assert "address" in no_address.value.hint
    with pytest.raises(UsageError) as unknown:
        resolve_address("staging")
    assert "prod" in unknown.value.hint
