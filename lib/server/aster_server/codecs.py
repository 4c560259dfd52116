"""The runtime's codec made cheap: :func:`warm` (messages that hold lists of messages) and
:func:`resolve_annotations` (the annotations the codec reads on every message).

The runtime (aster-rpc 0.1.2) encodes with pyfory, which builds a dataclass type's serializer
lazily: the type starts with a stand-in that builds the real serializer on first use and puts it
in the type's slot. A list field's element serializer is taken from that slot when the type
holding the list is first used. If the element type was never used on its own before, the list
keeps the stand-in for good, and the stand-in builds a new serializer for every element of every
message: a ``DiscoverResult`` of 20 entries took 4.5 ms to encode (and as long to decode), 0.02 ms
once ``DiscoverEntry`` had been encoded before ``DiscoverResult``'s first use.

:func:`warm` encodes and decodes one default instance of every type the codec registered, in the
codec's own order (leaves first: every type after the types its fields hold), so every container
takes the real serializers. Both servers warm their codec at start
(:func:`aster_server.lifecycle.build_server`); a client holding its own codec warms it once too.
Imports nothing heavy: the registry's client uses it.

The runtime also calls ``typing.get_type_hints`` on every message it decodes (the JSON codec to
build the dataclass, the Fory codec to coerce enum fields). A wire module written with
``from __future__ import annotations`` holds its annotations as strings, and ``get_type_hints``
compiles and evaluates each of them again on every call: 113 us for the authority's nine-field
``Page``, 15 us once resolved. :func:`resolve_annotations` replaces those strings with the
objects they name, once, at start; ``get_type_hints`` then returns the same hints it did.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

__all__ = ["resolve_annotations", "server_codec", "warm"]

LOG = logging.getLogger("aster_server.codecs")


def warm(codec: Any, roots: Any = None) -> int:
    """Encode and decode a default instance of each dataclass ``codec`` registered (a runtime
    ``ForyCodec``; anything without ``registered_types``, such as the JSON codec, is left alone),
    or with ``roots`` (types) only those types and the types their fields hold: a one-call client
    warms the response type it is about to read, not the whole contract. Returns how many types
    were warmed; a type without defaults for every field is skipped (its first message pays the
    build once, as before). Warming twice is harmless."""
    types = getattr(codec, "registered_types", None)
    if not isinstance(types, list):
        return 0
    wanted = None if roots is None else _closure(roots)
    warmed = 0
    for tp in types:
        if not (isinstance(tp, type) and dataclasses.is_dataclass(tp)) or (wanted is not None and tp not in wanted):
            continue
        try:
            codec.decode(codec.encode(tp()), tp)
        except Exception as exc:  # noqa: BLE001 - warming is an optimisation, never a failure
            LOG.debug("codec type %s not warmed: %s: %s", tp.__name__, type(exc).__name__, exc)
            continue
        warmed += 1
    return warmed


def resolve_annotations(types: Any) -> int:
    """Replace the string annotations of each dataclass in ``types`` (and of the classes it
    derives from) with the objects ``typing.get_type_hints`` resolves them to, so the runtime's
    per-message ``get_type_hints`` finds nothing left to compile. A class whose annotations do
    not resolve is left as it is. Returns how many classes changed; resolving twice is harmless."""
    import typing

    changed = 0
    for tp in types or ():
        if not (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
            continue
        for klass in tp.__mro__:
            own = klass.__dict__.get("__annotations__")
            if not isinstance(own, dict) or not any(isinstance(v, str) for v in own.values()):
                continue
            try:
                hints = typing.get_type_hints(klass, include_extras=True)
            except Exception as exc:  # noqa: BLE001 - an optimisation, never a failure
                LOG.debug("annotations of %s not resolved: %s: %s", klass.__name__, type(exc).__name__, exc)
                continue
            klass.__annotations__ = {name: hints.get(name, value) for name, value in own.items()}
            changed += 1
    return changed


def _closure(roots: Any) -> set[type]:
    """``roots`` and every dataclass type their fields hold (through lists, dicts, optionals)."""
    import typing

    seen: set[type] = set()
    todo = list(roots)
    while todo:
        tp = todo.pop()
        args = typing.get_args(tp)
        if args:
            todo.extend(args)
            continue
        if not (isinstance(tp, type) and dataclasses.is_dataclass(tp)) or tp in seen:
            continue
        seen.add(tp)
        try:
            hints = typing.get_type_hints(tp)
        except Exception:  # noqa: BLE001 - an unresolvable annotation: that field is not followed
            hints = {}
        todo.extend(hints.values())
    return seen


def server_codec(server: Any) -> Any:
    """The codec a started ``AsterServer`` encodes with (``None`` if this runtime keeps it
    elsewhere). aster-rpc 0.1.2 builds it when the server starts, from its services' types, and
    keeps it on the inner ``Server``; no public accessor exists."""
    inner = getattr(server, "_server", None)
    return getattr(inner, "_codec", None)
