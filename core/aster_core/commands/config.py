"""`aster config show`."""

from __future__ import annotations

from typing import Any

import click

from .. import output


@click.group()
def config() -> None:
    """Inspect configuration."""


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
