"""What every registry client command shares: its options, its context, how it ends.

The commands (``commands_handles``, ``commands_publication``, ``commands_access``) parse with
click, call the actions (:mod:`.handles`, :mod:`.publication`, :mod:`.access`) and render with
``emit``. Every command takes ``--registry ADDR`` (``--aster``, the 0.1.2 spelling, too),
``--timeout`` and, where it prints data, ``--json``. Nothing heavy is imported before the
arguments are parsed.
"""

from __future__ import annotations

from typing import Any, Callable, NoReturn

import click

from aster_core.errors import UsageError
from aster_core.output import emit

DEFAULT_TIMEOUT = 15.0


def registry_options(func: Callable) -> Callable:
    """``--registry`` (``--aster``), ``--root-key`` and ``--timeout``: every command's."""
    func = click.option("--timeout", type=float, default=DEFAULT_TIMEOUT, show_default=True,
                        help="Seconds the whole command may take.")(func)
    func = click.option("--root-key", "root_key", metavar="FILE", default=None,
                        help="Root key pair file to sign with (default: the profile's keyring key).")(func)
    func = click.option("--registry", "--aster", "registry", metavar="ADDR", default=None,
                        help="Registry address (default: ASTER_SERVICE_ADDR, then [aster_service] node_id).")(func)
    return func


def _no_preview(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        raise UsageError(f"`aster {ctx.info_name} --demo` (the released 0.1.2 CLI's local preview) is not supported: "
                         "it recorded handles and publications no registry knows",
                         "try the real flow against a registry on this machine: aster registry serve --dev-mail "
                         "(see docs/migrating-from-0.1.2.md)")


#: ``--demo``, the released 0.1.2 CLI's preview flag: refused, saying what to do instead
demo_option = click.option("--demo", is_flag=True, expose_value=False, callback=_no_preview,
                           help="Not supported (0.1.2's local preview); exits 2 saying what to run instead.")


def command_context(registry: str | None, root_key: str | None, timeout: float, *, ends_process: bool = False) -> Any:
    """The actions' context; ``ends_process`` for a command that only prints what it read and
    then ends with :func:`print_and_exit`."""
    from .context import Context

    if not (0 < timeout <= 3600):
        raise UsageError(f"--timeout {timeout:g} is not a number of seconds from 0 to 3600", "e.g. --timeout 15")
    return Context(registry, root_key=root_key, timeout=timeout, ends_process=ends_process)


def print_and_exit(data: Any, as_json: bool, render: Callable[[Any], None]) -> NoReturn:
    """Print a read-only command's result and end the process at once (its session closed for it)."""
    from aster_connect.client import exit_now

    emit(data, as_json, render)
    exit_now(0)


def seconds(text: str, flag: str) -> int:
    """A duration flag (``300``, ``5m``, ``1h``) in whole seconds; UsageError naming ``flag``."""
    from aster_core.durations import parse_duration

    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        return int(parse_duration(text).total_seconds())
    except UsageError as exc:
        raise UsageError(f"{flag}: {exc.message}", "e.g. 300, 5m or 1h") from None


def delegation_options(func: Callable) -> Callable:
    """``--token-ttl``, ``--rate-limit`` and ``--role``: how consumer tokens are issued."""
    func = click.option("--role", "roles", multiple=True, metavar="ROLE",
                        help="Role delegated tokens carry (repeatable; default consumer).")(func)
    func = click.option("--rate-limit", default=None, metavar="N/PERIOD", help="Token issuance limit, e.g. 5/1h.")(func)
    func = click.option("--token-ttl", default="5m", show_default=True, help="Lifetime of delegated tokens (1m-24h).")(func)
    return func


def one_line(value: Any) -> str:
    """``value`` as text for a line of output, any control character shown escaped (``\\n``)."""
    from aster_core.text import CONTROL

    text = "" if value is None else str(value)
    return CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def interactive() -> bool:
    """True when stdin is a terminal (then missing values may be prompted for)."""
    import sys

    return sys.stdin.isatty()
