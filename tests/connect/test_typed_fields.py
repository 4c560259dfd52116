"""Map keys and values, list items and nested messages are checked before a request is sent.

`Ledger` (the harness's `typed` service, tests/support/services.py) counts the requests
that reach it, so a request refused locally is seen never to have been sent. Its `put` is
the idempotent method the MCP fidelity tests use too.
"""

from __future__ import annotations

import json
from typing import Iterator

import pytest

from aster_core.testing import run_aster
from aster_core.testing import assert_clean_error

from tests.connect.conftest import parse_json_lines
from tests.support.aio import run
from tests.support.server import RunningServer, start_server


@pytest.fixture(scope="module")
def ledger() -> Iterator[RunningServer]:
    with start_server(("typed",)) as srv:
        yield srv


def call(address: str, target: str, request: str):
    return run_aster(["call", address, target, request, "--json"], timeout=60)


def calls_seen(address: str) -> int:
    proc = call(address, "Ledger.tally", "{}")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["calls"]


GOOD = {"by_id": {"1": 2.5, "-7": 3}, "notes": ["a", None], "ranks": {"gold": 1, "none": None}}


def test_good_map_and_list_values_reach_the_server(ledger):
    before = calls_seen(ledger.address)
    proc = call(ledger.address, "Ledger.put", json.dumps(GOOD))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == GOOD
    batch = {"items": [GOOD, {}], "by_name": {"x": {"notes": [None, "n"]}}, "note": {"text": "t"}}
    proc = call(ledger.address, "Ledger.put_many", json.dumps(batch))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["items"] == 3
    assert calls_seen(ledger.address) == before + 2


BAD = [
    ("Ledger.put", {"by_id": {"x": 1.0}}, "put: by_id.x: key must be an integer, got 'x'"),
    ("Ledger.put", {"by_id": {"1": "one"}}, "by_id.1: must be float, got string 'one'"),
    ("Ledger.put", {"by_id": {"1": True}}, "by_id.1: must be float, got boolean"),
    ("Ledger.put", {"notes": ["a", 3]}, "notes[1]: must be str | None, got number 3"),
    ("Ledger.put", {"ranks": {"gold": "first"}}, "ranks.gold: must be int | None, got string 'first'"),
    ("Ledger.put", {"ranks": {"a.b": 1.5}}, 'ranks["a.b"]: must be int | None, got number 1.5'),
    ("Ledger.put", {"by_id": [1.0]}, "field 'by_id' must be dict[int, float], got array"),
    ("Ledger.put", {"notes": "a"}, "field 'notes' must be list[str | None], got string"),
    # nested messages of a type the manifest describes (put's request) are checked field by field
    ("Ledger.put_many", {"items": [{}, {"by_id": {"q": 1}}]}, "items[1].by_id.q: key must be an integer"),
    ("Ledger.put_many", {"by_name": {"x": {"notez": []}}}, "by_name.x: unknown field 'notez'"),
    ("Ledger.put_many", {"items": [7]}, "items[0]: must be Scores, got number 7"),
]


@pytest.mark.slow
def test_bad_map_and_list_values_are_usage_errors_and_never_sent(ledger):
    before = calls_seen(ledger.address)
    for target, request, needle in BAD:
        assert_clean_error(call(ledger.address, target, json.dumps(request)), 2, "[INVALID_ARGUMENT]", needle)
    assert calls_seen(ledger.address) == before
    # the hint lists the fields of the message the error is in
    proc = call(ledger.address, "Ledger.put_many", '{"by_name": {"x": {"notez": []}}}')
    assert "Did you mean 'notes'?" in proc.stderr and "Fields of Scores: by_id: dict[int, float]" in proc.stderr


def test_undescribed_nested_types_stay_lenient(ledger):
    """`Batch.note` is a `Note`, which no method takes or returns: any object passes the check."""
    from aster_connect.client import connect
    from aster_connect.schema import check_request

    async def body():
        async with await connect(ledger.address, timeout=20) as conn:
            method = conn.service("Ledger").method("put_many")
            assert check_request(method, {"note": {"anything": [1, 2]}}) == {"note": {"anything": [1, 2]}}
            assert check_request(method, {"note": None}) == {"note": None}
            fields = {f.name: f for f in method.fields}
            assert (fields["by_name"].key_kind, fields["by_name"].value_kind, fields["by_name"].value_ref) == \
                ("string", "ref", "Scores")
            put = {f.name: f for f in conn.service("Ledger").method("put").fields}
            assert (put["notes"].item_kind, put["notes"].item_nullable) == ("string", True)
            assert (put["ranks"].value_kind, put["ranks"].value_nullable) == ("int", True)

    run(body())


def test_shell_describes_full_types_and_checks_words(ledger):
    script = "\n".join([
        "cd Ledger",
        "describe put",
        "describe put_many",
        "./put by_id.7=2.5 notes=[null]",        # dotted key: an int-keyed map entry
        './put by_id={"seven": 2.5}',
        "./put notes=[1]",
        "./tally",
    ]) + "\n"
    proc = run_aster(["shell", ledger.address, "--json"], input=script, timeout=60)
    assert "Traceback" not in proc.stderr
    put, put_many, reply, bad_key, bad_item, tally = parse_json_lines(proc.stdout)
    assert {f["name"]: f["type"] for f in put["fields"]} == {
        "by_id": "dict[int, float]", "notes": "list[str | None]", "ranks": "dict[str, int | None]"}
    assert put["signature"] == "(by_id: dict[int, float], notes: list[str | None], ranks: dict[str, int | None])" \
                               " -> Scores"
    assert {f["name"]: f["type"] for f in put_many["fields"]} == {
        "items": "list[Scores]", "by_name": "dict[str, Scores]", "note": "Note | None"}
    assert reply == {"by_id": {"7": 2.5}, "notes": [None], "ranks": {}}
    assert "by_id.seven: key must be an integer" in bad_key["error"]["message"]
    assert "notes[0]: must be str | None" in bad_item["error"]["message"]
    assert bad_key["error"]["exit_code"] == bad_item["error"]["exit_code"] == 2
    assert proc.stderr.count("Error: ") == 2 and proc.returncode == 2
    assert tally["calls"] >= 1

    human = run_aster(["shell", ledger.address], input="cd Ledger\ndescribe put\n", timeout=60)
    assert human.returncode == 0, human.stderr
    assert "(by_id: dict[int, float], notes: list[str | None], ranks: dict[str, int | None]) -> Scores" \
        in human.stdout
    assert "ranks            dict[str, int | None] default None" in human.stdout
