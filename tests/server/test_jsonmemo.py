"""aster_server.jsonmemo.ParsedJson: a stored JSON text read again is not parsed again."""

from __future__ import annotations

import json

import pytest

from aster_server.jsonmemo import ParsedJson


def test_a_text_is_parsed_once_and_the_least_recent_dropped():
    memo = ParsedJson(size=2)
    first = memo.loads('{"services": ["a"]}')
    assert first == {"services": ["a"]}
    assert memo.loads('{"services": ["a"]}') is first  # the same text: the kept value
    assert memo.loads('{"services": ["b"]}') == {"services": ["b"]}  # a changed document is another key
    memo.loads("[1]")  # a third text: the least recently used is dropped
    assert memo.loads('{"services": ["a"]}') is not first
    assert memo.loads('{"services": ["a"]}') == first


def test_bad_json_is_not_kept():
    memo = ParsedJson()
    with pytest.raises(json.JSONDecodeError):
        memo.loads("{nope")
    with pytest.raises(json.JSONDecodeError):
        memo.loads("{nope")


def test_a_kept_document_is_encoded_once():
    from aster_server.jsonmemo import KeptJson

    doc = KeptJson({"items": [{"plan_id": "01J", "services": ["TaskService@1"]}], "note": "café"})
    assert json.loads(doc.text) == dict(doc) and "café" in doc.text  # as json.dumps(ensure_ascii=False)
    assert doc.text is doc.text  # made once
    assert doc == {"items": [{"plan_id": "01J", "services": ["TaskService@1"]}], "note": "café"}  # still the dict
