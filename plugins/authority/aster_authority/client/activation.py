"""What ``aster dev activate`` does on the device: prove its activation key over fresh
challenges (connecting with the bundle's node key and no credential) and, once activated,
write its node key and released credential into its identity file.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from aster_core.errors import UsageError

from .. import wire as w
from ..domain import devices
from ..domain.ids import DEVICE, instance_id_for
from .connection import Authority
from .nodes import DEFAULT_IDENTITY, fetch

WAIT_FIRST, WAIT_MAX = 0.5, 10.0


def read_bundle(path: str | os.PathLike) -> devices.Bundle:
    from aster_core.files import load_json

    return devices.parse_bundle(load_json(path, "device bundle", "give the file `aster dev ID provision` wrote"),
                                str(path))


def check_identity(path: Path, bundle: devices.Bundle) -> bool:
    """True when ``path`` exists and holds this device's node key; refuses another key."""
    from aster_core.files import load_toml

    from aster_enroll.identity import validate

    if not path.exists():
        return False
    key = validate(load_toml(path), path)
    if key is not None and key.endpoint_id != bundle.keys.endpoint_id:
        raise UsageError(f"{path} holds another node key ({key.endpoint_id[:16]}...) than this bundle's device "
                         f"({bundle.keys.endpoint_id[:16]}...)", "give the device's own --identity FILE, or a new path")
    return key is not None


def node_table(bundle: devices.Bundle) -> dict[str, str]:
    from aster_enroll.identity import NodeKey

    return NodeKey.from_seed(bundle.keys.identity_seed).table()


def write_identity(path: Path, bundle: devices.Bundle, address: str) -> None:
    from aster_core.files import atomic_write, dump_toml, update_toml

    table = {"address": address, "deployment": bundle.deployment_id, "kind": DEVICE,
             "instance_id": instance_id_for(bundle.keys.endpoint_id, DEVICE)}
    if not path.exists():
        atomic_write(path, dump_toml({"node": node_table(bundle), "authority": table}), mode=0o600, exclusive=True)
        return

    def mutate(doc: dict[str, Any]) -> None:
        doc.setdefault("node", node_table(bundle))
        doc["authority"] = table

    update_toml(path, mutate, mode=0o600)


def activate(bundle_file: str | os.PathLike, *, identity: str | os.PathLike = DEFAULT_IDENTITY,
             authority: str | None = None, wait: bool = False, timeout: float = 600.0,
             on_wait: Callable[[dict[str, Any], float], None] | None = None,
             sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Prove the activation key over fresh challenges until activated (or pending, without
    ``wait`` or past ``timeout``). Activated: the node key and the released credential are
    written into ``identity`` (through :func:`.nodes.fetch`)."""
    from aster_core.files import atomic_write

    bundle = read_bundle(bundle_file)
    path = Path(identity)
    check_identity(path, bundle)
    address = (authority or "").strip() or bundle.authority
    keys = bundle.keys
    deadline = time.monotonic() + timeout
    delay = WAIT_FIRST
    with tempfile.TemporaryDirectory(prefix="aster-device-") as tmp:
        node_file = Path(tmp) / ".aster-identity"
        atomic_write(node_file, f'[node]\nsecret_key = "{node_table(bundle)["secret_key"]}"\n', mode=0o600)
        with Authority.as_node(address, node_file) as auth:
            while True:
                answer = activate_once(auth, bundle)
                if answer["state"] == devices.ACTIVATED or not wait or time.monotonic() >= deadline:
                    break
                if on_wait:
                    on_wait(answer, delay)
                sleep(min(delay, max(0.0, deadline - time.monotonic())))
                delay = min(delay * 2, WAIT_MAX)
    result = {**answer, "endpoint_id": keys.endpoint_id, "identity_file": str(path), "written": []}
    if answer["state"] == devices.ACTIVATED:
        write_identity(path, bundle, address)
        result["written"] = fetch(address, path)["written"]
    return result


def activate_once(auth: Authority, bundle: devices.Bundle) -> dict[str, Any]:
    challenge = auth.call(w.ACTIVATION, "challenge", w.DeviceRef(bundle.deployment_id))["challenge"]
    proof = devices.proof(bundle.keys.activation_key, devices.unb64url(challenge, "challenge", 32),
                          bundle.keys.endpoint_id, bundle.deployment_id)
    return auth.call(w.ACTIVATION, "activate", w.Activate(bundle.deployment_id, challenge, devices.b64url(proof)))
