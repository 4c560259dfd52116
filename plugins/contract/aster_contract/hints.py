"""``typing.get_type_hints`` of classes, resolved once while nothing it depends on changes.

Why: importing a service runs the runtime's ``@service`` check, which resolves a message's
hints once per field of it, and the runtime's method descriptors resolve them again: at 1,000
methods that is about 12,000 resolutions of 3,000 classes, each compiling every string
annotation anew. :func:`installed` answers those calls from a :class:`HintMemo` while
``contract gen`` imports and describes services; our own walk and identity code ask the memo
directly (:func:`hints`).

Why an answer from the memo is the answer ``typing`` would give. With no namespaces passed,
``typing.get_type_hints(cls)`` depends only on:

- ``cls.__mro__``, ``cls.__no_type_check__`` and each base's own ``__annotations__`` dict and
  its items;
- for each base, the objects that the names its annotations mention are bound to, looked up
  the way ``typing`` evaluates them there (the base's module globals, then the base's own
  namespace, then the builtins), including names inside forward references nested in an
  annotation or in an object a name is bound to (``Alias = Optional["Node"]``), and the
  objects attribute chains (``typing.Optional``) reach;
- subscription and ``|`` of those objects, which are deterministic for ``typing``'s and the
  builtins' generics (a metaclass could make ``__getitem__`` impure; the memo then returns
  the earlier, equal answer).

An entry records every one of these (objects by identity) when it is made, before resolving,
and is used only while all of them are unchanged; otherwise ``typing`` resolves again. An
annotation that could do anything else (a call, a comprehension, an operator other than
``|``, a forward reference bound to a module) is never memoised, nor is a failure, nor
anything but a class. Each answer is a new dict; its values are the (immutable) objects of
the first resolution, equal to what a new resolution would build.

:func:`installed` replaces only the ``typing`` module's attribute (the runtime's decorator
calls ``typing.get_type_hints``, its descriptor builder imports the name per call), restores
it on exit unless someone replaced it meanwhile, and passes every call it does not memoise to
the function it replaced.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import sys
import typing
from typing import Any, Callable, Iterator

_MISSING = object()
_BUILTINS = builtins.__dict__
_ALLOWED = (ast.Expression, ast.Name, ast.Attribute, ast.Subscript, ast.Tuple, ast.List, ast.Constant,
            ast.BinOp, ast.BitOr, ast.UnaryOp, ast.USub, ast.Load)
_Chain = tuple  # a dotted name: ("typing", "Optional")


class _Undecidable(Exception):
    """What an annotation depends on cannot be listed: never memoise it."""


@functools.lru_cache(maxsize=4096)
def _chains_in_text(text: str) -> tuple[_Chain, ...] | None:
    """The dotted names an annotation string mentions, nested strings included; None when it is
    anything but names, attributes, subscripts, tuples, lists, constants and ``|``."""
    if text.startswith("*"):
        return None
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError):
        return None
    chains: list[_Chain] = []
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED) or (isinstance(node, ast.BinOp) and not isinstance(node.op, ast.BitOr)):
            return None
        if isinstance(node, ast.Name):
            chains.append((node.id,))
        elif isinstance(node, ast.Attribute):
            parts, inner = [node.attr], node.value
            while isinstance(inner, ast.Attribute):
                parts.append(inner.attr)
                inner = inner.value
            if isinstance(inner, ast.Name):
                chains.append((inner.id, *reversed(parts)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # a nested forward reference; a string that is no expression is either never
            # evaluated (a Literal value, Annotated metadata) or makes the resolution fail
            chains.extend(_chains_in_text(node.value) or ())
    return tuple(chains)


def _chains_in_object(value: Any, seen: set[int]) -> list[_Chain]:
    """Names that resolving ``value`` (an annotation object) evaluates: those of the forward
    references and strings among its type arguments, at any depth."""
    if id(value) in seen or isinstance(value, type):
        return []
    seen.add(id(value))
    if isinstance(value, str):
        return list(_chains_in_text(value) or ())
    if isinstance(value, typing.ForwardRef):
        if value.__forward_module__ is not None:
            raise _Undecidable
        chains = _chains_in_text(value.__forward_arg__)
        if chains is None:
            raise _Undecidable
        return list(chains)
    args = getattr(value, "__args__", None)
    out: list[_Chain] = []
    if isinstance(args, tuple):
        for arg in args:
            out += _chains_in_object(arg, seen)
    return out


def _lookup(chain: _Chain, scopes: tuple[Any, ...]) -> Any:
    for scope in scopes:
        value = scope.get(chain[0], _MISSING)
        if value is not _MISSING:
            break
    for attr in chain[1:]:
        if value is _MISSING:
            break
        value = getattr(value, attr, _MISSING)
    return value


def _bindings(items: tuple[tuple[str, Any], ...], scopes: tuple[Any, ...]) -> tuple[tuple[_Chain, Any], ...]:
    """Every dotted name resolving ``items`` (annotations) evaluates, with what it is bound to."""
    pending: list[_Chain] = []
    seen: set[int] = set()
    for _, value in items:
        if isinstance(value, str):
            chains = _chains_in_text(value)
            if chains is None:
                raise _Undecidable
            pending += chains
        elif value is not None:
            pending += _chains_in_object(value, seen)
    bound: dict[_Chain, Any] = {}
    while pending:
        chain = pending.pop()
        if chain not in bound:
            value = bound[chain] = _lookup(chain, scopes)
            if value is not _MISSING:
                pending += _chains_in_object(value, seen)
    return tuple(bound.items())


def _same(bindings: tuple[tuple[_Chain, Any], ...], scopes: tuple[Any, ...]) -> bool:
    try:
        return all(_lookup(chain, scopes) is value for chain, value in bindings)
    except Exception:
        return False


def _snapshot(ann: Any) -> tuple[tuple[str, Any], ...]:
    if ann is None:
        return ()
    if not isinstance(ann, dict):
        raise _Undecidable
    return tuple(ann.items())


class _ClassBase:
    """What one base of a class contributes to its hints: its annotations, evaluated with its
    module's globals first, then its own namespace, then the builtins (``typing``'s order)."""

    __slots__ = ("cls", "module_name", "module", "annotations", "items", "names", "dotted")

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.module_name = cls.__module__
        self.module = sys.modules.get(self.module_name)
        if "__builtins__" in cls.__dict__:
            raise _Undecidable
        self.annotations = cls.__dict__.get("__annotations__")
        self.items = _snapshot(self.annotations)
        bindings = _bindings(self.items, self._scopes())
        self.names = tuple((chain[0], value) for chain, value in bindings if len(chain) == 1)
        self.dotted = tuple((chain, value) for chain, value in bindings if len(chain) > 1)

    def _scopes(self) -> tuple[Any, ...]:
        return getattr(self.module, "__dict__", None) or {}, self.cls.__dict__, _BUILTINS

    def unchanged(self) -> bool:
        cls = self.cls
        namespace = cls.__dict__
        if cls.__module__ != self.module_name or sys.modules.get(self.module_name) is not self.module \
                or "__builtins__" in namespace:
            return False
        ann = namespace.get("__annotations__")
        if ann is not self.annotations or (ann and tuple(ann.items()) != self.items):
            return False
        module_dict = getattr(self.module, "__dict__", None) or {}
        for name, value in self.names:  # what _lookup does, inlined: this runs on every answer
            found = module_dict.get(name, _MISSING)
            if found is _MISSING:
                found = namespace.get(name, _MISSING)
                if found is _MISSING:
                    found = _BUILTINS.get(name, _MISSING)
            if found is not value:
                return False
        return not self.dotted or _same(self.dotted, (module_dict, namespace, _BUILTINS))


class HintMemo:
    """``typing.get_type_hints`` answers for classes, each kept while its inputs are unchanged."""

    def __init__(self, resolve: Callable[..., dict[str, Any]] = typing.get_type_hints) -> None:
        self._resolve = resolve
        self._entries: dict[tuple[int, bool], tuple[Any, Any, tuple, dict]] = {}

    @staticmethod
    def memoisable(obj: Any) -> bool:
        return isinstance(obj, type)

    def hints(self, obj: Any, include_extras: bool = False) -> dict[str, Any]:
        """What ``typing.get_type_hints(obj, include_extras=...)`` returns now (may raise as it does)."""
        key = (id(obj), include_extras)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is obj and obj.__mro__ == entry[1] \
                and not getattr(obj, "__no_type_check__", None):
            for part in entry[2]:
                if not part.unchanged():
                    break
            else:
                return dict(entry[3])
        try:
            if getattr(obj, "__no_type_check__", None):
                raise _Undecidable
            # `object` contributes nothing and cannot change (a builtin type's dict is read-only)
            record = obj.__mro__, tuple(_ClassBase(b) for b in obj.__mro__ if b is not object)
        except Exception:  # _Undecidable, or an annotation object that fails to describe itself
            record = None
        result = self._resolve(obj, include_extras=include_extras)
        if record is not None:
            self._entries[key] = (obj, record[0], record[1], result)
        else:
            self._entries.pop(key, None)
        return dict(result)


MEMO = HintMemo()


def hints(cls: type) -> dict[str, Any]:
    """A class's resolved hints, or its raw annotations where they cannot be resolved (the
    fallback the runtime uses for identity and descriptors: ``hints.get(name, field.type)``)."""
    import dataclasses

    try:
        return MEMO.hints(cls)
    except Exception:
        return {f.name: f.type for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else {}


@contextlib.contextmanager
def installed(memo: HintMemo = MEMO) -> Iterator[None]:
    """Within the block, ``typing.get_type_hints(cls)`` of a class (no namespaces) asks ``memo``."""
    previous = typing.get_type_hints

    @functools.wraps(previous)
    def get_type_hints(obj: Any, globalns: Any = None, localns: Any = None, include_extras: bool = False) -> dict:
        if globalns is None and localns is None and memo.memoisable(obj):
            return memo.hints(obj, include_extras)
        return previous(obj, globalns, localns, include_extras)

    typing.get_type_hints = get_type_hints
    try:
        yield
    finally:
        if typing.get_type_hints is get_type_hints:
            typing.get_type_hints = previous
