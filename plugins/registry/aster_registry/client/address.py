"""Which registry a command talks to (the same order as aster-cli 0.1.2).

1. ``--registry ADDR`` (``--aster ADDR``, the 0.1.2 spelling, is accepted too);
2. the environment variable ``ASTER_SERVICE_ADDR`` (whitespace stripped);
3. ``[aster_service] node_id`` in ``config.toml``, read only while ``[aster_service]
   enabled`` is true (the default).

The producer side of the runtime reads another variable, ``ASTER_SERVICE_ADDRESS``; our
``publish`` writes the address into the producer peer's ``aster_service`` key, so the
runtime finds it without either variable.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from aster_core.errors import UsageError
from aster_core.text import control_in, shown, whole_match

ENV = "ASTER_SERVICE_ADDR"
#: the variable the runtime's producer registration loop reads (not ours to set)
RUNTIME_ENV = "ASTER_SERVICE_ADDRESS"

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_BASE64 = re.compile(r"[A-Za-z0-9+/=_-]{16,}")
NO_ADDRESS_HINT = (f"run `aster registry login ADDR` once (ADDR: the aster1... ticket `aster registry serve` "
                   f"printed), or pass --registry ADDR, or export {ENV}=ADDR")


@dataclass(frozen=True)
class RegistryAddress:
    """The address to dial and where it came from (for messages and ``doctor``)."""

    value: str
    source: str


def _service_table(config: dict[str, Any]) -> dict[str, Any]:
    from aster_core.home import config_path

    table = config.get("aster_service", {})
    if not isinstance(table, dict):
        raise UsageError(f"{config_path()}: aster_service must be a table ([aster_service])",
                         "fix the file by hand (nothing was changed)")
    return table


def check_form(text: str, source: str) -> str:
    """``text`` if it has the shape of an address the runtime dials, else a UsageError naming ``source``."""
    value = text.strip()
    if control_in(value) is None and value.startswith("aster1") and len(value) > 10:
        return value
    if whole_match(_HEX64, value) or whole_match(_BASE64, value):
        return value
    raise UsageError(f"the registry address from {source} is not an address: {shown(value, 48)}",
                     "use the aster1... ticket `aster registry serve` printed (or a base64 NodeAddr)")


def registry_address(explicit: str | None = None, config: dict[str, Any] | None = None) -> RegistryAddress:
    """The registry address, first rule that gives one wins; UsageError (exit 2) when none does."""
    if explicit is not None and explicit.strip():
        return RegistryAddress(check_form(explicit, "--registry"), "--registry")
    env = os.environ.get(ENV, "").strip()
    if env:
        return RegistryAddress(check_form(env, ENV), ENV)
    if config is None:
        from aster_core.profiles import read_config

        config = read_config()
    table = _service_table(config)
    enabled = table.get("enabled", True)
    if enabled is False or (isinstance(enabled, str) and enabled.lower() in ("0", "false", "no", "off")):
        raise UsageError("registry access is disabled in config.toml ([aster_service] enabled = false)",
                         "pass --registry ADDR to override, or set enabled = true under [aster_service]")
    node_id = table.get("node_id", "")
    if isinstance(node_id, str) and node_id.strip():
        return RegistryAddress(check_form(node_id, "[aster_service] node_id"), "config.toml [aster_service] node_id")
    raise UsageError("no registry address configured", NO_ADDRESS_HINT)
