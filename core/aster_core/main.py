"""The ``aster`` entry point: a lazy click group over built-ins and families.

Start-up stays cheap: listing commands, ``aster --help``, ``--version`` and
completion of top-level names read each command's one-line help from its
spec; a command's implementation module is imported only when that command
runs (or its own ``--help`` is asked for).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

from . import __version__

if TYPE_CHECKING:  # imported when something fails: a start that only lists commands never needs them
    from .errors import AsterError


def _broken_command(name: str, error: AsterError) -> click.Command:
    """A stand-in that fails with the family's error whatever arguments it gets."""
    def run(args: tuple[str, ...]) -> None:
        raise error

    return click.Command(name, callback=run, help=error.message, add_help_option=False,
                         params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)],
                         context_settings={"ignore_unknown_options": True, "allow_extra_args": True})


def short_help(text: str, limit: int) -> str:
    """A command's help as one row of ``aster --help``: its first sentence, cut at a word to
    ``limit`` characters with "..." (what click does for a command's own short help; its
    public helper for it is deprecated)."""
    words = " ".join(text.split("\n\n", 1)[0].split()).split(" ")
    out: list[str] = []
    for i, word in enumerate(words):
        if len(" ".join(out + [word])) > limit:
            while out and len(" ".join(out)) + 3 > limit:
                out.pop()
            return " ".join(out) + "..."
        out.append(word)
        if word.endswith(".") and (i + 1 == len(words) or words[i + 1][:1].isupper()):
            break  # a sentence ends (not "e.g." inside one)
    return " ".join(out).strip()


def write_rows(formatter: click.HelpFormatter, rows: list[tuple[str, str]]) -> None:
    """What ``formatter.write_dl(rows)`` writes, without its text wrapper when no row needs
    wrapping (short helps always fit): for forty-odd commands the wrapper is a measurable
    share of ``aster --help``. Anything else goes to ``write_dl`` itself."""
    first_col = min(max(len(name) for name, _ in rows), 30) + 2
    text_width = max(formatter.width - first_col - 2, 10)
    if any(len(name) > 30 or len(text) > text_width or text != " ".join(text.split()) or "\x1b" in name + text
           for name, text in rows):
        formatter.write_dl(rows)
        return
    indent = " " * formatter.current_indent
    formatter.write("".join(f"{indent}{name}{' ' * (first_col - len(name))}{text}\n" if text else f"{indent}{name}\n"
                            for name, text in rows))


class AsterGroup(click.Group):
    """Root group whose subcommands come from the plugin host, loaded on demand."""

    def _host(self):
        from .host import get_host

        return get_host()

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._host().commands)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        host = self._host()
        entry = host.commands.get(name)
        if entry is None:
            reason = host.unavailable_reason(name)
            return _broken_command(name, reason) if reason else None
        from .loading import load_target

        try:
            return load_target(entry.target)
        except Exception as exc:
            if os.environ.get("ASTER_DEBUG"):
                raise
            owner = entry.owner
            where = f"{owner.distribution} {owner.version}" if owner else "aster-core"
            hint = f"reinstall it, or remove it with `{owner.uninstall}`" if owner else "reinstall aster-core"
            from .errors import PluginError

            return _broken_command(name, PluginError(
                f"command {name!r} from {where} failed to load: {type(exc).__name__}: {exc}", hint))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        entries = self._host().commands
        rows = [(name, entries[name].help) for name in sorted(entries) if not entries[name].hidden]
        if rows:
            limit = formatter.width - 6 - max(len(n) for n, _ in rows)
            with formatter.section("Commands"):
                write_rows(formatter, [(n, short_help(h, limit)) for n, h in rows])

    def shell_complete(self, ctx: click.Context, incomplete: str):
        """Top-level names from the specs (nothing implemented is imported), or options."""
        from click.shell_completion import CompletionItem

        if incomplete.startswith("-"):
            return click.Command.shell_complete(self, ctx, incomplete)
        return [CompletionItem(n, help=e.help) for n, e in sorted(self._host().commands.items())
                if n.startswith(incomplete) and not e.hidden]


def _configure_host(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        from .host import get_host

        setattr(get_host(), "no_plugins" if param.name == "no_plugins" else "strict", True)


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from .discovery import find_plugins

    click.echo(f"aster-core {__version__}")
    families: dict[str, str] = {}
    for found in find_plugins():
        families.setdefault(f"{found.distribution} {found.version}", found.name)
    for dist in sorted(families):
        click.echo(f"{dist}  ({families[dist]})")
    ctx.exit()


def _complete_profile(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    from .completions import complete_profile  # only when completing: never on the start-up path

    return complete_profile(ctx, param, incomplete)


@click.group(cls=AsterGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the host's version and every installed family's, then exit.")
@click.option("--profile", envvar="ASTER_PROFILE", metavar="NAME", shell_complete=_complete_profile,
              help="Profile to use instead of the active one (env ASTER_PROFILE).")
@click.option("--no-plugins", is_flag=True, expose_value=False, is_eager=True, callback=_configure_host,
              help="Load no plugins: built-in commands only.")
@click.option("--strict-plugins", is_flag=True, expose_value=False, is_eager=True, callback=_configure_host,
              help="Treat any plugin problem as an error (for plugin authors).")
def cli(profile: str | None) -> None:
    """aster: operate meshes built on the Aster RPC runtime.

    Command families are installed separately (the `aster` meta-package has
    them all; see the README's install section); `aster plugins` lists what is installed. Exit codes: 0 ok, 1 failed,
    2 bad usage or input, 3 denied, 4 not found, 5 broken plugin, 6 no keyring,
    7 peer unavailable, 130 interrupted.
    """


def build_cli() -> click.Group:
    """The root group, with a fresh plugin host (tests call this per run)."""
    from .host import set_host

    set_host(None)
    return cli


def report_error(error: AsterError) -> None:
    """One line on stderr: ``Error: <what went wrong>. Hint: <what to do>``."""
    message = error.message.rstrip(".")
    if not message.endswith(("?", "!")):  # a quoted tool's question keeps its own mark
        message += "."
    click.echo(f"Error: {message}" + (f" Hint: {error.hint}" if error.hint else ""), err=True)


def main(argv: list[str] | None = None) -> Any:
    """Console-script entry point: maps every failure to one line and an exit code."""
    try:
        result = cli.main(args=argv, prog_name="aster", standalone_mode=False)
        # without standalone mode click returns ctx.exit()'s code instead of exiting
        code = result if isinstance(result, int) else 0
    except (Exception, KeyboardInterrupt) as exc:
        code = failure_code(exc)
    sys.stdout.flush()
    sys.exit(code)


def ends_with_command() -> bool:
    """Whether this process is the `aster` script, which ends when its command does (a
    connection may then be closed at once and its node left to the exit); a process running
    commands in-process (``aster_core.testing.invoke``, a library user) goes on."""
    return getattr(sys.modules.get("__main__"), "main", None) is main


def failure_code(exc: BaseException) -> int:
    """The exit code for ``exc``, raised by a command, once its one line is on stderr (called
    while it is being handled: re-raised as it is with ``ASTER_DEBUG`` set when unexpected)."""
    from .errors import AsterError, ExitCode

    debug = bool(os.environ.get("ASTER_DEBUG"))
    if isinstance(exc, AsterError):
        if debug:
            import traceback

            traceback.print_exc()
        report_error(exc)
        return int(exc.exit_code)
    if isinstance(exc, click.exceptions.Exit):
        return exc.exit_code
    if isinstance(exc, click.UsageError):
        command = exc.ctx.command_path if exc.ctx else "aster"
        report_error(AsterError(exc.format_message(), f"see `{command} --help`"))
        return exc.exit_code
    if isinstance(exc, click.ClickException):
        report_error(AsterError(exc.format_message()))
        return exc.exit_code
    if isinstance(exc, (click.exceptions.Abort, KeyboardInterrupt)):
        click.echo("Aborted.", err=True)
        return ExitCode.INTERRUPTED
    if isinstance(exc, BrokenPipeError):
        sys.stderr.close()  # the reader went away (e.g. `| head`): not an error worth a traceback
        return 0
    if debug:  # an unexpected failure is still one line unless debugging
        raise exc
    report_error(AsterError(f"unexpected {type(exc).__name__}: {exc}",
                            "run again with ASTER_DEBUG=1 for the traceback and report it"))
    return ExitCode.FAILED
