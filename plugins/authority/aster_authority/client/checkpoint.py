"""The checkpoint: how a deployment made before decision records gets its chain.

Such a deployment has state in the authority's tables but no signed decision behind it, so
reconcile cannot replay anything. On its first reconcile the CLI asks the authority for the
state its tables hold, shows it to the operator in full (settings, instances, grantees and the
credentials it backs), and only after the operator confirms it signs a ``checkpoint`` record
with the mesh ROOT key and uploads it as the chain's first record. The authority stores it only
when its body is exactly what its tables hold; from then on every change is an admin's record.

The state shown comes from the authority, which is not trusted: the confirmation is the
operator's word that this is right (``--yes`` gives it blindly: use it only for a deployment
known to predate decision records). A machine that ever verified a chain of this deployment
refuses a chain that became empty (its pin: a rollback), so an authority cannot ask for a
second checkpoint where decisions exist.
"""

from __future__ import annotations

from typing import Any, Callable

from aster_core.errors import AsterError, ExitCode, UsageError

from .. import wire as w
from ..domain import decisions
from ..domain.credentials import Policy, canonical_json
from .connection import Authority
from .root_key import root_for


def pending_state(auth: Authority, kind: str, deployment_id: str) -> decisions.State | None:
    """The state the authority says a checkpoint of ``deployment_id`` must hold (None: it says
    none is needed). Checked as a checkpoint's body is."""
    page = auth.call(w.ADMIN, "chain", w.Page(kind, deployment_id, limit=1))
    if not isinstance(page, dict) or page.get("items") or not page.get("checkpoint_needed"):
        return None
    try:
        state = decisions.state_from_dict(page.get("state"))
    except decisions.ChainRefusal as exc:
        raise AsterError(f"the authority's state of {deployment_id} is not one a checkpoint can hold: {exc.message}",
                         "nothing was signed; check the authority", exit_code=ExitCode.FAILED) from None
    if state.deployment_id != deployment_id or state.kind != kind:
        raise AsterError(f"the authority showed the state of {state.kind} {state.deployment_id} for {kind} "
                         f"{deployment_id}", "nothing was signed; check the authority", exit_code=ExitCode.FAILED)
    return state


def shown(state: decisions.State, now: int) -> dict[str, Any]:
    """What the operator confirms: the whole state and every credential it backs."""
    return {"deployment_id": state.deployment_id, "kind": state.kind, "state": state.as_dict(),
            "credentials": [{k: v for k, v in item.items() if k != "expires_at"}
                            for item in state.desired_items(now, Policy())]}


def checkpoint(auth: Authority, kind: str, deployment_id: str, root_hex: str, *, root_key_file: str | None,
               profile: str | None, now: int, confirm: Callable[[dict[str, Any]], bool] | None) -> dict[str, Any]:
    """Show the state (``confirm`` renders it and returns the operator's answer), sign the
    checkpoint with the root key, upload it; the authority's answer (the new head)."""
    state = pending_state(auth, kind, deployment_id)
    if state is None:
        raise AsterError(f"{deployment_id} has no decision record and the authority shows no state to checkpoint",
                         "check the deployment (`show`) and the authority's version", exit_code=ExitCode.FAILED)
    view = shown(state, now)
    if confirm is None or not confirm(view):
        raise UsageError(f"the checkpoint of {deployment_id} was not confirmed; nothing was signed",
                         "reconcile again and confirm the state if it is right (--yes confirms without asking)")
    root = root_for(root_hex, root_key_file, profile)
    record = decisions.sign_record(decisions.make_checkpoint(state, now, root.public_hex), root.seed)
    answer = auth.call(w.ADMIN, "checkpoint", {"kind": kind, "deployment_id": deployment_id,
                                               "record_json": canonical_json(record)})
    return {"head": answer.get("head") if isinstance(answer, dict) else None, "shown": view}
