"""What ``aster call -v`` writes to stderr: lines made from data, never touching stdout.

``*`` lines are about the connection, ``>`` what was sent, ``<`` what came back (as curl does).
Each function returns lines; :func:`say` prints them.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Iterable

from .trace import CallTrace

__all__ = ["say", "ms", "dial_lines", "connection_lines", "method_lines", "call_lines", "batch_lines"]


def say(lines: Iterable[str]) -> None:
    for line in lines:
        print(line, file=sys.stderr)
    sys.stderr.flush()


def ms(seconds: float | None) -> str:
    return "?" if seconds is None else f"{seconds * 1000:.1f} ms"


def dial_lines(text: str) -> list[str]:
    return [f"* dialing {text}"]


def connection_lines(conn: Any, *, connect_s: float, schema_s: float | None = None) -> list[str]:
    """Where the connection went, what it presented, what it took."""
    from .addresses import node_addr

    lines = []
    address = conn.address
    try:
        target = node_addr(address)
        direct = ", ".join(target.direct_addresses or []) or "none (discovery)"
        lines.append(f"* address: {address.kind} -> endpoint {target.endpoint_id}, direct {direct}")
    except Exception:  # it was dialled, so it parses; nothing here may fail the call
        lines.append(f"* address: {address.kind} {address.value[:40]}")
    presented = conn.presented
    if presented is None:
        gate = " (the peer admits everyone: open gate)" if conn.open_gate else ""
        lines.append(f"* credential: none{gate}")
    else:
        bound = presented["endpoint_id"] or "any endpoint"
        roles = ", ".join(presented["roles"]) or "none"
        lines.append(f"* credential: {presented['source']} ({presented['type']}; bound to {bound}; roles: {roles})")
    lines.append(f"* our endpoint id: {conn.endpoint_id or '?'}")
    timing = f"* connected in {ms(connect_s)} (dial and admission)"
    if schema_s is not None:
        stats = conn.manifest_stats
        source = "cache" if stats["cache_hits"] and not stats["peer_reads"] else \
            "the peer's registry" if stats["peer_reads"] else "none read"
        timing += f"; schema in {ms(schema_s)} ({source})"
    lines.append(timing)
    return lines


def method_lines(conn: Any, service: str, method: str, metadata: dict[str, str]) -> list[str]:
    svc = conn.service(service)
    info = svc.method(method)
    pattern = info.pattern if info is not None else "pattern unknown: no schema"
    scope = "session-scoped service, one-call session" if svc.is_session else "shared service"
    lines = [f"* method: {svc.name} v{svc.version} {method} ({pattern}; {scope})"]
    lines += [f"> metadata: {key}={value}" for key, value in metadata.items()] or ["> metadata: none"]
    return lines


def call_lines(trace: CallTrace, *, started: float, failed: str | None = None) -> list[str]:
    """The call's timings and trailer, once it has ended (``failed``: the error's status)."""
    now = time.perf_counter()
    first = None if trace.sent_at is None or trace.first_frame_at is None else trace.first_frame_at - trace.sent_at
    lines = [f"< first frame {ms(first)} after the request was sent"]
    trailer = trace.trailer
    if trailer is None:
        why = "the call broke off" if failed else "a single answer in a session ends the call without one"
        lines.append(f"< trailer: none ({why})")
    else:
        message = f": {trailer['message']}" if trailer["message"] else ""
        lines.append(f"< trailer: {trailer['status']} ({trailer['code']}){message}")
        details = trailer["details"]
        lines += [f"< trailer detail: {k}={v}" for k, v in details.items()] or ["< trailer details: none"]
    lines.append("< response headers: none (the protocol has none: a trailer's details are what a server sends back)")
    lines.append(f"* {trace.requests} request(s) sent, {trace.responses} response(s) received; "
                 f"total {ms(now - started)} (the command's work, the runtime's import included)")
    return lines


def batch_lines(counts: Any, *, started: float, parallel: int) -> list[str]:
    total = sum(counts.values())
    took = time.perf_counter() - started
    parts = ", ".join(f"{counts[k]} {k}" for k in ("ok", "error", "invalid", "cancelled") if counts[k]) or "none"
    rate = f"; {total / took:.0f} calls/s" if took > 0 and total else ""
    return [f"* batch: {total} result(s): {parts}; {parallel} in flight at most; total {ms(took)}{rate}"]
