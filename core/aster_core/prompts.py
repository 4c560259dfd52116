"""Questions to the person at the terminal: every command that asks, asks through here.

Without a terminal on stdin nobody can answer, so a question is never put: the command stops
with exit 2 (bad usage) and a hint naming the flag that answers it (``--yes`` for a
confirmation); an empty stdin is not read as "no" or as an interruption. With ``--json`` a
command never asks (its stdout is for a program). Ctrl-C (or end of input typed at the
terminal) while a question waits is click's ``Abort``, which the host maps to 130.
Questions are written to stderr, so stdout keeps only data.
"""

from __future__ import annotations

import sys

from .errors import UsageError


def can_ask() -> bool:
    """Whether a person can answer: stdin is a terminal."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except ValueError:  # a closed stdin
        return False


def require_answerable(action: str, skip: str, *, as_json: bool = False) -> None:
    """Stop (exit 2) unless a question about ``action`` can be put; ``skip`` is the flag
    that answers it in advance (``--yes``), named in the hint."""
    if as_json:
        raise UsageError(f"--json never asks a question: {action} needs {skip}", f"pass {skip} to {action} "
                         "without being asked")
    if not can_ask():
        raise UsageError(f"{action} needs a confirmation and there is no terminal to ask (stdin is not a tty)",
                         f"pass {skip} to {action} without being asked")


def _answer(prompt: str) -> str:
    """One line typed at the terminal, the prompt on stderr.

    Read with ``sys.stdin.readline()``, not ``input()``: with readline loaded, ``input()``
    loses a Ctrl-C that lands between the prompt and its wait for a key (CPython checks for
    signals only when its select() is interrupted), so the command would hang until Enter.
    A plain read either sees the KeyboardInterrupt before it starts or is interrupted by it.
    End of input typed at the terminal (Ctrl-D) is an interruption too."""
    import click

    click.echo(prompt, nl=False, err=True)
    try:
        line = sys.stdin.readline()
    except KeyboardInterrupt:
        click.echo(err=True)
        raise click.Abort() from None
    if not line:
        click.echo(err=True)
        raise click.Abort()
    return line.rstrip("\r\n")


def confirm(question: str, *, action: str, skip: str = "--yes", as_json: bool = False) -> bool:
    """Ask a yes/no ``question`` (default no); see :func:`require_answerable`."""
    import click

    require_answerable(action, skip, as_json=as_json)
    while True:
        answer = _answer(f"{question} [y/N]: ").strip().lower()
        if answer in ("y", "yes"):
            return True
        if answer in ("", "n", "no"):
            return False
        click.echo("Please answer y or n.", err=True)


def confirm_typed(expected: str, *, action: str, skip: str = "--yes", as_json: bool = False) -> bool:
    """Ask the person to type ``expected`` (a deployment's ``svc/ID``, say); True when they did."""
    require_answerable(action, skip, as_json=as_json)
    return _answer(f"Type {expected} to {action}: ").strip() == expected


def ask(label: str, *, flag: str) -> str:
    """A value the command needs and was not given: asked for at a terminal (again while
    empty), else exit 2 with a hint naming ``flag``, the option that gives it."""
    if not can_ask():
        raise UsageError(f"no {label.lower()} given and there is no terminal to ask (stdin is not a tty)",
                         f"pass {flag}")
    while True:
        value = _answer(f"{label}: ").strip()
        if value:
            return value
