"""Find service classes and describe the types they use.

- :func:`load_service` imports ``MODULE:CLASS`` and turns every way that can go
  wrong (missing module, syntax error, a class that is no service, a recursive
  type the runtime's decorator cannot handle) into one clear :class:`AsterError`.
- :func:`reachable_types` walks the messages and enums a service uses, so the
  manifest can describe nested types and :func:`module_dependent_types` can name
  every type whose wire identity comes from its module name.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import os
import sys
import typing
from dataclasses import dataclass
from typing import Any, Iterator

from aster_core.errors import AsterError, NotFoundError, UsageError

from .hints import hints


def _split_spec(spec: str) -> tuple[str, str]:
    module_name, sep, class_name = spec.partition(":")
    if not sep or not module_name or not class_name or not class_name.isidentifier():
        raise UsageError(f"--service {spec!r} is not MODULE:CLASS",
                         "name the service class like myapp.services:TaskService")
    return module_name, class_name


def _types_in_traceback(tb) -> list[type]:
    """The dataclass each frame of a traceback was working on, outermost first.

    Frames holding several dataclasses (a module body, a resolver's namespace)
    say nothing about the recursion and are skipped.
    """
    seen: list[type] = []
    while tb is not None:
        held = {v for v in tb.tb_frame.f_locals.values() if isinstance(v, type) and dataclasses.is_dataclass(v)}
        if len(held) == 1:
            seen.append(held.pop())
        tb = tb.tb_next
    return seen


def _cycle_from_traceback(tb) -> list[str]:
    """Names of the types the runtime recursed into over and over (the cycle), first seen first.

    The failed module is gone from ``sys.modules``, so its string annotations
    cannot be resolved any more; the recursion itself shows the cycle: only
    types on it repeat.
    """
    from collections import Counter

    counts = Counter(_types_in_traceback(tb))
    return [t.__qualname__ for t, n in counts.items() if n > 2]


def import_module(module_name: str):
    """Import ``module_name`` the way ``python -m`` would (cwd on the path)."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        return importlib.import_module(module_name)
    except SyntaxError as exc:
        where = f"{exc.filename}:{exc.lineno}" if exc.filename else module_name
        raise UsageError(f"cannot import {module_name}: syntax error at {where}: {exc.msg}",
                         "fix the syntax error and run the command again") from None
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise NotFoundError(f"no module named {module_name!r}",
                                "check the module path and run from the project directory (it is added to sys.path)") from None
        raise AsterError(f"cannot import {module_name}: {exc}",
                         "install the missing dependency in this environment") from None
    except RecursionError as exc:
        cycle = _cycle_from_traceback(exc.__traceback__)
        named = ", ".join(cycle) if cycle else "(a dataclass that refers to itself)"
        raise UsageError(
            f"cannot import {module_name}: recursive type {named} cannot be handled by the runtime "
            f"in XLANG mode (aster-rpc's @service check recurses forever)",
            "break the cycle (e.g. refer to children by id) or declare the service with "
            "serialization=[SerializationMode.NATIVE], whose contract identity supports cycles") from None
    except Exception as exc:  # the module's own code failed: show what, not a traceback
        raise AsterError(f"importing {module_name} failed: {type(exc).__name__}: {exc}",
                         "run `python -c 'import " + module_name + "'` to see the full error") from None


def load_service(spec: str) -> type:
    """The ``@service`` class named by ``MODULE:CLASS``."""
    module_name, class_name = _split_spec(spec)
    module = import_module(module_name)
    cls = getattr(module, class_name, None)
    if cls is None:
        raise NotFoundError(f"{module_name} has no attribute {class_name!r}",
                            "check the class name (it is case-sensitive)")
    if not isinstance(cls, type) or getattr(cls, "__aster_service_info__", None) is None:
        raise UsageError(f"{spec} is not a service class",
                         "decorate it with @service from aster (the runtime's decorator)")
    return cls


# ── Types a service uses ─────────────────────────────────────────────────────


_hints = hints  # a class's resolved field types, memoised (see aster_contract.hints)


def _leaves(tp: Any) -> Iterator[Any]:
    """Concrete classes inside an annotation (``Optional[list[X]]`` -> ``X``)."""
    if typing.get_origin(tp) is not None:
        for arg in typing.get_args(tp):
            yield from _leaves(arg)
    elif isinstance(tp, type):
        yield tp


def _is_user_enum(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, enum.Enum) and tp is not enum.Enum


def reachable_from(roots: list[Any], seen: set[type] | None = None) -> list[type]:
    """Every dataclass and enum reachable from ``roots`` and not in ``seen``, in discovery order.

    ``seen`` (updated) lets several walks share one visited set, so a service's whole
    type graph is walked once however many methods reach the same types.
    """
    found: list[type] = []
    seen = set() if seen is None else seen
    stack = [t for t in roots if t is not None][::-1]
    while stack:
        tp = stack.pop()
        for leaf in _leaves(tp):
            if leaf in seen:
                continue
            if _is_user_enum(leaf):
                seen.add(leaf)
                found.append(leaf)
            elif dataclasses.is_dataclass(leaf):
                seen.add(leaf)
                found.append(leaf)
                stack.extend(reversed(list(_hints(leaf).values())))
    return found


def method_types(service_cls: type, method: Any, namespace: dict[str, Any] | None = None) -> tuple[Any, Any]:
    """A method's request and response annotations, resolved.

    Under ``from __future__ import annotations`` the runtime keeps response
    types as strings (``"AsyncIterator[Item]"``); resolve them in the service's
    module like ``typing.get_type_hints`` would (``namespace``: that module's
    names, when the caller resolves many methods).
    """
    if namespace is None:
        namespace = module_namespace(service_cls)

    def resolve(tp: Any) -> Any:
        if not isinstance(tp, str):
            return tp
        try:
            return eval(tp, namespace, {})  # an annotation of the user's own module
        except Exception:
            return None

    return resolve(method.request_type), resolve(method.response_type)


def module_namespace(service_cls: type) -> dict[str, Any]:
    """A copy of the names of the module defining ``service_cls`` (for resolving its annotations)."""
    module = sys.modules.get(service_cls.__module__)
    return dict(vars(module)) if module is not None else {}


def reachable_types(service_cls: type) -> list[type]:
    """Every dataclass and enum the service's methods use."""
    return list(service_types(service_cls))


def service_types(service_cls: type) -> dict[type, set[str]]:
    """Every dataclass and enum the service's methods use, each once, with the roles
    ("request", "response") it plays anywhere in the service; in discovery order."""
    out: dict[type, set[str]] = {}
    seen: dict[str, set[type]] = {"request": set(), "response": set()}
    namespace = module_namespace(service_cls)
    for method in service_cls.__aster_service_info__.methods.values():
        for role, tp in zip(("request", "response"), method_types(service_cls, method, namespace)):
            for found in reachable_from([tp], seen[role]):
                out.setdefault(found, set()).add(role)
    return out


def wire_names(tp: type) -> tuple[str, str, str]:
    """``(tag, namespace, typename)`` the runtime registers ``tp`` under."""
    explicit = getattr(tp, "__wire_type__", None)
    if explicit:
        return explicit, getattr(tp, "__fory_namespace__", ""), getattr(tp, "__fory_typename__", tp.__qualname__)
    # untagged enums are registered by module and qualname (see aster.codec)
    return f"{tp.__module__}.{tp.__qualname__}", tp.__module__, tp.__qualname__


def has_explicit_wire_type(tp: type) -> bool:
    """False for types whose tag the runtime derived from the module name.

    The runtime's automatic tag is ``"<module>.<qualname>"`` with namespace
    ``<module>`` and typename ``<qualname>``; ``@wire_type("a.b")`` can never
    produce that triple (without a ``/`` its namespace is empty).
    """
    tag = getattr(tp, "__wire_type__", None)
    if not tag:
        return False
    return not (tag == f"{tp.__module__}.{tp.__qualname__}"
                and getattr(tp, "__fory_namespace__", None) == tp.__module__
                and getattr(tp, "__fory_typename__", None) == tp.__qualname__)


@dataclass(frozen=True)
class ModuleDependence:
    """A type whose identity depends on the module it was loaded from."""

    type_name: str
    module: str
    reason: str
    fix: str

    def message(self) -> str:
        return f"{self.type_name} ({self.module}) {self.reason}; {self.fix}"


def _cyclic(types: list[type]) -> set[type]:
    """Dataclasses that lie on a reference cycle."""
    graph = {t: {leaf for h in _hints(t).values() for leaf in _leaves(h) if dataclasses.is_dataclass(leaf)}
             for t in types if dataclasses.is_dataclass(t)}
    cyclic: set[type] = set()
    for start in graph:
        stack, seen = list(graph[start]), set()
        while stack:
            node = stack.pop()
            if node is start:
                cyclic.add(start)
                break
            if node in seen or node not in graph:
                continue
            seen.add(node)
            stack.extend(graph[node])
    return cyclic


def module_dependent_types(service_cls: type, types: list[type] | None = None) -> list[ModuleDependence]:
    """Types whose wire identity or contract id comes from their module name (``types``: the
    service's reachable types when already known)."""
    types = reachable_types(service_cls) if types is None else types
    out: list[ModuleDependence] = []
    for tp in types:
        if not has_explicit_wire_type(tp):
            kind = "enum" if _is_user_enum(tp) else "message"
            reason = ("has no @wire_type, so its wire name comes from the module name and a server run "
                      "as a script (module __main__) cannot decode it from clients built from this manifest"
                      if kind == "enum" else
                      "has no @wire_type, so its id comes from the module name and a server run as a script "
                      "(module __main__) computes a different contract id than this manifest")
            out.append(ModuleDependence(tp.__qualname__, tp.__module__, reason,
                                        f'add @wire_type("<namespace>/{tp.__qualname__}")'))
    for tp in sorted(_cyclic(types), key=lambda t: t.__qualname__):
        if has_explicit_wire_type(tp):
            out.append(ModuleDependence(tp.__qualname__, tp.__module__,
                                        "is recursive and the runtime names its back reference by module, so a "
                                        "server run as a script (module __main__) computes a different contract id",
                                        "always import the service from the same module path"))
    return out
