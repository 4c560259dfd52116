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


def confirm(question: str, *, action: str, skip: str = "--yes", as_json: bool = False) -> bool:
    """Ask a yes/no ``question`` (default no); see :func:`require_answerable`."""
    import click

    require_answerable(action, skip, as_json=as_json)
    return click.confirm(question, default=False, err=True)


def confirm_typed(expected: str, *, action: str, skip: str = "--yes", as_json: bool = False) -> bool:
    """Ask the person to type ``expected`` (a deployment's ``svc/ID``, say); True when they did."""
    import click

    require_answerable(action, skip, as_json=as_json)
    typed = click.prompt(f"Type {expected} to {action}", default="", show_default=False, err=True)
    return typed.strip() == expected


def ask(label: str, *, flag: str, hide_input: bool = False) -> str:
    """A value the command needs and was not given: asked for at a terminal, else exit 2
    with a hint naming ``flag``, the option that gives it."""
    import click

    if not can_ask():
        raise UsageError(f"no {label.lower()} given and there is no terminal to ask (stdin is not a tty)",
                         f"pass {flag}")
    return click.prompt(label, hide_input=hide_input, err=True)
