"""Read the manifests a live producer publishes (shared by ``gen-client`` and other families).

A producer publishes each service's manifest in a read-only iroh-docs document
under ``manifests/<contract_id>``; the consumer-admission answer names the
document. :func:`fetch_manifests` connects with the runtime's ``AsterClient``
(honouring ``ASTER_*`` settings, credentials and ``ASTER_RELAY_MODE``), joins the
document and waits until every advertised service's manifest has synced.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from aster_core.errors import AsterError, DeniedError, UnavailableError, UsageError

from .manifest import validate_manifest

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass
class LiveContracts:
    """What a producer offers: its admission summaries and the manifests it published."""

    services: list[dict[str, Any]]
    manifests: list[dict[str, Any]]


def is_address(text: str) -> bool:
    """True for ``aster1...`` tickets and hex endpoint ids (base64 NodeAddrs are accepted too)."""
    return text.startswith("aster1") or bool(_HEX64.match(text))


def endpoint_id_of(address: str) -> str:
    """The hex endpoint id inside any address form the runtime accepts."""
    from aster import AsterTicket, NodeAddr

    try:
        if address.startswith("aster1"):
            return AsterTicket.from_string(address).endpoint_id
        if _HEX64.match(address):
            return address.lower()
        return NodeAddr.from_bytes(base64.b64decode(address, validate=True)).endpoint_id
    except (ValueError, binascii.Error, Exception) as exc:  # the native parsers raise their own types
        raise UsageError(f"{address[:24]}… is not an Aster address ({exc})",
                         "pass an aster1... ticket, a base64 NodeAddr or a 64-hex endpoint id") from None


async def _collect(address: str, timeout: float) -> LiveContracts:
    from aster import AdmissionDeniedError, AsterClient, IrohError, docs_client

    peer = endpoint_id_of(address)
    client = AsterClient(address=address)
    try:
        try:
            await asyncio.wait_for(client.connect(), timeout)
        except AdmissionDeniedError as exc:
            raise DeniedError(f"{address[:24]}… refused admission: {exc}",
                              "present a consumer credential (ASTER_ENROLLMENT_CREDENTIAL or .aster-identity)") from None
        except (asyncio.TimeoutError, OSError, ConnectionError, RuntimeError, IrohError) as exc:
            reason = str(exc) or f"no answer within {timeout:g}s"
            raise UnavailableError(f"cannot reach {address[:24]}…: {reason}",
                                   "check that the producer is running and the address is current") from None
        services = [{"name": s.name, "version": s.version, "contract_id": s.contract_id,
                     "scoped": getattr(s, "pattern", "shared")} for s in client.services]
        if not client.registry_namespace:
            raise AsterError(f"{address[:24]}… publishes no contract document",
                             "the producer's contract publication failed; see its log")
        # AsterClient has no public accessor for its node; the docs client must share it
        node = getattr(client, "_node", None)
        if node is None:
            raise AsterError("the installed aster-rpc does not expose the client node",
                             "use a manifest or an .aster.json export as SOURCE instead")
        doc, _events = await docs_client(node).join_and_subscribe_namespace(client.registry_namespace, peer)
        wanted = {s["contract_id"] for s in services}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        found: dict[str, dict[str, Any]] = {}
        while True:
            for entry in await doc.query_key_prefix(b"manifests/"):
                key = bytes(entry.key).decode("utf-8", "replace")
                cid = key.removeprefix("manifests/")
                if cid in wanted and cid not in found:
                    raw = await doc.read_entry_content(entry.content_hash)
                    found[cid] = validate_manifest(json.loads(bytes(raw)), f"{address[:24]}…/{key}")
            if wanted <= found.keys():
                break
            if loop.time() > deadline:
                missing = ", ".join(s["name"] for s in services if s["contract_id"] not in found)
                raise UnavailableError(f"manifests of {missing} did not sync within {timeout:g}s",
                                       "try again, or use a manifest file as SOURCE")
            await asyncio.sleep(0.05)
        manifests = [found[s["contract_id"]] for s in services]
        return LiveContracts(services, manifests)
    finally:
        await client.close()


def fetch_manifests(address: str, *, timeout: float = 15.0) -> LiveContracts:
    """Connect to ``address`` and return its services and their published manifests."""
    endpoint_id_of(address)  # reject malformed addresses before starting the runtime
    return asyncio.run(_collect(address, timeout))
