"""``aster access``: grants, delegation and visibility of your published services."""

from __future__ import annotations

from typing import Any

import click

from aster_core.errors import UsageError
from aster_core.output import emit, json_option

from .options import command_context, delegation_options, print_and_exit, registry_options, seconds


@click.group("access")
def access() -> None:
    """Who may use your published services: grants, delegation, visibility."""


def _service_and_consumer(args: tuple[str, ...], service: str | None, verb: str) -> tuple[str, str]:
    """Both spellings: ``@alice --service S`` (the documented one) and ``S alice`` (aster-cli 0.1.2's)."""
    if service is not None:
        if len(args) != 1:
            raise UsageError(f"access {verb} --service S takes one consumer handle",
                             f"e.g. aster access {verb} @alice --service {service}")
        return service, args[0]
    if len(args) != 2:
        raise UsageError(f"access {verb} needs a service and a consumer",
                         f"e.g. aster access {verb} @alice --service TaskService (or: {verb} TaskService alice)")
    return args[0], args[1]


@access.command("grant")
@click.argument("args", nargs=-1, metavar="@CONSUMER --service S | S CONSUMER")
@click.option("--service", default=None, help="The published service.")
@click.option("--role", default="consumer", show_default=True, help="Role the consumer gets.")
@click.option("--scope", type=click.Choice(["handle", "node"]), default="handle", show_default=True)
@click.option("--scope-node-id", default=None, help="With --scope node: the consumer node's endpoint id.")
@registry_options
@json_option
def grant(args: tuple[str, ...], service: str | None, role: str, scope: str, scope_node_id: str | None,
          registry: str | None, root_key: str | None, timeout: float, as_json: bool) -> None:
    """Grant a consumer handle access to a service."""
    from .access import grant as run

    svc, consumer = _service_and_consumer(args, service, "grant")
    data = run(command_context(registry, root_key, timeout), svc, consumer, role=role, scope=scope,
               scope_node_id=scope_node_id)
    emit(data, as_json, lambda d: click.echo(f"Granted {d['role']} access to @{d['consumer_handle']} for "
                                             f"{d['service']} ({d['scope']})."))


@access.command("revoke")
@click.argument("args", nargs=-1, metavar="@CONSUMER --service S | S CONSUMER")
@click.option("--service", default=None, help="The published service.")
@registry_options
@json_option
def revoke(args: tuple[str, ...], service: str | None, registry: str | None, root_key: str | None, timeout: float,
           as_json: bool) -> None:
    """Revoke a consumer's grant (exit 4 when there was none)."""
    from .access import revoke as run

    svc, consumer = _service_and_consumer(args, service, "revoke")
    data = run(command_context(registry, root_key, timeout), svc, consumer)
    emit(data, as_json, lambda d: click.echo(f"Revoked access for @{d['consumer_handle']} on {d['service']}."))


def _one_service(arg: str | None, service: str | None, verb: str) -> str:
    if arg and service and arg != service:
        raise UsageError("two different services given", f"give it once: aster access {verb} --service S")
    name = arg or service
    if not name:
        raise UsageError(f"access {verb} needs a service", f"e.g. aster access {verb} --service TaskService")
    return name


@access.command("list")
@click.argument("service_arg", required=False, metavar="[SERVICE]")
@click.option("--service", default=None, help="The published service.")
@registry_options
@json_option
def list_(service_arg: str | None, service: str | None, registry: str | None, root_key: str | None,
          timeout: float, as_json: bool) -> None:
    """The grants of a service."""
    from .access import list_access

    data = list_access(command_context(registry, root_key, timeout, ends_process=True),
                       _one_service(service_arg, service, "list"))

    def render(d: dict[str, Any]) -> None:
        from aster_core.output import print_table

        print_table(["consumer", "role", "scope", "granted at"],
                    [(f"@{g['consumer_handle']}", g["role"] or "consumer", g["scope"] or "handle", g["granted_at"])
                     for g in d["grants"]], title=f"{d['service']}: {len(d['grants'])} grant(s)")

    print_and_exit(data, as_json, render)


@access.command("delegation")
@click.argument("service_arg", required=False, metavar="[SERVICE]")
@click.option("--service", default=None, help="The published service.")
@click.option("--open", "open_", is_flag=True, help="Any verified handle gets a token.")
@click.option("--closed", is_flag=True, help="Only granted consumers get tokens.")
@delegation_options
@registry_options
@json_option
def delegation(service_arg: str | None, service: str | None, open_: bool, closed: bool, token_ttl: str,
               rate_limit: str | None, roles: tuple[str, ...], registry: str | None, root_key: str | None,
               timeout: float, as_json: bool) -> None:
    """Set how consumer tokens are issued for a service (open or closed)."""
    if open_ and closed:
        raise UsageError("--open and --closed contradict each other", "give one of them")
    from .access import update_delegation

    data = update_delegation(command_context(registry, root_key, timeout),
                             _one_service(service_arg, service, "delegation"),
                             closed=closed, token_ttl=seconds(token_ttl, "--token-ttl"), rate_limit=rate_limit,
                             roles=roles)
    emit(data, as_json, lambda d: click.echo(f"Updated {d['service']} delegation to {d['mode']}."))


def _visibility_command(value: str) -> click.Command:
    @click.command(value)
    @click.argument("service_arg", required=False, metavar="[SERVICE]")
    @click.option("--service", default=None, help="The published service.")
    @registry_options
    @json_option
    def command(service_arg: str | None, service: str | None, registry: str | None, root_key: str | None,
                timeout: float, as_json: bool) -> None:
        from .publication import set_visibility

        data = set_visibility(command_context(registry, root_key, timeout), _one_service(service_arg, service, value),
                              value)
        emit(data, as_json, lambda d: click.echo(f"Set @{d['handle']}/{d['service']} visibility to {d['visibility']}."))

    command.help = ("List the service in discover." if value == "public"
                    else "Hide the service from discover (it stays resolvable).")
    return command


access.add_command(_visibility_command("public"))
access.add_command(_visibility_command("private"))
