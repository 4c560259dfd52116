"""``aster local init|up|status``: parse, call the work function, render."""

from __future__ import annotations

from typing import Any

import click

from aster_core.output import emit, json_option, print_fields

_DIR = click.option("--dir", "dir_", metavar="DIR",
                    help="The local mesh's folder. Default: ASTER_LOCAL_DIR, [local] dir, <home>/local.")


@click.group()
def local() -> None:
    """A whole mesh on this machine: a profile, an admin identity, an authority and a registry
    on SQLite (init), both servers in the foreground (up), and how they are (status)."""


@local.command("init")
@click.option("--out", metavar="DIR", help="Folder to make the mesh in. Default: <home>/local.")
@click.option("--root-key", metavar="FILE", help="Use this root key pair file (no keyring needed) instead of a new key.")
@click.option("--profile", "profile", default="local", show_default=True, metavar="NAME",
              help="Profile of the mesh's root key (reused when it exists).")
@json_option
def init_cmd(out: str | None, root_key: str | None, profile: str, as_json: bool) -> None:
    """Make a local mesh: profile and root key, admin identity (bound, authority.admin), the
    servers' folders, and config.toml pointing at them."""
    from .setup import init

    r = init(out, root_key=root_key, profile=profile)

    def render(r: dict[str, Any]) -> None:
        prof = r["profile"]
        print_fields([("folder", r["dir"]),
                      ("profile", f"{prof['name']} ({'made' if prof['created'] else 'reused'}; key: {prof['key']})"),
                      ("root public key", prof["root_pubkey"]),
                      ("admin identity", f"{r['admin']['identity']} (endpoint {r['admin']['endpoint_id']}, "
                                         f"{', '.join(r['admin']['roles'])}, expires {r['admin']['expires']})"),
                      ("authority", r["servers"]["authority"]["db"]), ("registry", r["servers"]["registry"]["db"])])
        click.echo("Next: `aster local up` (runs both; Ctrl-C stops them), then `aster local status`.")

    emit(r, as_json, render)


@local.command("up")
@_DIR
@click.option("--max-lifetime", type=float, hidden=True)
def up_cmd(dir_: str | None, max_lifetime: float | None) -> None:
    """Run the authority and the registry in the foreground, one combined log; their addresses
    go into config.toml once both answer. Ctrl-C stops both; if one stops, so does the other."""
    from .layout import chosen
    from .run import up

    raise SystemExit(up(chosen(dir_), max_lifetime=max_lifetime))


@local.command("status")
@_DIR
@json_option
def status_cmd(dir_: str | None, as_json: bool) -> None:
    """What the local mesh is made of and whether each server answers."""
    from .layout import chosen
    from .status import status

    def render(r: dict[str, Any]) -> None:
        print_fields([("folder", r["dir"]), ("profile", r["profile"]), ("admin identity", r["admin_identity"])])
        for name, s in r["servers"].items():  # one line each: a ticket is too long for a table cell
            answers = "answers" + (" (admin)" if s.get("admin") else "") if s["answers"] else f"NOT answering: {s['problem']}"
            click.echo(f"{name:<10} {answers}" + (f"  at {s['address']}" if s["address"] else ""))

    emit(status(chosen(dir_)), as_json, render)
