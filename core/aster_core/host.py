"""The plugin host: loads families, contains their failures, settles command names.

One :class:`PluginHost` per process (:func:`get_host`). Every hook is called
through pluggy (``pm.hook.<name>()``, see :meth:`PluginHost.collect`): the
built-in plugin and each family are registered as stand-ins
(:func:`.hookcall.family_proxy`) that contain a family's failure, so one broken
family cannot break another, while ``tryfirst``/``trylast`` and hook wrappers
work as pluggy defines them. A :class:`PluginRecord` per entry point is kept
for ``aster plugins`` and ``aster doctor``.

``aster --help``, completion and finding the command to run need only what
``aster_commands`` returned. The plugin cache (:mod:`.plugincache`) keeps that,
so a start with nothing changed imports neither pluggy nor any plugin module;
otherwise the host imports the families, calls ``aster_commands`` through
pluggy and rewrites the cache. Strict mode never reads the cache.

The switches that choose families (``ASTER_PLUGINS``, ``ASTER_DISABLE_PLUGINS``,
``--no-plugins``, ``--strict-plugins``) are read in :mod:`.switches`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from .discovery import FoundPlugin, normalise_name
from .switches import env_list, truthy
from .records import CommandEntry, PluginRecord

if TYPE_CHECKING:
    from .errors import PluginError

#: Built-in commands: name -> (one-line help, implementation). Built-ins always win a name.
BUILTINS: dict[str, tuple[str, str]] = {
    "profile": ("Manage operator profiles (root keys live in the OS keyring).", "aster_core.commands.profile:profile"),
    "config": ("Show the resolved configuration and where each value comes from; set or unset one.", "aster_core.commands.config:config"),
    "plugins": ("List installed command families and their status.", "aster_core.commands.plugins:plugins"),
    "doctor": ("Check plugins, keyring, config files and every family's health.", "aster_core.commands.doctor:doctor"),
    "completion": ("Print the shell completion script (bash, zsh or fish).", "aster_core.commands.completion:completion"),
}


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _admits(plugin: FoundPlugin) -> bool:
    """Whether the family's declared ``aster-core`` range includes this host."""
    from . import __version__
    from .versions import version_satisfies

    return not plugin.requires_core or version_satisfies(__version__, plugin.requires_core)


def _command(spec: Any) -> tuple[str, str, str, bool]:
    """(name, help, target, hidden) of one item ``aster_commands`` returned; TypeError when it is not a CommandSpec."""
    fields = (getattr(spec, "name", None), getattr(spec, "help", None), getattr(spec, "target", None))
    if not all(isinstance(field, str) for field in fields):
        raise TypeError(f"aster_commands() returned {spec!r}, not a CommandSpec")
    return (*fields, bool(getattr(spec, "hidden", False)))  # type: ignore[return-value]


class PluginHost:
    """Loads plugins once and answers questions about them."""

    def __init__(self, *, no_plugins: bool = False, strict: bool = False, use_cache: bool = True):
        self.no_plugins = no_plugins or truthy("ASTER_NO_PLUGINS")
        self.strict = strict or truthy("ASTER_STRICT_PLUGINS")
        self.use_cache = use_cache
        self._records: list[PluginRecord] | None = None
        self._commands: dict[str, CommandEntry] = {}
        self._clashes: dict[str, list[PluginRecord]] = {}
        self._pm: Any = None
        self._failures: list[tuple[PluginRecord | None, str]] = []
        self._cache_key: tuple | None = None
        self._cached: Any = None                     #: the plugin cache's snapshot as read this run
        self._found: list[tuple[FoundPlugin, bool]] = []   #: every entry point, and whether it admits this host

    # -- loading ---------------------------------------------------------------

    @property
    def records(self) -> list[PluginRecord]:
        if self._records is None:
            self._load()
        return self._records  # type: ignore[return-value]

    @property
    def pm(self) -> Any:
        """The pluggy PluginManager with the built-in plugin and every loaded family.

        Built on first use (a command calling a hook, ``plugins``, ``doctor``),
        or while loading when the plugin cache could not answer; a start that
        only lists commands never builds it. A family pluggy rejects (e.g. a
        hook with the wrong arguments) is marked failed.
        """
        if self._pm is None:
            self.records
            if self._pm is None:
                self._pm = self._build_manager()
        return self._pm

    def _build_manager(self) -> Any:
        from . import builtin_plugin
        from .hookcall import family_proxy, make_manager

        pm = make_manager()
        # pluggy calls the implementation registered last first: registering in reverse makes a
        # call run the built-in plugin, then the families by name (tryfirst/trylast/wrappers aside)
        for rec in reversed(self._records or []):
            if rec.status not in ("loaded", "shadowed") or (rec.module is None and not self._import(rec)):
                continue
            try:
                pm.register(family_proxy(rec.module, rec, rec.distribution, self._report),
                            name=f"{rec.distribution}:{rec.entry_point}")
            except Exception as exc:
                self._fail(rec, _one_line(f"{type(exc).__name__}: {exc}"))
        pm.register(family_proxy(builtin_plugin, None, "aster-core", self._report), name="aster-core")
        return pm

    def _selected(self, plugin: FoundPlugin) -> bool:
        names = {normalise_name(plugin.distribution), normalise_name(plugin.name)}
        only = env_list("ASTER_PLUGINS")
        disabled = env_list("ASTER_DISABLE_PLUGINS") or set()
        if self.no_plugins or (only is not None and not names & only):
            return False
        return not names & disabled

    def _load(self) -> None:
        from .discovery import metadata_folders, plugins_in

        self._records = []
        self._commands = {name: CommandEntry(name, help_, target, None) for name, (help_, target) in BUILTINS.items()}
        declared = None
        if self.use_cache:
            from . import plugincache

            self._cache_key = plugincache.environment_key()
            if not self.strict:
                self._cached = plugincache.read(self._cache_key)
        if self._cached is not None:
            self._found = [(FoundPlugin(*fields[:6]), fields[6]) for fields in self._cached.found]
            declared = self._cached_declarations()
        if declared is None:  # nothing cached, or not all of it: discover and load for real
            self._found = [(plugin, _admits(plugin)) for plugin in plugins_in(metadata_folders())]
        candidates = []
        for plugin, admits in self._found:
            rec = PluginRecord(plugin)
            self._records.append(rec)
            if not self._selected(plugin):
                rec.status = "disabled"
            elif not admits:
                from . import __version__

                rec.status = "incompatible"
                rec.error = f"needs aster-core {plugin.requires_core}, this is {__version__}"
                self._problem(rec)
            else:
                candidates.append(rec)
        if declared is None:
            claims = self._declare(candidates) if candidates else {}
        else:
            claims = {}
            for rec in candidates:
                got = declared[plugincache.entry_id(rec.path, rec.entry_point, rec.value)]
                if isinstance(got, str):  # failed last time, and its import still fails
                    self._fail(rec, got)
                    continue
                rec.hooks, rec.unknown_hooks, commands = got
                for command in commands:
                    claims.setdefault(command[0], []).append((rec, command))
        self._settle_names(claims)
        if self.strict:
            self.pm  # validate every family with pluggy now

    def _cached_declarations(self) -> dict | None:
        """What the plugin cache says each family that will load declared; None when any is missing
        or stale. A family that failed last time is imported again: its import error if it still
        fails, None (load everything for real) if it now imports."""
        from . import plugincache

        declared: dict[tuple, Any] = {}
        for plugin, admits in self._found:
            if admits and self._selected(plugin):
                ident = plugincache.entry_id(plugin.dist_path, plugin.name, plugin.value)
                got = plugincache.declared(self._cached, ident, plugin.dist_path)
                if got == plugincache.FAILED:
                    from .loading import load_target

                    try:
                        load_target(plugin.value)
                    except Exception as exc:  # still broken: report it as a cold start would
                        got = _one_line(f"{type(exc).__name__}: {exc}")
                    else:
                        got = None
                if got is None:
                    return None
                declared[ident] = got
        return declared

    def _declare(self, candidates: list[PluginRecord]) -> dict:
        """Command claims the real way: import every family, call ``aster_commands`` through pluggy,
        and remember the answer in the plugin cache."""
        self._pm = self._build_manager()
        declared: dict[PluginRecord, list[tuple[str, str, str, bool]]] = {rec: [] for rec in candidates}
        for got in self._call("aster_commands"):
            rec = got.owner
            if rec is None:
                continue  # the built-in plugin's commands are BUILTINS
            try:
                declared[rec].extend(_command(spec) for spec in got)
            except TypeError as exc:
                self._unregister(rec)
                self._fail(rec, str(exc))
        claims: dict[str, list[tuple[PluginRecord, tuple[str, str, str, bool]]]] = {}
        for rec in candidates:
            if rec.status != "failed":
                for command in declared[rec]:
                    claims.setdefault(command[0], []).append((rec, command))
        if self._cache_key is not None:
            self._remember(candidates, declared)
        return claims

    def _remember(self, candidates: list[PluginRecord], declared: dict) -> None:
        from . import plugincache

        found = tuple((*plugin, admits) for plugin, admits in self._found)
        entries = {
            plugincache.entry_id(rec.path, rec.entry_point, rec.value): plugincache.make_entry(
                rec.path, getattr(rec.module, "__file__", None), rec.hooks, rec.unknown_hooks,
                None if rec.status == "failed" else declared[rec])
            for rec in candidates}
        cached = self._cached
        if cached is None or cached.found != found or any(cached.entries.get(i) != e for i, e in entries.items()):
            plugincache.write(self._cache_key, found, entries)

    def _import(self, rec: PluginRecord) -> bool:
        """Import the plugin module and note its hooks; False (and reported) if it fails."""
        from .hookcall import implemented_hooks, unknown_hooks
        from .loading import load_target

        try:
            module = load_target(rec.value)
        except Exception as exc:  # a family's import error must not break the host
            self._fail(rec, _one_line(f"{type(exc).__name__}: {exc}"))
            return False
        rec.module = module
        rec.hooks = implemented_hooks(module)
        rec.unknown_hooks = unknown_hooks(module)
        if rec.unknown_hooks and self.strict:
            self._fail(rec, "unknown hooks: " + ", ".join(rec.unknown_hooks))
            return False
        return True

    # -- calling hooks ----------------------------------------------------------

    def _report(self, owner: PluginRecord | None, message: str) -> None:
        """Called by a family's stand-in when its code failed during a hook call."""
        self._failures.append((owner, message))

    def _call(self, hook: str, **kwargs: Any) -> list[Any]:
        """``pm.hook.<hook>(**kwargs)``: every contribution of a family still loaded, in pluggy's order."""
        caller = getattr(self.pm.hook, hook)
        try:
            results = caller(**kwargs)
        finally:
            failures, self._failures = self._failures, []
            for owner, message in failures:
                if owner is None:  # the built-in plugin failing is a bug in the host itself
                    raise RuntimeError(f"aster-core's {message}")
                if owner.status != "failed":
                    self._unregister(owner)
                    self._fail(owner, _one_line(message))
        return [got for got in results if getattr(got, "owner", None) is None or got.owner.status != "failed"]

    def _unregister(self, rec: PluginRecord) -> None:
        plugin = self._pm.get_plugin(f"{rec.distribution}:{rec.entry_point}") if self._pm is not None else None
        if plugin is not None:
            self._pm.unregister(plugin)

    def collect(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Results of ``hook`` (any name in ``hookspecs.HOOK_NAMES``, called with ``kwargs``) from
        the built-in plugin and every loaded family, through pluggy, each paired with the
        distribution that gave it. Order is pluggy's: ``tryfirst`` implementations first, then
        the built-in plugin and families by name, ``trylast`` ones last; hook wrappers see
        (and may change) the whole list. A family whose code raises is reported, marked
        failed and skipped from then on."""
        return [(got.owner.distribution if got.owner is not None else "aster-core", item)
                for got in self._call(hook, **kwargs) for item in got]

    # -- settling names ---------------------------------------------------------

    def _settle_names(self, claims: dict[str, list[tuple[PluginRecord, tuple[str, str, str, bool]]]]) -> None:
        for name, holders in sorted(claims.items()):
            live = [(r, c) for r, c in holders if r.status != "failed"]
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
            rec, (_, help_, target, hidden) = live[0]
            rec.commands.append(name)
            self._commands[name] = CommandEntry(name, help_, target, rec, hidden)
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
            from .errors import PluginError

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
        from .errors import PluginError  # only when a command is missing: not on the start-up path

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
