"""The `hello` command: parse arguments, call the work function, render."""

from __future__ import annotations

import os

import click

from aster_core import output
from aster_core.hookspecs import CheckResult
from aster_core.profiles import read_config


def greeting() -> str:
    """The configured greeting: ASTER_HELLO_GREETING, then [hello] greeting, then "Hello"."""
    table = read_config().get("hello", {})
    return os.environ.get("ASTER_HELLO_GREETING") or table.get("greeting") or "Hello"


def greet(name: str) -> dict[str, str]:
    return {"greeting": greeting(), "name": name, "text": f"{greeting()}, {name}!"}


@click.command()
@click.argument("name", default="world")
@output.json_option
def hello(name: str, as_json: bool) -> None:
    """Greet NAME (default: world)."""
    output.emit(greet(name), as_json, lambda r: click.echo(r["text"]))


def check_greeting() -> CheckResult:
    word = greeting()
    if not word.strip():
        return CheckResult("hello greeting", "warn", "the greeting is empty", "set [hello] greeting in config.toml")
    return CheckResult("hello greeting", "ok", f"greeting is {word!r}")
