"""What `ls` and `describe` show in `aster shell`: their data, and that data as text.

:func:`listing` and :func:`description` return plain dicts (what ``--json``
prints, one line each); :func:`render_listing` and :func:`render_description`
turn them into the text a person reads. A service whose manifest could not be
read is shown with the reason, never as a service without methods.
"""

from __future__ import annotations

from .connection import Connection
from .schema import MethodInfo, ServiceInfo
from .shell_paths import ROOT, ROOT_DIRS, SERVICES, resolve, schema_unknown


def signature(method: MethodInfo) -> str:
    args = ", ".join(f"{f.name}: {f.type_label}" for f in method.fields)
    ret = method.response_type or "?"
    if method.streams_requests:
        args = f"stream {method.request_type or '?'}({args})"
    if method.streams_responses:
        ret = f"stream {ret}"
    return f"({args}) -> {ret}"


def _service_entry(svc: ServiceInfo) -> dict:
    return {"name": svc.ref, "type": "service", "service": svc.name, "version": svc.version, "scoped": svc.scoped,
            "methods": None if svc.methods is None else len(svc.methods)}


def _method_entry(method: MethodInfo) -> dict:
    return {"name": method.name, "type": "method", "pattern": method.pattern, "signature": signature(method)}


def listing(conn: Connection, path: str) -> dict:
    svc, method = resolve(conn, path)
    if path == ROOT:
        entries = [{"name": name, "type": "dir"} for name in ROOT_DIRS]
    elif svc is None and path != SERVICES:
        entries = []  # /blobs, /docs, /gossip: the released shell's, nothing in them here
    elif svc is None:
        entries = [_service_entry(s) for s in conn.services]
    elif svc.methods is None:
        raise schema_unknown(conn, svc)
    elif method is None:
        entries = [_method_entry(m) for m in svc.methods.values()]
    else:
        entries = [_method_entry(method)]
    return {"path": path, "entries": entries}


def description(conn: Connection, path: str) -> dict:
    svc, method = resolve(conn, path)
    if svc is None:
        services = conn.services if path in (ROOT, SERVICES) else []
        return {"path": path, "services": [_service_entry(s) for s in services]}
    if method is None:
        data = {"path": path, **svc.to_dict()}
        if svc.methods is not None:
            data["methods"] = [{**m.to_dict(), "signature": signature(m)} for m in svc.methods.values()]
        else:
            from .registry import missing_reason

            data["schema_missing"] = missing_reason(conn, svc)
        return data
    return {"path": path, "service": svc.ref, "version": svc.version, "scoped": svc.scoped, **method.to_dict(),
            "signature": signature(method)}


def render_listing(data: dict) -> str:
    lines = []
    for e in data["entries"]:
        if e["type"] == "dir":
            lines.append(f"{e['name']}/")
        elif e["type"] == "service":
            count = "?" if e["methods"] is None else e["methods"]
            lines.append(f"{e['name'] + '/':<28} v{e['version']:<3} {e['scoped']:<8} {count} methods")
        else:
            lines.append(f"{e['name']:<20} {e['pattern']:<14} {e['signature']}")
    return "\n".join(lines) if lines else "(empty)"


def _field_line(f: dict, width: int = 16) -> str:
    req = "required" if f["required"] else f"default {f['default']!r}"
    return f"    {f['name']:<16} {f['type']:<{width}} {req}"


def _field_lines(fields: list[dict]) -> list[str]:
    width = max([16, *(len(f["type"]) for f in fields)])
    return [_field_line(f, width) for f in fields] or ["    (no fields)"]


def render_description(data: dict) -> str:
    if "signature" in data:
        lines = [f"{data['service']}.{data['name']}  {data['pattern']}  {data['signature']}",
                 f"  request {data['request_type'] or '?'}:"]
        lines += _field_lines(data["fields"])
        lines.append(f"  response {data['response_type'] or '?'}:")
        lines += _field_lines(data["response_fields"])
        return "\n".join(lines)
    if "methods" in data and "ref" in data:
        lines = [f"{data['ref']}  v{data['version']}  {data['scoped']}  contract {data['contract_id'][:16]}"]
        for m in data["methods"] or []:
            lines.append(f"  {m['name']:<20} {m['pattern']:<14} {m['signature']}")
        if data["methods"] is None:
            lines.append(f"  (schema unknown: {data.get('schema_missing') or 'its manifest was not read'})")
        return "\n".join(lines)
    return render_listing({"entries": data["services"]})
