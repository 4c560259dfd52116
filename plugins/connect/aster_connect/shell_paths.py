"""The path tree of `aster shell`: which service and method a path or a call target names.

Tree: ``/services/<Service>/<method>`` (``<Service>`` is ``Name`` for the highest
version offered and ``Name@N`` for older ones). The root also holds ``blobs``,
``docs`` and ``gossip``, as the released ``aster-cli`` shell's does (empty here), so
its scripts run unchanged: the shell starts in ``/services``, where a relative path
that names nothing there is read from the root (``cd services``, ``ls blobs``), and
names match case-insensitively when only one service or method matches that way.

Services are found from the service list alone; a method only in its service's
schema, so the caller reads that service's manifest first (``Shell.load_schema``).
"""

from __future__ import annotations

import posixpath

from aster_core.errors import AsterError, NotFoundError, UsageError

from .connection import Connection
from .errors import CallError
from .schema import MethodInfo, ServiceInfo

ROOT = "/"
SERVICES = "/services"
#: the released shell's top level: only ``services`` has anything in it here
ROOT_DIRS = ("blobs", "docs", "gossip", "services")


def normalise(cwd: str, path: str | None) -> str:
    if not path:
        return cwd
    joined = posixpath.normpath(posixpath.join(cwd, path))
    return "/" if joined in ("/", "//") else joined


def locate(conn: Connection, cwd: str, path: str | None) -> str:
    """The normalised path ``path`` names from ``cwd`` (decided from the service list alone).

    From ``/services`` (where the shell starts), a relative path that names
    nothing there but does from the root is read from the root, so scripts
    written for the released shell (which starts at ``/``) run unchanged.
    """
    here = normalise(cwd, path)
    if not path or path.startswith("/") or cwd != SERVICES:
        return here
    try:
        service_at(conn, here)
        return here
    except AsterError:
        rooted = normalise(ROOT, path)
        try:
            service_at(conn, rooted)
        except AsterError:
            return here  # neither: report the path as typed from here
        return rooted


def find_service(conn: Connection, name: str) -> ServiceInfo:
    """``conn.service(name)``, or the one service whose name matches ignoring case."""
    try:
        return conn.service(name)
    except CallError:
        refs = {s.ref for s in conn.services if s.ref.lower() == name.lower()}
        if len(refs) == 1:
            return conn.service(refs.pop())
        base, at, version = name.partition("@")
        names = {s.name for s in conn.services if s.name.lower() == base.lower()}
        if not refs and len(names) == 1:
            return conn.service(names.pop() + at + version)
        raise


def service_at(conn: Connection, path: str) -> ServiceInfo | None:
    """The service a normalised path is in, from the service list alone (no manifest is read).

    ``/``, ``/services`` and the released shell's other top-level directories
    (``/blobs``, ``/docs``, ``/gossip``) are in no service: ``None``. NotFound
    for a path outside the tree or a service the peer does not offer.
    """
    parts = [p for p in path.split("/") if p]
    if not parts or (len(parts) == 1 and parts[0] in ROOT_DIRS):
        return None
    if parts[0] != "services" or len(parts) > 3:
        raise _no_such(path)
    return find_service(conn, parts[1])


def resolve(conn: Connection, path: str) -> tuple[ServiceInfo | None, MethodInfo | None]:
    """(service, method) a normalised path names; NotFound for a path outside the tree.

    A method is found in the service's schema, so read its manifest first
    (:meth:`Shell.load_schema`); without one, a path naming a method is an
    error that says why the schema is missing.
    """
    svc = service_at(conn, path)
    parts = [p for p in path.split("/") if p]
    if svc is None or len(parts) == 2:
        return svc, None
    method = find_method(svc, parts[2])
    if method is None:
        raise schema_unknown(conn, svc)
    return svc, method


def schema_unknown(conn: Connection, svc: ServiceInfo) -> CallError:
    """The error for needing the methods of a service whose manifest could not be read."""
    from .registry import missing_reason

    return CallError("FAILED_PRECONDITION", f"the schema of {svc.ref} is unknown ({missing_reason(conn, svc)})",
                     "Retry once the peer has published its manifest (ASTER_MANIFEST_TIMEOUT allows more time); "
                     "calls still work: ./METHOD {json} is sent unchecked.")


def find_method(svc: ServiceInfo, name: str) -> MethodInfo | None:
    """``svc.method(name)``, or the one method whose name matches ignoring case."""
    try:
        return svc.method(name)
    except CallError:
        folded = [m for m in (svc.methods or {}) if m.lower() == name.lower()]
        if len(folded) == 1:
            return svc.method(folded[0])
        raise


def _no_such(path: str) -> AsterError:
    return NotFoundError(f"no such path: {path}", "Paths look like /services/<Service>/<method>; try ls.")


# -- call targets: ``method``, ``Service.method`` or a path, seen from ``cwd`` ------------------

def target_service(conn: Connection, cwd: str, target: str) -> ServiceInfo | None:
    """The service a call target is in; reads no manifest."""
    if "/" in target:
        return service_at(conn, locate(conn, cwd, target))
    if "." in target:
        return find_service(conn, target.rpartition(".")[0])
    return service_at(conn, cwd)


def call_target(conn: Connection, cwd: str, target: str) -> tuple[ServiceInfo, MethodInfo | None, str]:
    """(service, method or None when its schema is unknown, method name) of a call target."""
    if "/" in target:
        svc, method = resolve(conn, locate(conn, cwd, target))
        if svc is None or method is None:
            raise UsageError(f"{target} is not a method", "Name a method: ./method or /services/S/method.")
        return svc, method, method.name
    if "." in target:
        service, _, name = target.rpartition(".")
        svc = find_service(conn, service)
    else:
        svc, _ = resolve(conn, cwd)
        name = target
    if svc is None:
        raise UsageError(f"not inside a service: {target!r} is ambiguous",
                         "cd into a service first, or write Service.method.")
    method = find_method(svc, name)
    return svc, method, method.name if method is not None else name
