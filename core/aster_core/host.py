"""The plugin host: loads families, contains their failures, settles command names.

One :class:`PluginHost` per process (:func:`get_host`). It imports each
family's small plugin module, registers it with pluggy, calls its hooks one
implementation at a time (so one broken family cannot break another) and
records a :class:`PluginRecord` per entry point for ``aster plugins`` and
``aster doctor``.

Switches (environment or root options):

- ``ASTER_PLUGINS=a,b``: load only these (distribution or entry-point names;
  ``-`` loads none).
- ``ASTER_DISABLE_PLUGINS=a,b``: load all but these.
- ``--no-plugins`` / ``ASTER_NO_PLUGINS=1``: built-in commands only.
- ``--strict-plugins`` / ``ASTER_STRICT_PLUGINS=1``: any plugin problem is an
  error (exit code 5) instead of a warning.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, NamedTuple

from . import __version__
from .discovery import FoundPlugin, _normalise, find_plugins, version_satisfies
from .errors import PluginError
from .hookspecs import HOOK_NAMES

#: Built-in commands: name -> (one-line help, implementation). Built-ins always win a name.
BUILTINS: dict[str, tuple[str, str]] = {
    "profile": ("Manage operator profiles (root keys live in the OS keyring).", "aster_core.commands.profile:profile"),
    "config": ("Show the resolved configuration and where each value comes from.", "aster_core.commands.config:config"),
    "plugins": ("List installed command families and their status.", "aster_core.commands.plugins:plugins"),
    "doctor": ("Check plugins, keyring, config files and every family's health.", "aster_core.commands.doctor:doctor"),
    "completion": ("Print the shell completion script (bash, zsh or fish).", "aster_core.commands.completion:completion"),
}



class PluginRecord:
    """What the host knows about one entry point (shown by ``aster plugins``).

    A plain class rather than a dataclass: this module is on the start-up path
    and generating dataclass methods costs more than the rest of it.
    """

    status: str     #: loaded | failed | disabled | shadowed | incompatible

    def __init__(self, found: FoundPlugin):
        self.entry_point, self.value = found.name, found.value
        self.distribution, self.version = found.distribution, found.version
        self.path, self.requires_core = found.dist_path, found.requires_core
        self.status = "loaded"
        self.error: str | None = None
        self.commands: list[str] = []
        self.shadowed: dict[str, str] = {}    #: command -> who holds the name
        self.hooks: list[str] = []
        self.unknown_hooks: list[str] = []
        self.module: Any = None

    @property
    def uninstall(self) -> str:
        return f"pip uninstall {self.distribution}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "distribution": self.distribution, "version": self.version,
            "entry_point": f"{self.entry_point} = {self.value}", "status": self.status,
            "commands": self.commands, "shadowed": self.shadowed, "hooks": self.hooks,
            "unknown_hooks": self.unknown_hooks, "requires_core": self.requires_core or None,
            "error": self.error, "path": self.path,
        }


class CommandEntry(NamedTuple):
    name: str
    help: str
    target: str
    owner: PluginRecord | None   #: None for built-ins


def _env_list(name: str) -> set[str] | None:
    raw = os.environ.get(name)
    if raw is None:
        return None
    return {_normalise(x) for x in raw.split(",") if x.strip() and x.strip() != "-"}


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


class PluginHost:
    """Loads plugins once and answers questions about them."""

    def __init__(self, *, no_plugins: bool = False, strict: bool = False,
                 discover: Callable[[], list[FoundPlugin]] = find_plugins):
        self.no_plugins = no_plugins or _truthy("ASTER_NO_PLUGINS")
        self.strict = strict or _truthy("ASTER_STRICT_PLUGINS")
        self._discover = discover
        self._records: list[PluginRecord] | None = None
        self._commands: dict[str, CommandEntry] = {}
        self._clashes: dict[str, list[PluginRecord]] = {}
        self._pm = None

    # -- loading ---------------------------------------------------------------

    @property
    def records(self) -> list[PluginRecord]:
        if self._records is None:
            self._load()
        return self._records  # type: ignore[return-value]

    @property
    def pm(self):
        """The pluggy PluginManager with the built-in plugin and every loaded family.

        Built on first use (``plugins``, ``doctor``, ``config show``, the shell),
        not for ``--help``: pluggy and ``inspect`` are not needed to list commands.
        A family pluggy rejects (e.g. a hook with the wrong arguments) is marked failed.
        """
        if self._pm is None:
            from . import builtin_plugin

            pm = _plugin_manager()
            pm.register(builtin_plugin, name="aster-core")
            self._pm = pm
            for rec in self.records:
                if rec.module is not None and rec.status != "failed":
                    try:
                        pm.register(rec.module, name=rec.distribution)
                    except Exception as exc:
                        self._fail(rec, f"{type(exc).__name__}: {exc}")
        return self._pm

    def _selected(self, plugin: FoundPlugin) -> bool:
        names = {_normalise(plugin.distribution), _normalise(plugin.name)}
        only = _env_list("ASTER_PLUGINS")
        disabled = _env_list("ASTER_DISABLE_PLUGINS") or set()
        if self.no_plugins or (only is not None and not names & only):
            return False
        return not names & disabled

    def _load(self) -> None:
        self._records = []
        self._commands = {name: CommandEntry(name, help_, target, None) for name, (help_, target) in BUILTINS.items()}
        claims: dict[str, list[tuple[PluginRecord, Any]]] = {}
        for found in self._discover():
            rec = PluginRecord(found)
            self._records.append(rec)
            if not self._selected(found):
                rec.status = "disabled"
                continue
            if found.requires_core and not version_satisfies(__version__, found.requires_core):
                rec.status = "incompatible"
                rec.error = f"needs aster-core {found.requires_core}, this is {__version__}"
                self._problem(rec)
                continue
            if not self._import(rec):
                continue
            for spec in self._call_one(rec, "aster_commands"):
                claims.setdefault(spec.name, []).append((rec, spec))
        self._settle_names(claims)
        if self.strict:
            self.pm  # validate every family with pluggy now

    def _import(self, rec: PluginRecord) -> bool:
        """Import the plugin module and note its hooks; False (and reported) if it fails."""
        from .loading import load_target

        try:
            module = load_target(rec.value)
        except Exception as exc:  # a family's import error must not break the host
            self._fail(rec, f"{type(exc).__name__}: {exc}")
            return False
        rec.module = module
        rec.hooks = [name for name in HOOK_NAMES if hasattr(getattr(module, name, None), "aster_impl")]
        rec.unknown_hooks = self._unknown_hooks(module)
        if rec.unknown_hooks and self.strict:
            self._fail(rec, "unknown hooks: " + ", ".join(rec.unknown_hooks))
            return False
        return True

    def _unknown_hooks(self, module: Any) -> list[str]:
        """``aster_*`` functions that match no hookspec (misspelled or unmarked)."""
        unknown = []
        for name in dir(module):
            if name.startswith("aster_") and callable(getattr(module, name)):
                if name not in HOOK_NAMES:
                    unknown.append(name)
                elif not hasattr(getattr(module, name), "aster_impl"):
                    unknown.append(f"{name} (missing @hookimpl)")
        return unknown

    def _call_one(self, rec: PluginRecord, hook: str) -> list[Any]:
        impl = getattr(rec.module, hook, None)
        if impl is None or hook not in rec.hooks:
            return []
        try:
            return list(impl() or [])
        except Exception as exc:
            self._fail(rec, f"{hook}() raised {type(exc).__name__}: {exc}")
            return []

    def _settle_names(self, claims: dict[str, list[tuple[PluginRecord, Any]]]) -> None:
        for name, holders in sorted(claims.items()):
            live = [(r, s) for r, s in holders if r.status != "failed"]
            if not live:
                continue
            if name in BUILTINS:
                for rec, _ in live:
                    rec.shadowed[name] = "built-in command"
                continue
            if len(live) > 1:
                self._clashes[name] = [r for r, _ in live]
                for rec, _ in live:
                    others = ", ".join(o.distribution for o, _ in live if o is not rec)
                    rec.shadowed[name] = f"also provided by {others}"
                continue
            rec, spec = live[0]
            rec.commands.append(name)
            self._commands[name] = CommandEntry(name, spec.help, spec.target, rec)
        for rec in self._records or []:
            if rec.shadowed and rec.status == "loaded":
                rec.status = "shadowed"
                rec.error = "; ".join(f"{n}: {why}" for n, why in sorted(rec.shadowed.items()))
                self._problem(rec, warn=False)

    def _fail(self, rec: PluginRecord, error: str) -> None:
        rec.status, rec.error = "failed", error
        self._problem(rec)

    def _problem(self, rec: PluginRecord, *, warn: bool = True) -> None:
        if self.strict:
            raise PluginError(
                f"plugin {rec.entry_point!r} ({rec.distribution} {rec.version}) is {rec.status}: {rec.error}",
                f"fix or remove it (`{rec.uninstall}`), or run without --strict-plugins")
        if warn:
            print(f"aster: skipped plugin {rec.entry_point!r} from {rec.distribution} {rec.version} "
                  f"(entry point {rec.entry_point} = {rec.value}): {rec.error}; "
                  f"remove it with `{rec.uninstall}`", file=sys.stderr)

    # -- questions -------------------------------------------------------------

    @property
    def commands(self) -> dict[str, CommandEntry]:
        self.records
        return self._commands

    def unavailable_reason(self, name: str) -> PluginError | None:
        """Why ``aster NAME`` cannot run although a family may have meant to provide it.

        A family that failed before declaring its commands can only be matched
        by its entry-point name (by convention its main command); for any other
        unknown name while some family is broken, that family is named as the
        possible provider rather than answering a bare "no such command".
        """
        self.records
        if name in self._clashes:
            owners = ", ".join(r.distribution for r in self._clashes[name])
            return PluginError(f"command {name!r} is provided by several plugins ({owners}); none was loaded",
                               "disable all but one with ASTER_DISABLE_PLUGINS=<name>")
        broken = [r for r in self._records or [] if r.status in ("failed", "incompatible")]
        for rec in self._records or []:
            if rec.entry_point == name and rec in broken:
                return PluginError(f"the {name!r} family ({rec.distribution} {rec.version}) is {rec.status}: {rec.error}",
                                   f"reinstall it, or remove it with `{rec.uninstall}`")
            if rec.entry_point == name and rec.status == "disabled":
                return PluginError(f"the {name!r} family ({rec.distribution}) is disabled",
                                   "check ASTER_PLUGINS / ASTER_DISABLE_PLUGINS / --no-plugins")
        if broken:
            names = ", ".join(f"{r.distribution} {r.version} ({r.status}: {r.error})" for r in broken)
            return PluginError(f"no command {name!r}; a family that did not load may provide it: {names}",
                               "reinstall it, or remove it with " + " / ".join(f"`{r.uninstall}`" for r in broken))
        return None

    def collect(self, hook: str) -> list[tuple[str, Any]]:
        """Results of ``hook`` from the built-in plugin and every loaded family,
        each paired with the distribution that gave it. A raising family is
        reported and skipped."""
        from . import builtin_plugin

        self.pm  # families pluggy rejects are marked failed before we call them
        results: list[tuple[str, Any]] = [("aster-core", item) for item in getattr(builtin_plugin, hook)() or []]
        for rec in self.records:
            if rec.status in ("loaded", "shadowed"):
                results.extend((rec.distribution, item) for item in self._call_one(rec, hook))
        return results

    def validated_records(self) -> list[PluginRecord]:
        """Every record, after pluggy has checked each loaded family."""
        self.pm
        return self.records


_host: PluginHost | None = None


def get_host() -> PluginHost:
    """The process-wide host (created with environment defaults when needed)."""
    global _host
    if _host is None:
        _host = PluginHost()
    return _host


def set_host(host: PluginHost | None) -> None:
    global _host
    _host = host


def _plugin_manager():
    """A pluggy manager that reads our light-weight marks (see hookspecs.hookimpl)."""
    import pluggy

    from . import hookspecs

    class AsterPluginManager(pluggy.PluginManager):
        def parse_hookspec_opts(self, module_or_class, name):
            if module_or_class is hookspecs and name in HOOK_NAMES:
                return {"firstresult": False, "historic": False, "warn_on_impl": None, "warn_on_impl_args": None}
            return None

        def parse_hookimpl_opts(self, plugin, name):
            opts = getattr(getattr(plugin, name, None), "aster_impl", None)
            return dict(opts) if isinstance(opts, dict) else None

    pm = AsterPluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm
