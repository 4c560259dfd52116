"""`aster config show`, `set` and `unset`."""

from __future__ import annotations

from typing import Any

import click

from .. import output


@click.group()
def config() -> None:
    """Inspect and change configuration."""


@config.command("show")
@click.option("--file", "toml_path", metavar="aster.toml", type=click.Path(dir_okay=False),
              help="Also apply this runtime TOML file, as AsterConfig.from_file() would.")
@output.json_option
def show(toml_path: str | None, as_json: bool) -> None:
    """Every setting that affects the runtime and every installed family,
    with its value and source (default, env var, file and section, profile).
    Secrets are masked."""
    from ..settings import resolve_all

    rows = [r.as_dict() for r in resolve_all(toml_path)]

    def render(items: list[dict[str, Any]]) -> None:
        from rich.markup import escape

        con = output.console()
        width = max(len(r["name"]) for r in items)
        group = None
        for r in items:
            if r["group"] != group:
                group = r["group"]
                con.print(f"[bold]\\[{group}][/bold]")
            value = "<not set>" if r["value"] is None else r["value"]
            where = ", ".join(x for x in (r["env"], r["location"]) if x)
            con.print(f"  {r['name'].ljust(width)}  {escape(str(value))}  ({escape(r['source'])})" + (f"  [dim]{escape(where)}[/dim]" if where else ""),
                      soft_wrap=True, highlight=False)

    output.emit(rows, as_json, render)


def _render_change(r: dict[str, Any]) -> None:
    from ..configset import text_of

    where = f"{r['place']} of {r['file']}"
    if r["action"] == "set":
        value = text_of(r["value"])
        click.echo(f"{r['key']} = {value}  ({where})" if r["changed"] else f"{r['key']} is already {value}  ({where})")
    else:
        default = "" if r["default"] in (None, "") else f"; the default {text_of(r['default'])} applies"
        click.echo(f"{r['key']} removed from {where}{default}" if r["changed"] else f"{r['key']} was not set ({where})")
    if r["overridden_by"]:
        output.warn(f"{r['overridden_by']} is set in this environment and wins over the file")


def _complete_key(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Tab on KEY: the settings the file may hold (read from the installed families, no network)."""
    from click.shell_completion import CompletionItem

    from ..configset import declared

    return [CompletionItem(s.field.name, help=s.field.description) for s in declared()
            if s.field.key is not None and s.field.name.startswith(incomplete)]


@config.command("set")
@click.argument("key", shell_complete=_complete_key)
@click.argument("value")
@click.option("--profile", metavar="NAME", help="The profile a per-profile setting belongs to (default: the selected one).")
@output.json_option
def set_cmd(key: str, value: str, profile: str | None, as_json: bool) -> None:
    """Set KEY to VALUE in config.toml (checked first; comments and other tables kept).

    KEY is a name `aster config show` lists (authority.address) or its place in the file
    (hello.greeting)."""
    from ..configset import set_value

    output.emit(set_value(key, value, profile=profile), as_json, _render_change)


@config.command("unset")
@click.argument("key", shell_complete=_complete_key)
@click.option("--profile", metavar="NAME", help="The profile a per-profile setting belongs to (default: the selected one).")
@output.json_option
def unset_cmd(key: str, profile: str | None, as_json: bool) -> None:
    """Remove KEY from config.toml: its environment variable or default applies again."""
    from ..configset import unset_value

    output.emit(unset_value(key, profile=profile), as_json, _render_change)
