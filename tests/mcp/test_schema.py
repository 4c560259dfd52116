"""Manifest fields -> JSON Schema, arguments -> requests, filters, bounded streams.

The manifests are the runtime's own (``extract_method_descriptors`` over the
harness services), so these tests follow what a real peer publishes.
"""

from __future__ import annotations

import asyncio
import base64
import time

import jsonschema
import pytest

from aster_mcp import schema as sch
from aster_mcp.arguments import ArgumentError, plan_call
from aster_mcp.catalog import Filters
from aster_mcp.results import collect, to_jsonable


def _methods(cls) -> dict[str, dict]:
    from aster.contract.manifest import extract_method_descriptors

    return {m["name"]: m for m in extract_method_descriptors(cls.__aster_service_info__)}


@pytest.fixture(scope="module")
def echo() -> dict[str, dict]:
    from tests.support.services import EchoService

    return _methods(EchoService)


@pytest.fixture(scope="module")
def types(echo) -> sch.TypeTable:
    return sch.TypeTable.from_methods(echo.values())


def test_every_kind_gets_its_json_type(echo, types):
    props = sch.input_schema(echo["roundtrip"], types)["properties"]
    assert props["i"]["type"] == "integer" and props["i"]["default"] == 0
    assert props["f"]["type"] == "number"
    assert props["b"]["type"] == "boolean" and props["b"]["default"] is False
    assert props["s"]["type"] == "string"
    data = sch.input_schema(echo["blob"], types)["properties"]["data"]
    assert data["type"] == "string" and data["contentEncoding"] == "base64"
    assert data["default"] == ""  # the runtime records b'' as its repr; we advertise base64
    assert props["items"] == {"type": "array", "items": {"type": "integer"}, "default": []}
    assert props["attrs"] == {"type": "object", "additionalProperties": {"type": "string"}, "default": {}}
    assert props["maybe"]["type"] == ["string", "null"]
    assert props["inner"]["type"] == "object"
    assert props["children"]["items"]["type"] == "object"
    assert props["mood"]["enum"] == [0, 1, 2] and props["mood"]["type"] == "integer"
    assert sch.input_schema(echo["roundtrip"], types)["additionalProperties"] is False


def test_required_fields_nested_messages_and_maps_from_declarations():
    inner = [{"name": "label", "kind": "string", "required": True, "default_kind": "none"}]
    methods = [
        {"name": "put", "pattern": "unary", "request_type": "Put", "response_type": "Inner",
         "fields": [
             {"name": "id", "kind": "int", "required": True, "default_kind": "none"},
             {"name": "inner", "kind": "ref", "ref_name": "Inner", "required": False, "default_kind": "factory"},
             {"name": "scores", "kind": "map", "key_kind": "int", "value_kind": "float", "value_nullable": True,
              "required": False, "default_kind": "empty_map"},
             {"name": "kids", "kind": "list", "item_kind": "ref", "item_ref": "Inner", "required": False,
              "default_kind": "empty_list"},
         ],
         "response_fields": inner},
    ]
    table = sch.TypeTable.from_methods(methods)
    schema = sch.input_schema(methods[0], table)
    assert schema["required"] == ["id"]
    nested = schema["properties"]["inner"]
    assert nested["properties"]["label"] == {"type": "string"} and nested["required"] == ["label"]
    assert "default" not in nested  # a factory default is not a JSON value
    scores = schema["properties"]["scores"]
    assert scores["additionalProperties"]["type"] == ["number", "null"]
    assert scores["propertyNames"]["pattern"]
    assert schema["properties"]["kids"]["items"]["required"] == ["label"]
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate({"id": 1, "inner": {"label": "x"}, "scores": {"7": 0.5, "8": None}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"id": "1"}, schema)


def test_self_referencing_message_does_not_recurse_forever():
    node = [{"name": "next", "kind": "ref", "ref_name": "Node", "nullable": True, "required": False,
             "default_kind": "value", "default_value": None}]
    methods = [{"name": "walk", "pattern": "unary", "request_type": "Node", "response_type": "Node",
                "fields": node, "response_fields": node}]
    schema = sch.input_schema(methods[0], sch.TypeTable.from_methods(methods))
    assert schema["properties"]["next"]["type"] == ["object", "null"]


def test_streaming_patterns_add_limits_and_items(echo, types):
    count = sch.input_schema(echo["count"], types)
    assert count["properties"]["_max_items"]["default"] == 100
    assert count["properties"]["_timeout"]["default"] == 30
    assert set(sch.output_schema(echo["count"], types)["required"]) == {"items", "count", "complete", "stopped"}
    total = sch.input_schema(echo["sum"], types)
    assert total["required"] == ["_items"]
    assert total["properties"]["_items"]["items"]["properties"]["value"]["type"] == "integer"
    chat = sch.input_schema(echo["chat"], types)
    assert {"_items", "_max_items", "_timeout"} <= set(chat["properties"])
    for method in echo.values():
        jsonschema.Draft202012Validator.check_schema(sch.input_schema(method, types))
        jsonschema.Draft202012Validator.check_schema(sch.output_schema(method, types))


def test_description_names_pattern_request_and_response(echo):
    text = sch.describe("EchoService", echo["count"])
    assert "server-streaming" in text and "CountRequest" in text and "CountItem" in text
    assert "Session-scoped" in sch.describe("CounterSession", echo["echo"], scoped="session")


def test_arguments_become_the_request(echo, types):
    plan = plan_call(echo["echo"], {"text": "hi", "times": 3.0, "inner": {"label": "x", "weight": 2}}, types)
    assert plan.request == {"text": "hi", "times": 3, "inner": {"label": "x", "weight": 2}}
    plan = plan_call(echo["blob"], {"data": base64.b64encode(b"\x00\xff").decode()}, types)
    assert plan.request == {"data": "AP8="}
    plan = plan_call(echo["roundtrip"], {"maybe": None}, types)
    assert plan.request == {"maybe": None}
    plan = plan_call(echo["count"], {"n": 5, "_max_items": 2, "_timeout": 1}, types)
    assert plan.request == {"n": 5} and plan.max_items == 2 and plan.timeout == 1.0
    plan = plan_call(echo["sum"], {"_items": [{"value": 1}, {"value": 2}]}, types)
    assert plan.items == [{"value": 1}, {"value": 2}] and plan.request is None


@pytest.mark.parametrize("method,arguments,message", [
    ("echo", {"times": "3"}, "times must be an integer"),
    ("echo", {"times": True}, "times must be an integer"),
    ("echo", {"text": 1}, "text must be a string"),
    ("echo", {"bogus": 1}, "unknown field(s) 'bogus'"),
    ("echo", {"tags": ["a", 2]}, "tags[1] must be a string"),
    ("echo", {"text": None}, "text may not be null: it is a string; leave it out for its default"),
    ("echo", {"times": None}, "times may not be null: it is an integer; leave it out for its default"),
    ("echo", {"tags": ["a", None]}, "tags[1] may not be null: it is a string"),
    ("blob", {"data": "not base64!"}, "not base64"),
    ("roundtrip", {"mood": 7}, "must be one of [0, 1, 2]"),
    ("roundtrip", {"inner": "x"}, "must be an object"),
    ("count", {"_max_items": 0}, "_max_items must be an integer from 1"),
    ("count", {"_timeout": -1}, "_timeout must be a number"),
    ("sum", {}, "missing required argument '_items'"),
    ("sum", {"_items": [{"value": "1"}]}, "_items[0].value must be an integer"),
    ("sum", {"_items": [], "value": 1}, "unknown argument(s) 'value'"),
])
def test_bad_arguments_are_explained(echo, types, method, arguments, message):
    with pytest.raises(ArgumentError) as err:
        plan_call(echo[method], arguments, types)
    assert message in str(err.value)


def test_null_is_refused_for_a_required_field_and_never_shown_as_a_default_it_would_refuse():
    method = {"name": "m", "pattern": "unary", "fields": [
        {"name": "id", "kind": "int", "required": True},
        {"name": "n", "kind": "int", "required": False, "default_kind": "null"},
        {"name": "maybe", "kind": "int", "nullable": True, "required": False, "default_kind": "null"}]}
    with pytest.raises(ArgumentError, match="^id may not be null: it is an integer, and required$"):
        plan_call(method, {"id": None}, sch.TypeTable())
    with pytest.raises(ArgumentError, match="^n may not be null"):
        plan_call(method, {"id": 1, "n": None}, sch.TypeTable())
    assert plan_call(method, {"id": 1, "maybe": None}, sch.TypeTable()).request == {"id": 1, "maybe": None}
    props = sch.input_schema(method, sch.TypeTable())["properties"]
    assert props["n"] == {"type": "integer"}          # no "default": null beside a type without null
    assert props["maybe"] == {"type": ["integer", "null"], "default": None}


def test_missing_required_field_is_refused():
    method = {"name": "m", "pattern": "unary", "fields": [{"name": "id", "kind": "int", "required": True}]}
    with pytest.raises(ArgumentError, match="missing required field 'id'"):
        plan_call(method, {}, sch.TypeTable())


def test_deny_wins_over_allow_and_allow_restricts():
    filters = Filters(allow=("Echo.*",), deny=("Echo.fail",), confirm=("*.delete*",))
    assert filters.hidden_by("Echo.echo") is None
    assert "deny" in filters.hidden_by("Echo.fail")
    assert "allow" in filters.hidden_by("Counter.add")
    assert Filters(deny=("*",)).hidden_by("Echo.echo")
    assert Filters().hidden_by("Anything.x") is None
    assert filters.needs_confirm("Files.delete_all") and not filters.needs_confirm("Files.read")


def test_results_are_plain_json():
    import enum
    from dataclasses import dataclass

    class Color(enum.IntEnum):
        RED = 1

    @dataclass
    class Msg:
        raw: bytes
        color: Color
        nested: dict

    assert to_jsonable(Msg(b"hi", Color.RED, {1: [b"x"]})) == {"raw": "aGk=", "color": 1, "nested": {"1": ["eA=="]}}


async def _numbers(n: int, delay: float = 0.0):
    for i in range(n):
        if delay:
            await asyncio.sleep(delay)
        yield i


def test_collect_stops_at_max_items_at_timeout_or_at_the_end():
    got = asyncio.run(collect(_numbers(10), max_items=3, timeout=5))
    assert got.to_dict() == {"items": [0, 1, 2], "count": 3, "complete": False, "stopped": "max_items"}
    got = asyncio.run(collect(_numbers(2), max_items=3, timeout=5))
    assert got.to_dict() == {"items": [0, 1], "count": 2, "complete": True, "stopped": "end"}
    start = time.monotonic()
    got = asyncio.run(collect(_numbers(100, delay=0.05), max_items=100, timeout=0.3))
    assert got.stopped == "timeout" and 2 <= got.to_dict()["count"] < 10
    assert time.monotonic() - start < 2


def test_catalog_from_aster_connect_services(echo):
    """What aster_connect reports becomes tools, built from the manifest the service keeps
    (map value kinds included); a service with no manifest is omitted with the reason."""
    from aster_connect.schema import ServiceInfo

    from aster_mcp.catalog import build_catalog

    scored = {"name": "scores", "kind": "map", "key_kind": "string", "value_kind": "int", "required": False,
              "default_kind": "empty_map"}
    manifest = {"scoped": "shared", "methods": [
        *echo.values(),
        {"name": "rank", "pattern": "unary", "request_type": "Rank", "response_type": "Rank",
         "fields": [scored], "response_fields": [scored]}]}
    parsed = ServiceInfo(name="EchoService", contract_id="c" * 64)
    parsed.apply_manifest(manifest)
    assert parsed.manifest is manifest
    unknown = ServiceInfo(name="Hidden", contract_id="d" * 64)
    catalog = build_catalog([parsed, unknown], Filters(deny=("EchoService.fail",), confirm=("*.slow",)))
    assert "EchoService.echo" in catalog.tools and "EchoService.fail" not in catalog.tools
    assert catalog.tools["EchoService.slow"].confirm and not catalog.tools["EchoService.echo"].confirm
    reasons = {o.name: o.reason for o in catalog.omitted}
    assert "no published manifest" in reasons["Hidden.*"] and "deny" in reasons["EchoService.fail"]
    assert not any(name.startswith("Hidden.") for name in catalog.tools)
    echo_tool = catalog.tools["EchoService.echo"]
    assert echo_tool.input_schema["properties"]["times"] == {"type": "integer", "default": 1}
    assert echo_tool.input_schema["properties"]["tags"]["items"] == {"type": "string"}
    rank = catalog.tools["EchoService.rank"]
    assert rank.input_schema["properties"]["scores"]["additionalProperties"] == {"type": "integer"}
    with pytest.raises(ArgumentError, match=r"scores\['a'\] must be an integer"):
        plan_call(rank.method, {"scores": {"a": "1"}}, rank.types)
