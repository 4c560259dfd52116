"""What ``aster config show`` explains: the runtime's settings and every family's.

:data:`RUNTIME_SETTINGS` mirrors how ``aster.config.AsterConfig`` (aster-rpc
0.1.2) resolves each field: defaults, then a TOML file when one is given,
then ``ASTER_*`` environment variables. It is written from the runtime's
documented behaviour, so it works without aster-rpc
installed; tests/core/test_config_show.py checks it against the real
``AsterConfig`` whenever the runtime is importable.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from typing import Any

from .errors import UsageError
from .hookspecs import ConfigField

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
#: What `config show` prints for a secret that is set.
SECRET_MASK = "******** (set)"


@dataclass(frozen=True)
class RuntimeSetting:
    """One ``AsterConfig`` field. ``kind`` says how text becomes a value:
    ``text`` (stripped), ``opt`` (stripped, empty means unset), ``lower``,
    ``bool``, ``int``, ``hex`` (bytes) or ``b64`` (bytes)."""

    name: str
    section: str | None     #: TOML table, None when the file cannot set it
    toml_key: str | None
    env: str
    kind: str
    default: Any = None
    secret: bool = False


def _s(name, section, key, env, kind, default=None, secret=False) -> RuntimeSetting:
    return RuntimeSetting(name, section, key, env, kind, default, secret)


RUNTIME_SETTINGS: tuple[RuntimeSetting, ...] = (
    _s("root_pubkey", "trust", "root_pubkey", "ASTER_ROOT_PUBKEY", "hex"),
    _s("root_pubkey_file", "trust", "root_pubkey_file", "ASTER_ROOT_PUBKEY_FILE", "text"),
    _s("enrollment_credential_file", "trust", "enrollment_credential", "ASTER_ENROLLMENT_CREDENTIAL", "text", secret=True),
    _s("enrollment_credential_iid", "trust", "enrollment_credential_iid", "ASTER_ENROLLMENT_CREDENTIAL_IID", "text", secret=True),
    _s("allow_all_consumers", "trust", "allow_all_consumers", "ASTER_ALLOW_ALL_CONSUMERS", "bool", False),
    _s("allow_all_producers", "trust", "allow_all_producers", "ASTER_ALLOW_ALL_PRODUCERS", "bool", True),
    _s("endpoint_addr", "connect", "endpoint_addr", "ASTER_ENDPOINT_ADDR", "text"),
    _s("storage_path", "storage", "path", "ASTER_STORAGE_PATH", "opt"),
    _s("secret_key", "network", "secret_key", "ASTER_SECRET_KEY", "b64", secret=True),
    _s("relay_mode", "network", "relay_mode", "ASTER_RELAY_MODE", "opt"),
    _s("bind_addr", "network", "bind_addr", "ASTER_BIND_ADDR", "opt"),
    _s("portmapper_config", "network", "portmapper_config", "ASTER_PORTMAPPER_CONFIG", "opt"),
    _s("proxy_url", "network", "proxy_url", "ASTER_PROXY_URL", "opt"),
    _s("enable_monitoring", "network", "enable_monitoring", "ASTER_ENABLE_MONITORING", "bool", False),
    _s("enable_hooks", "network", "enable_hooks", "ASTER_ENABLE_HOOKS", "bool", False),
    _s("clear_ip_transports", "network", "clear_ip_transports", "ASTER_CLEAR_IP_TRANSPORTS", "bool", False),
    _s("clear_relay_transports", "network", "clear_relay_transports", "ASTER_CLEAR_RELAY_TRANSPORTS", "bool", False),
    _s("proxy_from_env", "network", "proxy_from_env", "ASTER_PROXY_FROM_ENV", "bool", False),
    _s("local_discovery", "network", "local_discovery", "ASTER_LOCAL_DISCOVERY", "bool", False),
    _s("hook_timeout_ms", "network", "hook_timeout_ms", "ASTER_HOOK_TIMEOUT_MS", "int", 5000),
    _s("log_format", "logging", "format", "ASTER_LOG_FORMAT", "lower", "text"),
    _s("log_level", "logging", "level", "ASTER_LOG_LEVEL", "lower", "info"),
    _s("log_mask", "logging", "mask", "ASTER_LOG_MASK", "bool", True),
    _s("identity_file", None, None, "ASTER_IDENTITY_FILE", "text"),
)


def _from_env(setting: RuntimeSetting, text: str) -> Any:
    value = text.strip()
    try:
        if setting.kind == "bool":
            if value.lower() in _TRUE:
                return True
            if value.lower() in _FALSE:
                return False
            raise ValueError(f"expected true/false/1/0/yes/no/on/off, got {text!r}")
        if setting.kind == "int":
            return int(value)
        if setting.kind == "hex":
            return bytes.fromhex(value)
        if setting.kind == "b64":
            return base64.b64decode(value) if value else None
        if setting.kind == "lower":
            return value.lower()
        if setting.kind == "opt":
            return value or None
        return value
    except (ValueError, binascii.Error) as exc:
        raise UsageError(f"{setting.env}: {exc}", f"fix or unset {setting.env}") from None


def _from_toml(setting: RuntimeSetting, raw: Any, where: str) -> Any:
    try:
        if setting.kind == "bool":
            return bool(raw)
        if setting.kind == "int":
            return int(raw)
        if setting.kind == "hex":
            return bytes.fromhex(raw)
        if setting.kind == "b64":
            return None if raw is None else base64.b64decode(raw)
        if setting.kind == "lower":
            return str(raw).lower()
        if setting.kind == "opt":
            return None if raw is None else str(raw)
        return str(raw)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise UsageError(f"{where}: {setting.toml_key}: {exc}", "fix the value in the file") from None


@dataclass(frozen=True)
class Resolved:
    """A setting's value and where it came from (``source`` uses the runtime's labels)."""

    group: str
    name: str
    value: Any
    source: str
    env: str | None
    location: str | None
    secret: bool
    owner: str
    description: str = ""

    def display_value(self) -> Any:
        value = self.value
        if isinstance(value, bytes):
            value = value.hex()
        if value is None:
            return None
        if self.secret:
            return SECRET_MASK  # not one character of a secret, not even its length
        return value

    def as_dict(self) -> dict[str, Any]:
        return {"group": self.group, "name": self.name, "value": self.display_value(), "source": self.source,
                "env": self.env, "location": self.location, "secret": self.secret, "owner": self.owner,
                "description": self.description}


def resolve_runtime(toml_path: str | None = None) -> list[Resolved]:
    """The runtime's settings as ``AsterConfig.from_file(toml_path)`` (or
    ``from_env()`` without a path) would resolve them, with sources."""
    from .files import load_toml

    data = load_toml(toml_path, missing_ok=False) if toml_path else {}
    label = toml_path or "aster.toml"
    out = []
    for s in RUNTIME_SETTINGS:
        value, source = s.default, "default"
        table = data.get(s.section, {}) if s.section else {}
        if isinstance(table, dict) and s.toml_key in table:
            where = f"{label} [{s.section}]"
            value, source = _from_toml(s, table[s.toml_key], where), where
        if (text := os.environ.get(s.env)) is not None:
            value, source = _from_env(s, text), s.env
        location = f"[{s.section}] {s.toml_key}" if s.section else None
        out.append(Resolved(s.section or "identity", s.name, value, source, s.env, location, s.secret, "aster-rpc"))
    return out


def resolve_field(owner: str, field: ConfigField, config: dict[str, Any], profile: str | None) -> Resolved:
    """A family's setting: default, then ``config.toml`` (``{profile}`` in the
    section is the selected profile), then its environment variable."""
    value, source, location = field.default, "default", None
    if field.key is not None:
        section = (field.section or "").replace("{profile}", profile or "")
        table: Any = config
        for part in filter(None, section.split(".")):
            table = table.get(part, {}) if isinstance(table, dict) else {}
        location = f"config.toml [{section}] {field.key}" if section else f"config.toml {field.key}"
        if isinstance(table, dict) and field.key in table:
            value = table[field.key]
            source = f"profile {profile}" if "{profile}" in (field.section or "") else location
    if field.env and (text := os.environ.get(field.env)) is not None:
        value, source = text, field.env
    group = "profile" if "{profile}" in (field.section or "") else owner
    return Resolved(group, field.name, value, source, field.env, location, field.secret, owner, field.description)


def resolve_all(toml_path: str | None = None) -> list[Resolved]:
    """Runtime settings plus every installed family's declared settings."""
    from .host import get_host
    from .profiles import active_profile, read_config

    config = read_config()
    profile = os.environ.get("ASTER_PROFILE") or active_profile(config)
    rows = resolve_runtime(toml_path)
    for owner, field in get_host().collect("aster_config_fields"):
        rows.append(resolve_field(owner, field, config, profile))
    return rows
