"""``aster authority``: run the authority (``serve``, which needs ``aster-authority[server]``),
fetch a node's credentials, check the authority."""

from __future__ import annotations

import click

from aster_core.errors import AsterError
from aster_core.output import emit, json_option, print_fields

from .common import conn_options, ts
from .admins import admins
from .login import login_cmd, logout_cmd, whoami_cmd

#: what ``serve`` needs that only ``pip install 'aster-authority[server]'`` brings
SERVER_MODULES = ("aster_server.storage", "aster_server.lifecycle", "sqlalchemy", "alembic")


@click.group()
def authority() -> None:
    """Run the deployment authority, fetch a node's credentials, check the authority."""


authority.add_command(login_cmd)
authority.add_command(logout_cmd)
authority.add_command(whoami_cmd)
authority.add_command(admins)


@authority.command("serve")
@click.option("--db", metavar="URL", help="SQLite path or postgresql://... Default: $ASTER_HOME/servers/authority/authority.db.")
@click.option("--root-pubkey", metavar="FILE", help="The mesh root public key. Default: the profile's root_pubkey.")
@click.option("--identity", metavar="FILE", help="The server's node key file (made if missing): a stable address.")
@click.option("--profile", metavar="NAME", help="Profile whose root public key to trust.")
@click.option("--bind", "binds", multiple=True, metavar="HOST", help="Host to advertise in the ticket (repeatable).")
@click.option("--plan-ttl", metavar="DURATION", help="How long plans stay pending (default 7d).")
@click.option("--max-lifetime", type=float, hidden=True)
def serve_cmd(db, root_pubkey, identity, profile, binds, plan_ttl, max_lifetime) -> None:
    """Run the authority (prints one JSON ready line with its address)."""
    require_server()
    from aster_core.durations import parse_duration

    from aster_server.lifecycle import parse_bind
    from aster_trust.keys import load_public_key, profile_public_key

    from ..server.app import serve

    key = load_public_key(root_pubkey) if root_pubkey else profile_public_key(profile)
    ttl = int(parse_duration(plan_ttl).total_seconds()) if plan_ttl else None
    raise SystemExit(serve(db=db, root_pubkey=key, identity=identity, advertise=parse_bind(binds),
                           max_lifetime=max_lifetime, plan_ttl=ttl))


def require_server() -> None:
    """Refuse in one line when the server's dependencies (the ``server`` extra) are not installed."""
    import importlib

    for name in SERVER_MODULES:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            missing = getattr(exc, "name", None) or name
            raise AsterError(f"`aster authority serve` needs the authority server's dependencies ({missing} is not "
                             "installed)", "pip install 'aster-authority[server]'") from None


@authority.command("fetch")
@click.option("--identity", default=".aster-identity", show_default=True, metavar="FILE",
              help="The node's identity file: its key connects, its credentials are rewritten.")
@click.option("--authority", "authority_addr", metavar="ADDR",
              help="Default: the file's [authority] address, ASTER_AUTHORITY_ADDR, [authority] address.")
@json_option
def fetch_cmd(identity, authority_addr, as_json) -> None:
    """Fetch this node's current credentials and write them into its identity file."""
    from ..client.nodes import fetch

    r = fetch(authority_addr, identity)
    emit(r, as_json, lambda r: [click.echo(f"{'Updated' if w['replaced'] else 'Added'} peer {w['peer']!r} "
                                           f"({w['subject']}, {w['deployment_id']}, roles {','.join(w['roles'])}, "
                                           f"expires {ts(w['expires_at'])}) in {r['identity_file']}")
                                for w in r["written"]])


@authority.command("status")
@conn_options
@json_option
def status_cmd(authority_addr, rcan, as_json) -> None:
    """Reach the authority and show what it says about itself and about us."""
    from ..client.nodes import status

    r = status(authority_addr, rcan)
    emit(r, as_json, lambda r: print_fields([
        ("address", r["address"][:40] + "..."), ("root", r["root_pubkey"]), ("caller", r["caller"]),
        ("admin", "yes" if r["admin"] else "no (no authority.admin role)"),
        ("database", f"{r['database']['dialect']} {r['database']['url']} "
                     f"({'reachable' if r['database']['reachable'] else 'UNREACHABLE'})")]))
