"""The registry's wire types: one definition for the server and our client.

Every type is a plain dataclass tagged ``aster/<Name>`` (the shapes
the unchanged aster-cli 0.1.2 decodes), with only ``str``, ``int``, ``bool``, ``list[...]``
and ``Optional[...]`` fields (other kinds regenerate as other types) and defaults everywhere. Field names, types and
nullability decide the Fory struct hash: change one and the released client can no
longer decode it. Nested structs (``DiscoverEntry``, ``DirectoryHandle``, ``AccessGrant``,
``DelegationStatement``) are local to one service and each has a *carrier* method in that
service that sorts before its users (docs/registry.md says why); :data:`METHODS` lists them.

Beyond what the released client calls: ``ResolveRequest``/``ResolveResult`` (``@handle/Service`` to live
endpoints as ``aster1...`` tickets: a ``list[str]``, so no carrier is needed) and
``RecoverResult`` (``aster recover``).

This module imports only the runtime's ``wire_type`` and the standard library, so the
client never pulls in the server's dependencies.
"""

from dataclasses import dataclass, field
from typing import Optional

from aster.codec import wire_type

# No ``from __future__ import annotations``: pyfory reads the real annotation objects, so a
# struct is defined before any struct that nests it.

#: Paging (``discover``, ``list_directory_handles``): rows a page holds when the request asks for
#: none, and at most (a larger limit is clamped to it). Our client refuses a larger ``--limit``.
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@wire_type("aster/SignedRequest")
@dataclass
class SignedRequest:
    payload_json: str = ""
    signer_pubkey: str = ""
    signature: str = ""


# ── ProfileService ────────────────────────────────────────────────────────────


@wire_type("aster/CheckAvailabilityRequest")
@dataclass
class CheckAvailabilityRequest:
    handle: str = ""


@wire_type("aster/CheckAvailabilityResult")
@dataclass
class CheckAvailabilityResult:
    available: bool = False
    reason: str = ""


@wire_type("aster/JoinResult")
@dataclass
class JoinResult:
    handle: str = ""
    status: str = ""
    verification_expires_at: int = 0
    code_expires_at: int = 0
    email_delivery_status: str = ""


@wire_type("aster/VerifyResult")
@dataclass
class VerifyResult:
    handle: str = ""
    status: str = ""


@wire_type("aster/ResendResult")
@dataclass
class ResendResult:
    handle: str = ""
    code_expires_at: int = 0


@wire_type("aster/HandleStatusResult")
@dataclass
class HandleStatusResult:
    handle: str = ""
    status: str = ""
    email_masked: str = ""
    display_name: Optional[str] = None
    bio: Optional[str] = None
    url: Optional[str] = None
    registered_at: str = ""
    services_published: int = 0
    recovery_codes_remaining: int = 0


@wire_type("aster/RecoverResult")
@dataclass
class RecoverResult:
    handle: str = ""
    status: str = ""
    recovery_codes_remaining: int = 0


# ── PublicationService ────────────────────────────────────────────────────────


@wire_type("aster/DiscoverRequest")
@dataclass
class DiscoverRequest:
    query: str = ""
    limit: int = DEFAULT_LIMIT
    offset: int = 0


@wire_type("aster/DiscoverEntry")
@dataclass
class DiscoverEntry:
    handle: str = ""
    service_name: str = ""
    version: int = 0
    contract_id: str = ""
    description: str = ""
    status: str = ""
    method_count: int = 0
    endpoint_count: int = 0
    visibility: str = ""
    delegation_mode: str = ""
    published_at: str = ""


@wire_type("aster/DiscoverResult")
@dataclass
class DiscoverResult:
    total: int = 0
    services: list[DiscoverEntry] = field(default_factory=list)


@wire_type("aster/DescribeServiceRequest")
@dataclass
class DescribeServiceRequest:
    handle: str = ""
    service_name: str = ""


@wire_type("aster/GetManifestRequest")
@dataclass
class GetManifestRequest:
    handle: str = ""
    service_name: str = ""


@wire_type("aster/GetManifestResult")
@dataclass
class GetManifestResult:
    handle: str = ""
    service_name: str = ""
    contract_id: str = ""
    manifest_json: str = ""


@wire_type("aster/ListServicesRequest")
@dataclass
class ListServicesRequest:
    handle: str = ""


@wire_type("aster/ListServicesResult")
@dataclass
class ListServicesResult:
    handle: str = ""
    services: list[DiscoverEntry] = field(default_factory=list)


@wire_type("aster/ListDirectoryHandlesRequest")
@dataclass
class ListDirectoryHandlesRequest:
    limit: int = DEFAULT_LIMIT
    offset: int = 0


@wire_type("aster/DirectoryHandle")
@dataclass
class DirectoryHandle:
    handle: str = ""
    service_count: int = 0
    display_name: Optional[str] = None
    registered_at: str = ""
    last_published_at: Optional[str] = None


@wire_type("aster/ListDirectoryHandlesResult")
@dataclass
class ListDirectoryHandlesResult:
    handles: list[DirectoryHandle] = field(default_factory=list)


@wire_type("aster/PublishResult")
@dataclass
class PublishResult:
    handle: str = ""
    service_name: str = ""
    contract_id: str = ""
    producer_token: str = ""
    first_publish: bool = False
    recovery_codes: list[str] = field(default_factory=list)


@wire_type("aster/VisibilityResult")
@dataclass
class VisibilityResult:
    handle: str = ""
    service_name: str = ""
    visibility: str = ""


@wire_type("aster/UpdateServiceResult")
@dataclass
class UpdateServiceResult:
    handle: str = ""
    service_name: str = ""
    description: str = ""
    status: str = ""
    replacement: Optional[str] = None


@wire_type("aster/UnpublishResult")
@dataclass
class UnpublishResult:
    handle: str = ""
    service_name: str = ""
    unpublished: bool = False


@wire_type("aster/ResolveRequest")
@dataclass
class ResolveRequest:
    handle: str = ""
    service_name: str = ""


@wire_type("aster/ResolveResult")
@dataclass
class ResolveResult:
    """Live endpoints of ``@handle/service_name``, freshest first, each an ``aster1...`` ticket."""

    handle: str = ""
    service_name: str = ""
    contract_id: str = ""
    endpoints: list[str] = field(default_factory=list)


# ── AccessService ─────────────────────────────────────────────────────────────


@wire_type("aster/DelegationStatement")
@dataclass
class DelegationStatement:
    authority: str = "consumer"
    mode: str = "open"
    token_ttl: int = 300
    rate_limit: Optional[str] = None
    roles: list[str] = field(default_factory=list)


@wire_type("aster/UpdateDelegationResult")
@dataclass
class UpdateDelegationResult:
    handle: str = ""
    service_name: str = ""
    delegation: Optional[DelegationStatement] = None


@wire_type("aster/GrantAccessResult")
@dataclass
class GrantAccessResult:
    consumer_handle: str = ""
    role: str = ""
    scope: str = ""


@wire_type("aster/RevokeAccessResult")
@dataclass
class RevokeAccessResult:
    consumer_handle: str = ""
    revoked: bool = False


@wire_type("aster/AccessGrant")
@dataclass
class AccessGrant:
    consumer_handle: str = ""
    role: str = ""
    scope: str = ""
    scope_node_id: Optional[str] = None
    granted_at: str = ""


@wire_type("aster/ListAccessResult")
@dataclass
class ListAccessResult:
    service_name: str = ""
    grants: list[AccessGrant] = field(default_factory=list)


# ── the method table ──────────────────────────────────────────────────────────

PROFILE = "ProfileService"
PUBLICATION = "PublicationService"
ACCESS = "AccessService"

#: ``{service: {method: (request type, response type)}}``; ``dict`` marks the untyped map
#: of ``register_endpoint`` (what producers send). Every service is version 1 (the 0.1.2 header is fixed at 1).
METHODS: dict[str, dict[str, tuple[type, type]]] = {
    PROFILE: {
        "check_availability": (CheckAvailabilityRequest, CheckAvailabilityResult),
        "handle_status": (SignedRequest, HandleStatusResult),
        "join": (SignedRequest, JoinResult),
        "recover": (SignedRequest, RecoverResult),
        "resend_verification": (SignedRequest, ResendResult),
        "verify": (SignedRequest, VerifyResult),
    },
    PUBLICATION: {
        "describe_handle": (ListServicesRequest, DirectoryHandle),            # carrier of DirectoryHandle
        "describe_service": (DescribeServiceRequest, DiscoverEntry),          # carrier of DiscoverEntry
        "discover": (DiscoverRequest, DiscoverResult),
        "get_manifest": (GetManifestRequest, GetManifestResult),
        "list_directory_handles": (ListDirectoryHandlesRequest, ListDirectoryHandlesResult),
        "list_services": (ListServicesRequest, ListServicesResult),
        "publish": (SignedRequest, PublishResult),
        "register_endpoint": (dict, dict),
        "resolve": (ResolveRequest, ResolveResult),
        "set_visibility": (SignedRequest, VisibilityResult),
        "unpublish": (SignedRequest, UnpublishResult),
        "update_service": (SignedRequest, UpdateServiceResult),
    },
    ACCESS: {
        "get_delegation": (SignedRequest, DelegationStatement),               # carrier of DelegationStatement
        "get_grant": (SignedRequest, AccessGrant),                            # carrier of AccessGrant
        "grant_access": (SignedRequest, GrantAccessResult),
        "list_access": (SignedRequest, ListAccessResult),
        "revoke_access": (SignedRequest, RevokeAccessResult),
        "update_delegation": (SignedRequest, UpdateDelegationResult),
    },
}


def all_types() -> list[type]:
    """Every tagged type of :data:`METHODS` (what a codec must register), each once."""
    seen: dict[type, None] = {}
    for methods in METHODS.values():
        for request, response in methods.values():
            for kind in (request, response):
                if kind is not dict:
                    seen.setdefault(kind, None)
    return list(seen)
