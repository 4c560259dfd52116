"""`null` in tool arguments follows the schema an agent sees (issue 22, item 10).

Before, `null` for a non-nullable field with a default (an `integer` in the schema) was taken as
"use the default" and the call went out. Now a field, list item or map value whose schema has no
`null` refuses it with an INVALID_ARGUMENT tool error naming it, and nothing is sent; a nullable
one takes it. Every case is also checked against the advertised inputSchema, so the error and the
schema always agree. Driven by the real Python MCP SDK client over stdio.
"""

from __future__ import annotations

import jsonschema
import pytest

from tests.mcp.conftest import stdio_mcp
from tests.support.aio import run

#: (tool, arguments, the start of the tool error's message); each refused before anything is sent
REFUSED = [
    ("EchoService.roundtrip", {"i": None}, "i may not be null: it is an integer; leave it out for its default"),
    ("EchoService.roundtrip", {"s": None}, "s may not be null: it is a string; leave it out for its default"),
    ("EchoService.roundtrip", {"b": None}, "b may not be null: it is a boolean; leave it out for its default"),
    ("EchoService.roundtrip", {"f": None}, "f may not be null: it is a number; leave it out for its default"),
    ("EchoService.roundtrip", {"inner": None}, "inner may not be null: it is an object (Inner)"),
    ("EchoService.roundtrip", {"items": None}, "items may not be null: it is an array"),
    ("EchoService.roundtrip", {"attrs": None}, "attrs may not be null: it is an object"),
    ("EchoService.roundtrip", {"mood": None}, "mood may not be null: it is an enum value"),
    ("EchoService.roundtrip", {"items": [1, None]}, "items[1] may not be null: it is an integer"),
    ("EchoService.roundtrip", {"attrs": {"k": None}}, "attrs['k'] may not be null: it is a string"),
    ("EchoService.count", {"n": None}, "n may not be null: it is an integer"),            # a stream tool
    ("EchoService.sum", {"_items": [{"value": None}]}, "_items[0].value may not be null"),  # a client stream
    ("Ledger.put", {"by_id": {"7": None}}, "by_id['7'] may not be null: it is a number"),
    ("Ledger.put_many", {"items": [{"by_id": None}]}, "items[0].by_id may not be null: it is an object"),
    ("Ledger.put_many", {"items": [None]}, "items[0] may not be null: it is an object (Scores)"),
    ("Ledger.put_many", {"by_name": {"a": {"notes": None}}}, "by_name['a'].notes may not be null: it is an array"),
]

#: nullable fields, items and map values take null (the schema says so)
ACCEPTED = [
    ("EchoService.roundtrip", {"maybe": None}),
    ("Ledger.put", {"notes": ["a", None], "ranks": {"x": None, "y": 2}}),
    ("Ledger.put_many", {"note": None}),
]


@pytest.fixture(scope="module")
def typed_server():
    from tests.support.server import start_server

    with start_server(("echo", "typed")) as srv:
        yield srv


def test_null_is_taken_exactly_where_the_schema_allows_it(typed_server):
    async def body():
        async with stdio_mcp(typed_server.address) as client:
            schemas = {t.name: t.input_schema for t in (await client.list_tools()).tools}
            before = await client.call_tool("Ledger.tally", {})
            refused = [await client.call_tool(name, arguments) for name, arguments, _ in REFUSED]
            between = await client.call_tool("Ledger.tally", {})
            accepted = [await client.call_tool(name, arguments) for name, arguments in ACCEPTED]
            return schemas, before, refused, between, accepted

    schemas, before, refused, between, accepted = run(body(), 90)
    for (name, arguments, message), result in zip(REFUSED, refused):
        assert result.is_error, (name, arguments, result)
        error = result.structured_content["error"]
        assert error["status"] == "INVALID_ARGUMENT" and error["code"] == 3, (name, error)
        assert error["message"].startswith(f"{name}: {message}"), (error["message"], message)
        with pytest.raises(jsonschema.ValidationError):      # the schema refuses it too
            jsonschema.validate(arguments, schemas[name])
    # nothing refused reached the service
    assert between.structured_content == before.structured_content
    for (name, arguments), result in zip(ACCEPTED, accepted):
        assert not result.is_error, (name, arguments, result)
        jsonschema.validate(arguments, schemas[name])
    assert accepted[0].structured_content["maybe"] is None
    assert accepted[1].structured_content["notes"] == ["a", None]
    assert accepted[1].structured_content["ranks"] == {"x": None, "y": 2}
