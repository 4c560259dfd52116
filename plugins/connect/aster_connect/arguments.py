"""Shell arguments to a request: JSON, ``key=value`` words, or positional words.

- ``{"text": "hi", "times": 2}``: JSON, typed as is (no shell quoting needed:
  the shell passes the rest of the line through untouched);
- ``text="hello world" times=2 inner.label=x``: each value is converted by
  its field's kind from the schema; dotted keys build nested objects;
- ``hello 2``: plain words fill the request's fields in declaration order.

Streaming-input methods take a JSON array of requests (one item per element).
"""

from __future__ import annotations

import json
from typing import Any

from aster_core.errors import UsageError

from .jsontext import JsonLimit, check_value, loads
from .schema import FieldInfo, MethodInfo


def _too_big(what: str, exc: JsonLimit) -> UsageError:
    return UsageError(f"{what} cannot be sent: {exc}", "Send a flatter value with numbers a 64-bit field can hold.")

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _loose_json(text: str) -> Any:
    """A JSON literal if ``text`` is one (number, true, [..], {..}), else the text itself."""
    try:
        return loads(text)
    except json.JSONDecodeError:
        return text


def convert(spec: FieldInfo | None, text: str) -> Any:
    """Convert one word to the field's kind; UsageError naming the field when it cannot."""
    try:
        return check_value(_convert(spec, text))
    except JsonLimit as exc:
        raise _too_big(spec.name if spec is not None else repr(text[:40]), exc) from None


def _convert(spec: FieldInfo | None, text: str) -> Any:
    if spec is None:
        return _loose_json(text)
    kind = spec.kind
    if spec.nullable and text in ("null", "none"):
        return None
    try:
        if kind in ("string", "bytes"):
            return text
        if kind == "int":
            if len(text) > 70:  # longer than any 64-bit integer in any base int() reads
                raise JsonLimit(f"an integer of {len(text)} characters is out of range (integers have 64 bits)")
            return int(text, 0) if text.lower().startswith(("0x", "0o", "0b")) else int(text)
        if kind == "float":
            return float(text)
        if kind == "bool":
            low = text.lower()
            if low in _TRUE | _FALSE:
                return low in _TRUE
            raise ValueError(text)
        if kind == "enum":
            value = _loose_json(text)
            if spec.enum_values and value not in spec.enum_values:
                raise ValueError(text)
            return value
        value = loads(text)
    except JsonLimit:
        raise
    except (ValueError, json.JSONDecodeError):
        example = {"int": "42", "float": "1.5", "bool": "true", "list": "[1, 2]", "map": '{"k": "v"}',
                   "ref": '{"field": 1}', "enum": ", ".join(map(str, spec.enum_values)) or "a value"}
        raise UsageError(f"{spec.name} must be {spec.type_label}, got {_shown(text)}",
                         f"For example: {spec.name}={example.get(kind, 'value')}.") from None
    return value


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 60 else f"{text[:60]!r}... ({len(text)} characters)"


def _put(target: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = target.setdefault(part, {})
        if not isinstance(node, dict):
            raise UsageError(f"{dotted}: {part} is already set to a non-object value",
                             "Set either the whole field or its parts, not both.")
        target = node
    target[parts[-1]] = value


def _unquote(word: str) -> str:
    if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"'":
        if word[0] == '"':
            try:
                return json.loads(word)
            except json.JSONDecodeError:
                pass
        return word[1:-1]
    return word


def split_words(text: str) -> list[str]:
    """Words split on blanks outside quotes and brackets, so JSON values need no quoting.

    ``tags=["a", "b"]`` stays one word; a value (or word) wholly in quotes
    loses them: ``text="two words"`` gives ``text=two words``.
    """
    words: list[str] = []
    current: list[str] = []
    depth = 0
    quote = ""
    escaped = False
    for char in text:
        if quote:
            current.append(char)
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = ""
            continue
        if char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char.isspace() and depth <= 0:
            if current:
                words.append("".join(current))
                current = []
            continue
        current.append(char)
    if quote or depth > 0:
        raise UsageError("cannot split the arguments: a quote or bracket is not closed",
                         "Close it, or pass the whole request as JSON.")
    if current:
        words.append("".join(current))
    out = []
    for word in words:
        key, eq, value = word.partition("=")
        out.append(f"{key}={_unquote(value)}" if eq and key and key[0] not in "\"'[{" else _unquote(word))
    return out


def parse_arguments(method: MethodInfo | None, text: str) -> Any:
    """The request (or, for streamed input, the list of requests) ``text`` describes."""
    text = text.strip()
    if not text:
        return None
    if text[0] in "{[":
        try:
            return loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"the arguments are not valid JSON: {exc.msg} at column {exc.colno}",
                             "Write a JSON object, or key=value words.") from None
        except JsonLimit as exc:
            raise _too_big("the arguments", exc) from None
    fields = list(method.fields) if method is not None else []
    request: dict[str, Any] = {}
    position = 0
    for word in split_words(text):
        key, eq, raw = word.partition("=")
        if eq and key and not key.startswith(("{", "[", '"')):
            top = key.split(".")[0]
            spec = method.field(top) if method is not None else None
            if method is not None and spec is None:
                names = ", ".join(f.name for f in fields) or "(none)"
                raise UsageError(f"{method.name} has no field {top!r}", f"Fields: {names}.")
            _put(request, key, convert(spec if "." not in key else None, raw))
            continue
        if method is None:
            raise UsageError(f"cannot place {_shown(word)}: the method's fields are unknown", "Use key=value or JSON.")
        while position < len(fields) and fields[position].name in request:
            position += 1
        if position >= len(fields):
            raise UsageError(f"too many arguments for {method.name}: {_shown(word)}",
                             f"It takes {len(fields)} field(s): {', '.join(f.name for f in fields) or '(none)'}.")
        spec = fields[position]
        request[spec.name] = convert(spec, word)
        position += 1
    return request
