"""The released aster-cli 0.1.2's spellings of this family's work: ``aster keygen root|producer``,
``aster authorize`` and the flat ``aster trust sign --type ...`` (see
docs/migrating-from-0.1.2.md). Each parses 0.1.2's flags and calls the same work functions as
``aster trust`` (:mod:`aster_trust.actions`); nothing here signs or writes by itself.

The top-level ``keygen`` and ``authorize`` are contributed by :mod:`aster_trust.plugin` as
hidden commands: ``aster --help`` does not list them, ``aster keygen --help`` works.
"""

from __future__ import annotations

from typing import Any

import click

from aster_core.output import emit, info, json_option

from . import actions

#: 0.1.2's default output of ``authorize``
AUTHORIZE_OUT = "enrollment.token"
_FORCE = click.option("--force", is_flag=True, help="Replace the output file if it exists.")


@click.group("keygen")
def keygen() -> None:
    """Generate a profile's root key or a producer node key (the aster-cli 0.1.2 spelling).

    \b
    aster keygen root [--out FILE] [--profile NAME]   a profile's root key (made if missing) and its backup
    aster keygen producer [--out FILE]                a node key file (secret_key, node_id)
    The same work as `aster profile create` and `aster trust keygen root`.
    """


@keygen.command("root")
@click.option("--out", metavar="PATH", help="Backup key pair file to create (default: <home>/root.key).")
@click.option("-p", "--profile", metavar="NAME", help="Profile to create (default: the active one, else 'default').")
@json_option
def keygen_root(out: str | None, profile: str | None, as_json: bool) -> None:
    """A profile (made if missing) with its root key in the OS keyring, and a backup key file.

    Both files (PATH and its .pub) must be new. A profile that exists keeps its key and
    that key is written: no run replaces a key. Without a usable keyring only the files
    are written (pass them as --root-key).
    """
    out = out or actions.home_file("root.key")
    actions.made_parent(out)
    data = actions.keygen_profile_root(out, profile=profile)

    def render(d: dict[str, Any]) -> None:
        if d["profile"] and d["created"]:
            click.echo(f"Created profile {d['profile']!r}: root private key in the OS keyring ({d['keyring']})")
        elif d["profile"]:
            click.echo(f"Profile {d['profile']!r} already has a root key (kept; no new key): wrote its backup")
        else:
            info(f"no profile was made ({d['note']}); pass --root-key {d['key_file']} to commands that sign")
        click.echo(f"Private key: {d['key_file']}  (a backup: keep it offline; mode 0600)")
        click.echo(f"Public key:  {d['public_key_file']}")
        click.echo(f"Root public key: {d['public_key']}")

    emit(data, as_json, render)


@keygen.command("producer")
@click.option("--out", metavar="PATH", help="Node key file to create (default: <home>/node.key).")
@json_option
def keygen_producer(out: str | None, as_json: bool) -> None:
    """Write a producer node key (JSON: secret_key, node_id); the node id is computed offline."""
    out = out or actions.home_file("node.key")
    actions.made_parent(out)
    data = actions.keygen_node(out)

    def render(d: dict[str, Any]) -> None:
        click.echo(f"Node key: {d['key_file']}  (mode 0600)")
        click.echo(f"node_id: {d['node_id']}")
        click.echo(f"Sign its credential: aster trust sign producer --endpoint-id {d['node_id']} --out producer.cred")

    emit(data, as_json, render)


@click.command("authorize")
@click.option("--root-key", "root_key", required=True, metavar="PATH", help="Root key pair file.")
@click.option("--producer-id", required=True, metavar="NODE_ID", help="The producer's endpoint id (64 hex).")
@click.option("--attributes", metavar="JSON", help="""Attributes as a JSON object of strings, e.g. '{"team": "a"}'.""")
@click.option("--expires", default=actions.DEFAULT_EXPIRY, show_default=True, metavar="WHEN",
              help="ISO 8601 (UTC when no zone is given) or a duration such as 30d.")
@click.option("--out", default=AUTHORIZE_OUT, show_default=True, metavar="PATH", help="Credential file to create.")
@_FORCE
@json_option
def authorize(root_key: str, producer_id: str, attributes: str | None, expires: str, out: str, force: bool,
              as_json: bool) -> None:
    """Sign a producer enrollment credential offline (the aster-cli 0.1.2 spelling).

    The same as `aster trust sign producer --root-key PATH --endpoint-id NODE_ID --out PATH`.
    """
    from .cli import sign_flat

    actions.made_parent(out)
    sign_flat("producer", root_key=root_key, endpoint_id=producer_id, attributes=attributes, expires=expires,
              out=out, force=force, as_json=as_json)
