"""The host's contract with command families: every hook, in one module.

A family is a distribution with one entry point in the ``aster.plugins.v1``
group (see :data:`aster_core.ENTRY_POINT_GROUP`), whose name is the family's
primary command and whose value is a small *plugin module*::

    # pyproject.toml
    [project.entry-points."aster.plugins.v1"]
    hello = "aster_hello.plugin"

    # aster_hello/plugin.py  -- imports nothing heavy
    from aster_core.hookspecs import CommandSpec, hookimpl

    @hookimpl
    def aster_commands():
        return [CommandSpec("hello", "Say hello.", "aster_hello.cli:hello")]

Rules for plugin modules:

- Import nothing heavy at module level (no rich, cryptography, aster, mcp, ...):
  the host imports every plugin module to build ``aster --help`` whenever
  what is installed has changed (otherwise it reads the plugin cache).
- ``aster_commands`` must depend only on the installed code: its answer is
  cached in ``<home>/cache/plugins.marshal`` until a distribution is added,
  removed or upgraded or the plugin module file changes (delete the file to
  clear it; ``--strict-plugins`` never reads it). Every other hook is called
  each time a command asks for it.
- Name implementations by ``"module:attribute"`` strings; the host imports
  them only when that command, check or shell command actually runs.
- Declare the ``aster-core`` versions you support in your distribution's
  dependencies (``aster-core>=0.1,<0.2``); an incompatible plugin is reported
  and not loaded.
- The record types below are named tuples (cheap to define: this module is on
  the start-up path); build them with keywords or positions.
- Every hook is optional. A function named ``aster_*`` that matches no spec
  below is reported by ``aster doctor`` (and is an error in strict mode).

Hooks are called through pluggy: every implementation returns a list, and
the host gets one list per family. ``@hookimpl(tryfirst=True)`` runs before
the others (``trylast=True`` after); otherwise the built-in plugin comes
first, then families by distribution name. A wrapper,
``@hookimpl(wrapper=True)``, is a generator that yields once and receives
every family's list (the built-in plugin's included)::

    @hookimpl(wrapper=True)
    def aster_doctor_checks():
        results = yield                    # [[DoctorCheck, ...], [...], ...]
        return [[c for c in got if c.name != "noisy"] for got in results]

It must return such a list of lists; lists it adds count as its own family's.
The older ``@hookimpl(hookwrapper=True)`` (receive pluggy's ``Result``, and
``force_result``) works too. A family whose implementation or wrapper raises
is reported once on stderr and marked failed; the others' results are kept.

Address forms: aster-connect knows the runtime's own (tickets, NodeAddrs,
endpoint ids, peer names) and asks the families, through
``aster_address_resolvers``, for any other wherever an address goes (``aster
call``, ``shell``, ``mcp``): ``@handle/Service`` is the registry family's.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

PROJECT = "aster"

#: Every hook the host calls (the functions at the end of this module).
HOOK_NAMES = ("aster_commands", "aster_config_fields", "aster_shell_commands", "aster_doctor_checks",
              "aster_address_resolvers")


def hookimpl(function: F | None = None, *, tryfirst: bool = False, trylast: bool = False,
             wrapper: bool = False, hookwrapper: bool = False) -> Any:
    """Mark a function in a plugin module as the implementation of a hook.

    Use it bare (``@hookimpl``) or with pluggy's options: ordering
    (``tryfirst=True``, ``trylast=True``) and wrappers (``wrapper=True``, or the
    older ``hookwrapper=True``); see the module docstring. The host registers
    plugins with pluggy and reads this mark through
    ``PluginManager.parse_hookimpl_opts``, pluggy's documented customisation
    point. The mark is made here rather than with ``pluggy.HookimplMarker`` so
    that importing a plugin module does not import pluggy.
    """
    def mark(func: F) -> F:
        func.aster_impl = {"wrapper": wrapper, "hookwrapper": hookwrapper,  # type: ignore[attr-defined]
                           "optionalhook": False, "tryfirst": tryfirst, "trylast": trylast, "specname": None}
        return func

    return mark(function) if function is not None else mark


class CommandSpec(NamedTuple):
    """A top-level command a family adds.

    ``target`` is ``"module:attribute"`` of a click command or group; it is
    imported only when the command runs or its own ``--help`` is shown.
    A ``hidden`` command (another spelling, such as the released 0.1.2 CLI's)
    runs and has its own ``--help`` but is not listed by ``aster --help`` or
    completed by Tab.
    """

    name: str
    help: str
    target: str
    hidden: bool = False


class ConfigField(NamedTuple):
    """A setting a family reads, so ``aster config show`` can explain it.

    ``section``/``key`` locate it in ``~/.aster/config.toml`` (``section`` may be
    dotted, e.g. ``"authority"``); ``env`` is the environment variable that
    overrides it. ``secret`` values are shown masked.

    ``check`` is ``"module:attribute"`` of ``check(text) -> value``, which ``aster config
    set`` calls (imported only then) to refuse a bad value with a ``UsageError`` and to say
    what to store; without one the value's type follows ``default`` (bool, number or text).
    """

    name: str
    description: str
    env: str | None = None
    section: str | None = None
    key: str | None = None
    default: Any = None
    secret: bool = False
    check: str | None = None


class ShellCommand(NamedTuple):
    """A command other families add to ``aster shell``.

    ``target`` is ``"module:attribute"`` of ``handler(shell, argv) -> object``:
    ``shell`` is the running shell (see ``aster_connect.shell_commands.ShellContext``:
    ``.address``, ``.cwd``, ``.as_json``, ``.services``), ``argv`` the words
    after the command name. A returned object is printed (as JSON with
    ``--json``); ``None`` prints nothing.
    """

    name: str
    help: str
    target: str


class AddressResolver(NamedTuple):
    """A form of address a family resolves to one the runtime dials.

    ``prefix`` begins every address of the form (``"@"`` for ``@handle/Service``);
    it may not begin with a letter, a digit or ``+/=_-``, so no family can take a
    ticket, a NodeAddr or an endpoint id. ``help`` names the form in messages.
    ``target`` is ``"module:attribute"`` of an object with ``check(text)``, which
    raises ``UsageError`` for a malformed address without using the network, and
    ``async resolve(text, *, timeout)``, which returns an ``aster1...`` ticket, a
    base64 NodeAddr or a 64-hex endpoint id within ``timeout`` seconds (``None``:
    no limit). It is imported only when an address with that prefix is used.
    """

    prefix: str
    help: str
    target: str


class CheckResult(NamedTuple):
    """What a doctor check found. ``status`` is ``ok``, ``warn`` or ``fail``."""

    name: str
    status: str
    message: str
    hint: str | None = None


class DoctorCheck(NamedTuple):
    """A health check for ``aster doctor``.

    ``target`` is ``"module:attribute"`` of a zero-argument callable returning
    a :class:`CheckResult` or a list of them.
    """

    name: str
    target: str
    tags: tuple[str, ...] = ()


def aster_commands() -> list[CommandSpec]:
    """Top-level commands this family adds. Built-in names always win."""


def aster_config_fields() -> list[ConfigField]:
    """Settings this family reads, for ``aster config show``."""


def aster_shell_commands() -> list[ShellCommand]:
    """Commands this family adds to the interactive ``aster shell``."""


def aster_doctor_checks() -> list[DoctorCheck]:
    """Health checks this family contributes to ``aster doctor``."""


def aster_address_resolvers() -> list[AddressResolver]:
    """Address forms this family resolves, for every command that dials a peer."""
