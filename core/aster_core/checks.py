"""The host's own `aster doctor` checks (declared in builtin_plugin)."""

from __future__ import annotations

import os
import stat

from .errors import AsterError
from .hookspecs import CheckResult


def check_plugins() -> list[CheckResult]:
    from .host import get_host

    host = get_host()
    results = []
    for rec in host.validated_records():
        name = f"plugin {rec.entry_point} ({rec.distribution} {rec.version})"
        if rec.status in ("failed", "incompatible"):
            results.append(CheckResult(name, "fail", f"{rec.status}: {rec.error}",
                                       f"reinstall it or remove it with `{rec.uninstall}`"))
        elif rec.status == "shadowed":
            results.append(CheckResult(name, "warn", f"command names taken: {rec.error}",
                                       "rename the plugin's command or disable one side with ASTER_DISABLE_PLUGINS"))
        if rec.unknown_hooks:
            results.append(CheckResult(name, "fail", "functions that match no hook: " + ", ".join(rec.unknown_hooks),
                                       "check the spelling against aster_core.hookspecs and mark them @hookimpl"))
    if not results:
        loaded = sum(r.status == "loaded" for r in host.records)
        results.append(CheckResult("plugins", "ok", f"{loaded} loaded, {len(host.records) - loaded} disabled"))
    return results


def check_home() -> CheckResult:
    from .home import aster_home, config_path

    home = aster_home()
    if not home.exists():
        return CheckResult("home", "ok", f"{home} does not exist yet (created on first use)")
    if not os.access(home, os.W_OK | os.X_OK):
        return CheckResult("home", "fail", f"{home} is not writable", "fix its permissions or set ASTER_HOME")
    mode = stat.S_IMODE(home.stat().st_mode)
    if mode & 0o077:
        return CheckResult("home", "warn", f"{home} is mode {mode:o}: others can read it", f"chmod 700 {home}")
    cfg = config_path()
    if cfg.exists() and stat.S_IMODE(cfg.stat().st_mode) & 0o077:
        return CheckResult("home", "warn", f"{cfg} is readable by others", f"chmod 600 {cfg}")
    return CheckResult("home", "ok", f"{home} (mode {mode:o})")


def check_config() -> CheckResult:
    from .profiles import active_profile, list_profiles, read_config

    try:
        active = active_profile(read_config())
        names = [p.name for p in list_profiles()]
    except AsterError as exc:
        return CheckResult("config", "fail", exc.message, exc.hint)
    if active and active not in names:
        return CheckResult("config", "fail", f"active profile {active!r} is not defined",
                           "run `aster profile use NAME` with an existing profile")
    for name, path in _key_file_profiles().items():
        if not os.access(path, os.R_OK):
            return CheckResult("config", "fail", f"profile {name!r} uses the root key file {path}, which cannot be read",
                               f"restore it, or `aster profile delete {name}` and import it again")
        if stat.S_IMODE(os.stat(path).st_mode) & 0o077:
            return CheckResult("config", "warn", f"the root key file {path} of profile {name!r} is readable by others",
                               f"chmod 600 {path}")
    return CheckResult("config", "ok", f"{len(names)} profile(s)" + (f", active {active}" if active else ""))


def _key_file_profiles() -> dict[str, str]:
    """Profiles that use a key file instead of the keyring (``profile import --key-file-only``)."""
    from .profiles import key_file_of, list_profiles

    try:
        profiles = list_profiles()
    except AsterError:
        return {}
    return {p.name: path for p in profiles if (path := key_file_of(p.extra))}


def check_keyring() -> CheckResult:
    """A real round trip: store, read back and delete a probe entry (under the config
    lock, as every keyring change). A locked keyring and a plaintext file backend
    each get their own message."""
    import contextlib

    from .files import locked
    from .home import aster_home, config_path
    from .secrets import round_trip

    guard = locked(config_path()) if aster_home().is_dir() else contextlib.nullcontext()
    try:
        with guard:
            kr = round_trip()
    except AsterError as exc:
        from .profiles import list_profiles

        with contextlib.suppress(AsterError):
            names = {p.name for p in list_profiles()}
            if names and names == set(_key_file_profiles()):   # nothing here needs a keyring
                return CheckResult("keyring", "warn", f"{exc.message}; not needed: every profile uses a key file",
                                   exc.hint)
        return CheckResult("keyring", "fail", exc.message, exc.hint)
    if kr.plaintext:
        return CheckResult("keyring", "warn", f"store/read/delete ok, but {kr.description()}: root keys "
                           "are not encrypted", "use the OS keyring (unset PYTHON_KEYRING_BACKEND) or keep "
                           "root keys offline with `aster trust keygen root --out FILE`")
    return CheckResult("keyring", "ok", f"store/read/delete ok: {kr.description()}")
