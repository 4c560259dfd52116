"""``aster publish``, ``unpublish``, ``visibility``, ``update-service`` and ``discover``."""

from __future__ import annotations

from typing import Any

import click

from aster_core.errors import UsageError
from aster_core.output import emit, json_option

from .options import (command_context, delegation_options, demo_option, one_line, print_and_exit, registry_options,
                      seconds)


@click.command("publish")
@click.argument("target", metavar="SERVICE|MODULE:CLASS")
@click.option("--description", default="", help="What the service does (required, at most 280 characters).")
@click.option("--status", "status_", type=click.Choice(["experimental", "stable", "deprecated"]),
              default="experimental", show_default=True, help="Lifecycle status.")
@click.option("--public", "visibility", flag_value="public", default=None, help="Listed by discover.")
@click.option("--private", "visibility", flag_value="private", help="Hidden from discover, still resolvable.")
@click.option("--closed", is_flag=True, help="Only explicitly granted consumers get tokens.")
@click.option("--open", "open_", is_flag=True, help="Any verified handle gets a token (the default).")
@delegation_options
@click.option("--manifest", "manifest_path", default=".aster/manifest.json", show_default=True,
              help="Manifest holding SERVICE (not needed for MODULE:CLASS).")
@click.option("--semver", default=None, metavar="VERSION",
              help="Semantic version recorded in the manifest computed for MODULE:CLASS.")
@click.option("--identity", "--identity-file", "identity", metavar="FILE", default=None,
              help="Producer .aster-identity that receives the token (default ./.aster-identity).")
@click.option("--peer", default=None, help="Producer peer in it (default: the first producer).")
@click.option("--endpoint-id", default=None, help="Endpoint id to publish (default: [node] endpoint_id).")
@click.option("--endpoint-addr", "direct_addrs", multiple=True, metavar="HOST:PORT",
              help="A direct address of the endpoint (repeatable).")
@click.option("--relay", default="", help="Relay URL of the endpoint.")
@demo_option
@click.option("--endpoint-ttl", default="5m", show_default=True, help="How long the published endpoint counts as live.")
@registry_options
@json_option
def publish(target: str, description: str, status_: str, visibility: str | None, closed: bool, open_: bool,
            token_ttl: str, rate_limit: str | None, roles: tuple[str, ...], manifest_path: str, semver: str | None,
            identity: str | None,
            peer: str | None, endpoint_id: str | None, direct_addrs: tuple[str, ...], relay: str,
            endpoint_ttl: str, registry: str | None, root_key: str | None, timeout: float, as_json: bool) -> None:
    """Publish a service under your verified handle; the producer token goes into .aster-identity.

    A producer started where that file is registers its live endpoints with the registry
    (every 225 s), so `aster call @HANDLE/SERVICE.method` finds it.
    """
    if closed and open_:
        raise UsageError("--open and --closed contradict each other", "give one of them")
    from .publication import publish as run

    data = run(command_context(registry, root_key, timeout), target, description=description, status=status_,
               visibility=visibility, closed=closed, token_ttl=seconds(token_ttl, "--token-ttl"),
               rate_limit=rate_limit, roles=roles, relay=relay, endpoint_ttl=seconds(endpoint_ttl, "--endpoint-ttl"),
               endpoint_id=endpoint_id, direct_addrs=direct_addrs, identity=identity, peer=peer,
               manifest_path=manifest_path, semver=semver)

    def render(d: dict[str, Any]) -> None:
        click.echo(f"Published {d['address']}.")
        click.echo(f"Stored producer token in {d['identity_file']} (peer {d['producer_peer']}).")
        if d["first_publish"]:
            if d["recovery_codes"]:
                click.echo("Recovery codes (shown once; keep them safe, `aster recover` uses one):")
                for c in d["recovery_codes"]:
                    click.echo(f"  {c}")
            else:
                click.echo("First publish complete.")

    emit(data, as_json, render)


@click.command("unpublish")
@click.argument("service")
@click.option("--identity", "--identity-file", "identity", metavar="FILE", default=None,
              help="The .aster-identity holding the token.")
@demo_option
@registry_options
@json_option
def unpublish(service: str, identity: str | None, registry: str | None, root_key: str | None, timeout: float,
              as_json: bool) -> None:
    """Withdraw SERVICE from the registry and forget its producer token."""
    from .publication import unpublish as run

    data = run(command_context(registry, root_key, timeout), service, identity=identity)
    emit(data, as_json, lambda d: click.echo(f"Unpublished @{d['handle']}/{d['service']}."
                                             + (" Removed the stored producer token." if d["token_removed"] else "")))


@click.command("visibility")
@click.argument("service")
@click.argument("visibility", type=click.Choice(["public", "private"]))
@registry_options
@json_option
def visibility(service: str, visibility: str, registry: str | None, root_key: str | None, timeout: float,
               as_json: bool) -> None:
    """Make SERVICE public (listed by discover) or private (resolvable only)."""
    from .publication import set_visibility

    data = set_visibility(command_context(registry, root_key, timeout), service, visibility)
    emit(data, as_json, lambda d: click.echo(f"Set @{d['handle']}/{d['service']} visibility to {d['visibility']}."))


@click.command("update-service")
@click.argument("service")
@click.option("--description", default=None, help="New description ('' clears it).")
@click.option("--status", "status_", type=click.Choice(["experimental", "stable", "deprecated"]), default=None)
@click.option("--replacement", default=None, metavar="@HANDLE/SERVICE", help="The service that replaces this one.")
@registry_options
@json_option
def update_service(service: str, description: str | None, status_: str | None, replacement: str | None,
                   registry: str | None, root_key: str | None, timeout: float, as_json: bool) -> None:
    """Change a published service's description, status or replacement."""
    from .publication import update_service as run

    data = run(command_context(registry, root_key, timeout), service, description=description, status=status_,
               replacement=replacement)
    emit(data, as_json, lambda d: click.echo(f"Updated @{d['handle']}/{d['service']}."))


@click.command("discover")
@click.argument("query", required=False, default="")
@click.option("--limit", type=int, default=20, show_default=True, help="At most this many results (1-100).")
@click.option("--offset", type=int, default=0, show_default=True, help="Skip this many results.")
@registry_options
@json_option
def discover(query: str, limit: int, offset: int, registry: str | None, root_key: str | None, timeout: float,
             as_json: bool) -> None:
    """Search published services (words, a service name, or @handle for one handle's services)."""
    from .publication import discover as run

    data = run(command_context(registry, root_key, timeout, ends_process=True), query, limit=limit, offset=offset)

    print_and_exit(data, as_json, lambda d: click.echo("\n".join(discover_lines(d))))


def discover_lines(d: dict[str, Any]) -> list[str]:
    """The lines ``discover`` prints: one per service (and its description), whatever a registry
    sent (a control character is shown escaped: rows stored before registries refused them, or a
    registry that does not, cannot forge lines)."""
    lines = [f"Found {d['total']} service(s)."]
    for s in d["services"]:
        v = {k: one_line(x) for k, x in s.items()}
        lines.append(f"  @{v['handle']}/{v['service_name']} [v{v['version']}] {v['status'] or 'unknown'} "
                     f"{v['visibility'] or 'public'} {v['delegation_mode'] or 'open'} "
                     f"({v['endpoint_count']} live endpoint(s))")
        if s["description"]:
            lines.append(f"    {v['description']}")
    return lines
