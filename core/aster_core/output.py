"""Rendering for people (rich) and for scripts (``--json``).

rich is imported only when something is rendered, never on the start-up path.
Colour follows NO_COLOR, FORCE_COLOR and TERM=dumb (rich reads all three).
Data goes to stdout; messages, warnings and progress go to stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import Any, Callable, Iterable, Iterator, Sequence

import click

_consoles: dict[bool, Any] = {}


def console(*, stderr: bool = False):
    """A rich Console bound to stdout (or stderr)."""
    if stderr not in _consoles:
        from rich.console import Console

        _consoles[stderr] = Console(stderr=stderr, highlight=False, soft_wrap=False)
    return _consoles[stderr]


def reset_consoles() -> None:
    """Forget cached consoles (click's test runner swaps sys.stdout per call)."""
    _consoles.clear()


def _default(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "__fspath__"):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json(data: Any, *, indent: int | None = 2) -> str:
    return json.dumps(data, indent=indent, default=_default, ensure_ascii=False)


def print_json(data: Any, *, indent: int | None = 2) -> None:
    """Clean JSON on stdout and nothing else."""
    click.echo(to_json(data, indent=indent))


def print_json_line(data: Any) -> None:
    """One compact JSON document per line (streams, scripted shells)."""
    click.echo(to_json(data, indent=None))
    sys.stdout.flush()


def print_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None,
                ids: Iterable[str] | None = None, optional: Sequence[str] = ()) -> None:
    """A rich table on stdout that never cuts an id (:mod:`aster_core.tables`).

    ``ids``: the headers of columns holding ids (default: by header, ``tables.ID_HEADERS``);
    ``optional``: headers of columns left out, the last first, when the table does not fit
    (the command then has :func:`wide_option`, and ``--wide`` keeps them)."""
    from .tables import render

    ctx = click.get_current_context(silent=True)
    wide = bool(ctx and ctx.meta.get(WIDE_KEY))
    left_out = render(console(), columns, rows, title=title, ids=ids, optional=optional, wide=wide)
    if left_out:
        info(f"(left out to fit {console().width} columns: {', '.join(left_out)}; --wide shows every column)")


WIDE_KEY = "aster_core.wide"


def _set_wide(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[WIDE_KEY] = True


def wide_option(func: Callable) -> Callable:
    """``--wide``: a table keeps every column, as wide as it needs (for a command whose
    :func:`print_table` names optional columns)."""
    return click.option("--wide", is_flag=True, expose_value=False, callback=_set_wide,
                        help="Show every column, however wide the table gets.")(func)


def print_fields(pairs: Iterable[tuple[str, Any]], *, title: str | None = None) -> None:
    """Aligned ``key  value`` lines for one object (plain text: no rich import)."""
    pairs = list(pairs)
    if title:
        click.echo(title)
    width = max((len(k) for k, _ in pairs), default=0)
    for key, value in pairs:
        click.echo(f"  {key.ljust(width)}  {'' if value is None else value}")


def emit(data: Any, as_json: bool, render: Callable[[Any], None]) -> None:
    """Print ``data`` as JSON when asked, else with ``render``: the one switch every command uses."""
    if as_json:
        print_json(data)
    else:
        render(data)


def info(message: str) -> None:
    """A human message on stderr (never pollutes ``--json`` output)."""
    click.echo(message, err=True)


def warn(message: str) -> None:
    click.echo(f"Warning: {message}", err=True)


@contextlib.contextmanager
def progress(message: str) -> Iterator[None]:
    """A spinner with ``message`` on stderr while slow work runs (dialling a peer,
    waiting for manifests). Only on a terminal: scripts and pipes see nothing."""
    if not sys.stderr.isatty() or os.environ.get("TERM") == "dumb":
        yield
        return
    with console(stderr=True).status(message, spinner="dots"):
        yield


def json_option(func: Callable) -> Callable:
    """The ``--json`` flag, spelled the same everywhere."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout instead of a table.")(func)
