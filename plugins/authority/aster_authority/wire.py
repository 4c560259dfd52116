"""The authority's wire: every request type of its five services, declared once.

The client builds these, the handlers receive them and hand their fields to the store; no
other module spells out an operation's fields. Every reply is :class:`Reply`, one JSON
document the CLI renders (nested results stay out of the runtime's JSON-mode limits).

Tags (``aster.authority/<Name>``), field names, types and defaults are the wire format
and the services' contract ids: change one and released clients and servers no longer
agree. :data:`METHODS` maps each method to its request type.

This module imports only the runtime's ``wire_type`` and the standard library, so the
client never pulls in the server's dependencies.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from aster import wire_type

NS = "aster.authority"
#: the separator of message and hint in an error's text (``<what>\nHint: <what to do>``)
HINT_SEP = "\nHint: "
#: rows a list method returns at most per call (``limit``), and when none is asked for
MAX_LIMIT = 500
DEFAULT_LIMIT = 100

ADMIN, NODE = "AuthorityAdmin", "AuthorityNode"
#: the call metadata key under which the CLI shows the authority its admin or reviewer credential
#: (canonical JSON): the authority refuses admin and review calls from nodes whose credential is
#: not bound to them
CREDENTIAL_HEADER = "aster-authority-credential"
#: how the authority's refusal of a record whose place in the chain was taken starts (the CLI then
#: signs against the new head and sends it again)
CHAIN_MOVED = "decision chain moved"
DEVICE_ADMIN, DEVICE_REVIEW, ACTIVATION = "DeviceAdmin", "DeviceReview", "DeviceActivation"


@wire_type(f"{NS}/Reply")
@dataclass
class Reply:
    json: str = ""


@wire_type(f"{NS}/Empty")
@dataclass
class Empty:
    unused: str = ""


# ── deployments (service and device alike: ``kind``) ─────────────────────────────


@wire_type(f"{NS}/DeploymentRef")
@dataclass
class DeploymentRef:
    kind: str = "service"
    deployment_id: str = ""


@wire_type(f"{NS}/CreateDeployment")
@dataclass
class CreateDeployment:
    kind: str = "service"
    deployment_id: str = ""
    namespaces: list[str] = field(default_factory=list)
    compatibility: str = "strict"
    review_mode: str = "none"
    roles: list[str] = field(default_factory=list)
    record_json: str = ""


@wire_type(f"{NS}/SetDisabled")
@dataclass
class SetDisabled:
    kind: str = "service"
    deployment_id: str = ""
    disabled: bool = True
    record_json: str = ""


@wire_type(f"{NS}/RemoveDeployment")
@dataclass
class RemoveDeployment:
    kind: str = "service"
    deployment_id: str = ""
    cascade: bool = False
    purge: bool = False
    record_json: str = ""
    #: with ``purge``: also drop the stored contracts no deployment uses any more
    purge_unused_contracts: bool = False


@wire_type(f"{NS}/RemovedRef")
@dataclass
class RemovedRef:
    """A removed deployment to restore or purge (``purge_unused_contracts``: purge only)."""

    kind: str = "service"
    deployment_id: str = ""
    purge_unused_contracts: bool = False
    record_json: str = ""


@wire_type(f"{NS}/Page")
@dataclass
class Page:
    kind: str = "service"
    deployment_id: str = ""
    include_disabled: bool = False
    state: str = ""
    classification: str = ""
    stale: bool = False
    offset: int = 0
    limit: int = DEFAULT_LIMIT
    #: ``list``: the removed deployments (their data kept) instead of the live ones
    removed: bool = False


@wire_type(f"{NS}/Propose")
@dataclass
class Propose:
    kind: str = "service"
    deployment_id: str = ""
    manifests_json: str = ""
    ttl_seconds: int = 0
    record_json: str = ""


@wire_type(f"{NS}/PlanRef")
@dataclass
class PlanRef:
    kind: str = "service"
    deployment_id: str = ""
    plan_id: str = ""
    reason: str = ""
    record_json: str = ""


@wire_type(f"{NS}/AcceptPlan")
@dataclass
class AcceptPlan:
    kind: str = "service"
    deployment_id: str = ""
    plan_id: str = ""
    classification: str = ""
    acknowledgement: str = ""
    expected_version: str = ""
    record_json: str = ""


@wire_type(f"{NS}/Desired")
@dataclass
class Desired:
    kind: str = "service"
    deployment_id: str = ""
    desired_version: str = ""


@wire_type(f"{NS}/Upload")
@dataclass
class Upload:
    kind: str = "service"
    deployment_id: str = ""
    credentials_json: list[str] = field(default_factory=list)


@wire_type(f"{NS}/ProvisionInstance")
@dataclass
class ProvisionInstance:
    kind: str = "service"
    deployment_id: str = ""
    endpoint_id: str = ""
    credential_json: str = ""
    record_json: str = ""


@wire_type(f"{NS}/GrantChange")
@dataclass
class GrantChange:
    deployment_id: str = ""
    consumer: str = ""
    roles: list[str] = field(default_factory=list)
    record_json: str = ""


# ── devices ───────────────────────────────────────────────────────────────────────


@wire_type(f"{NS}/DeviceRef")
@dataclass
class DeviceRef:
    deployment_id: str = ""


@wire_type(f"{NS}/RegisterDevices")
@dataclass
class RegisterDevices:
    deployment_id: str = ""
    devices_json: list[str] = field(default_factory=list)
    record_json: str = ""


@wire_type(f"{NS}/DevicePage")
@dataclass
class DevicePage:
    deployment_id: str = ""
    instance_id: str = ""
    state: str = ""
    offset: int = 0
    limit: int = DEFAULT_LIMIT


@wire_type(f"{NS}/DeviceInstance")
@dataclass
class DeviceInstance:
    deployment_id: str = ""
    instance_id: str = ""
    record_json: str = ""


@wire_type(f"{NS}/ReviewDecision")
@dataclass
class ReviewDecision:
    deployment_id: str = ""
    review_id: str = ""
    decision: str = ""
    reason: str = ""
    record_json: str = ""


@wire_type(f"{NS}/Activate")
@dataclass
class Activate:
    deployment_id: str = ""
    challenge: str = ""
    proof: str = ""


# ── decision records and admins ───────────────────────────────────────────────────


@wire_type(f"{NS}/Checkpoint")
@dataclass
class Checkpoint:
    kind: str = "service"
    deployment_id: str = ""
    record_json: str = ""


@wire_type(f"{NS}/AdminRevoke")
@dataclass
class AdminRevoke:
    endpoint_id: str = ""
    reason: str = ""
    record_json: str = ""


# ── the method table ──────────────────────────────────────────────────────────────

#: ``{service: {method: request type}}``; every reply is :class:`Reply`, every service version 1.
METHODS: dict[str, dict[str, type]] = {
    ADMIN: {
        "create": CreateDeployment, "show": DeploymentRef, "list": Page, "set_disabled": SetDisabled,
        "remove": RemoveDeployment, "apply": Propose, "plan_list": Page, "plan_show": PlanRef,
        "accept": AcceptPlan, "reject": PlanRef, "desired": Desired, "upload": Upload,
        "provision_template": ProvisionInstance, "provision": ProvisionInstance, "instances": Page,
        "grant_add": GrantChange, "grant_remove": GrantChange, "grant_list": Page,
        # a chain's records in seq order, paged by offset (deployment_id "@authority": admin revocations)
        "chain": Page,
        # a root-signed checkpoint starting the chain of a deployment made before decision records
        "checkpoint": Checkpoint,
        # the admins and reviewers the authority admitted; revoking one (a decision on "@authority")
        "admins": Page, "admin_revoke": AdminRevoke,
        # a removed deployment brought back as it was, or what it kept deleted (each a decision)
        "restore": RemovedRef, "purge": RemovedRef,
    },
    NODE: {"fetch": Empty, "revocations": DeploymentRef, "status": Empty},
    DEVICE_ADMIN: {"template": DeviceRef, "register": RegisterDevices, "instances": DevicePage,
                   "activations": DevicePage, "revoke": DeviceInstance},
    # head: where a reviewer's next decision record goes in the device deployment's chain
    DEVICE_REVIEW: {"reviews": DevicePage, "decide": ReviewDecision, "head": DeviceRef},
    ACTIVATION: {"challenge": DeviceRef, "activate": Activate},
}


def as_object(request: Any) -> dict[str, Any]:
    """A request as the JSON object the runtime's JSON mode sends (a dict passes as it is)."""
    if dataclasses.is_dataclass(request) and not isinstance(request, type):
        return dataclasses.asdict(request)
    return request
