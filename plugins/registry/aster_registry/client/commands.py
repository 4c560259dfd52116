"""The registry client commands: parse with click, call :mod:`.actions`, render with ``emit``.

``join``, ``verify``, ``whoami``/``status``, ``recover``, ``publish``, ``unpublish``,
``update-service``, ``visibility``, ``discover`` and the ``access`` group. Every command
takes ``--registry ADDR`` (``--aster``, the 0.1.2 spelling, too), ``--timeout`` and, where
it prints data, ``--json``. Nothing heavy is imported before the arguments are parsed.
"""

from __future__ import annotations

from typing import Any, Callable, NoReturn

import click

from aster_core.errors import UsageError
from aster_core.output import emit, json_option

DEFAULT_TIMEOUT = 15.0


def _registry_options(func: Callable) -> Callable:
    func = click.option("--timeout", type=float, default=DEFAULT_TIMEOUT, show_default=True,
                        help="Seconds the whole command may take.")(func)
    func = click.option("--root-key", "root_key", metavar="FILE", default=None,
                        help="Root key pair file to sign with (default: the profile's keyring key).")(func)
    func = click.option("--registry", "--aster", "registry", metavar="ADDR", default=None,
                        help="Registry address (default: ASTER_SERVICE_ADDR, then [aster_service] node_id).")(func)
    return func


def _ctx(registry: str | None, root_key: str | None, timeout: float, *, ends_process: bool = False) -> Any:
    """The actions' context; ``ends_process`` for a command that only prints what it read and
    then ends with :func:`_print_and_exit`."""
    from .actions import Context

    if not (0 < timeout <= 3600):
        raise UsageError(f"--timeout {timeout:g} is not a number of seconds from 0 to 3600", "e.g. --timeout 15")
    return Context(registry, root_key=root_key, timeout=timeout, ends_process=ends_process)


def _print_and_exit(data: Any, as_json: bool, render: Callable[[Any], None]) -> NoReturn:
    """Print a read-only command's result and end the process at once (its session closed for it)."""
    from aster_connect.client import exit_now

    emit(data, as_json, render)
    exit_now(0)


def _seconds(text: str, flag: str) -> int:
    from aster_core.durations import parse_duration

    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        return int(parse_duration(text).total_seconds())
    except UsageError as exc:
        raise UsageError(f"{flag}: {exc.message}", "e.g. 300, 5m or 1h") from None


# ── identity ──────────────────────────────────────────────────────────────────


@click.command("join")
@click.option("--handle", default=None, help="The handle to claim (3-39 of a-z, 0-9, '-').")
@click.option("--email", default=None, help="Where the verification code is mailed.")
@_registry_options
@json_option
def join(handle: str | None, email: str | None, registry: str | None, root_key: str | None, timeout: float,
         as_json: bool) -> None:
    """Claim a handle on the registry; a 6-digit code is mailed to you (finish with `aster verify`)."""
    handle = handle or (click.prompt("Handle") if _interactive() else None)
    email = email or (click.prompt("Email") if _interactive() else None)
    if not handle or not email:
        raise UsageError("join needs --handle and --email", "e.g. aster join --handle alice --email alice@example.com")
    from .actions import join as run

    data = run(_ctx(registry, root_key, timeout), handle, email)
    emit(data, as_json, lambda d: click.echo(f"Reserved @{d['handle']}. A verification code was sent to "
                                             f"{d['email']}.\nFinish with: aster verify CODE"))


def _interactive() -> bool:
    import sys

    return sys.stdin.isatty()


@click.command("verify")
@click.argument("code", required=False)
@click.option("--code", "code_opt", default=None, metavar="CODE", help="The 6-digit code from the mail.")
@click.option("--resend", is_flag=True, help="Mail a new code instead.")
@_registry_options
@json_option
def verify(code: str | None, code_opt: str | None, resend: bool, registry: str | None, root_key: str | None,
           timeout: float, as_json: bool) -> None:
    """Finish registration with the mailed code (or --resend it)."""
    from . import actions

    if code and code_opt and code != code_opt:
        raise UsageError("two different codes given", "give the code once: aster verify CODE")
    code = code or code_opt
    ctx = _ctx(registry, root_key, timeout)
    if resend:
        if code:
            raise UsageError("--resend takes no code", "run aster verify --resend, then aster verify CODE")
        data = actions.resend(ctx)
        emit(data, as_json, lambda d: click.echo(f"A new code for @{d['handle']} is on its way."))
        return
    if not code:
        if not _interactive():
            raise UsageError("no verification code given", "aster verify CODE (the 6 digits from the mail)")
        code = click.prompt("Verification code")
    data = actions.verify(ctx, code)
    emit(data, as_json, lambda d: click.echo(f"Handle @{d['handle']} verified."))


def _render_status(d: dict[str, Any]) -> None:
    local = d["local"]
    lines = [("Profile", local["profile"]), ("Handle", f"@{local['handle']}" if local["handle"] else "(none)"),
             ("Handle status", local["handle_status"]), ("Email", local["email"] or "(none)"),
             ("Root pubkey", local["root_pubkey"]),
             ("Published services", ", ".join(local["published_services"]) or "(none)")]
    remote = d.get("remote")
    if remote is not None:
        lines += [("Registry", d["registry"][:48] + "..."), ("Remote status", remote.get("status") or "unregistered"),
                  ("Remote email", remote.get("email_masked") or ""),
                  ("Registered at", remote.get("registered_at") or ""),
                  ("Services published", remote.get("services_published")),
                  ("Recovery codes remaining", remote.get("recovery_codes_remaining"))]
        if not remote.get("handle"):
            lines.append(("Note", "the registry knows no handle for this root key"))
    from aster_core.output import print_fields

    print_fields(lines)


def _status_command(name: str) -> click.Command:
    @click.command(name)
    @click.option("--local", is_flag=True, help="Show the local state only (no registry call).")
    @_registry_options
    @json_option
    def command(local: bool, registry: str | None, root_key: str | None, timeout: float, as_json: bool) -> None:
        """Who you are on the registry: local profile state and the registry's view of your key."""
        from .actions import status

        emit(status(_ctx(registry, root_key, timeout), local=local), as_json, _render_status)

    return command


whoami = _status_command("whoami")
status = _status_command("status")


@click.command("recover")
@click.argument("handle")
@click.option("--code", "code", required=True, metavar="CODE", help="One of the recovery codes of your first publish.")
@_registry_options
@json_option
def recover(handle: str, code: str, registry: str | None, root_key: str | None, timeout: float,
            as_json: bool) -> None:
    """Bind HANDLE to this profile's root key with a recovery code (after losing the old key)."""
    from .actions import recover as run

    data = run(_ctx(registry, root_key, timeout), handle, code)
    emit(data, as_json, lambda d: click.echo(f"@{d['handle']} now belongs to root key {d['root_pubkey'][:16]}... "
                                             f"({d['recovery_codes_remaining']} recovery code(s) left)."))


# ── publication ───────────────────────────────────────────────────────────────


def _delegation_options(func: Callable) -> Callable:
    func = click.option("--role", "roles", multiple=True, metavar="ROLE",
                        help="Role delegated tokens carry (repeatable; default consumer).")(func)
    func = click.option("--rate-limit", default=None, metavar="N/PERIOD", help="Token issuance limit, e.g. 5/1h.")(func)
    func = click.option("--token-ttl", default="5m", show_default=True, help="Lifetime of delegated tokens (1m-24h).")(func)
    return func


@click.command("publish")
@click.argument("target", metavar="SERVICE|MODULE:CLASS")
@click.option("--description", default="", help="What the service does (required, at most 280 characters).")
@click.option("--status", "status_", type=click.Choice(["experimental", "stable", "deprecated"]),
              default="experimental", show_default=True, help="Lifecycle status.")
@click.option("--public", "visibility", flag_value="public", default=None, help="Listed by discover.")
@click.option("--private", "visibility", flag_value="private", help="Hidden from discover, still resolvable.")
@click.option("--closed", is_flag=True, help="Only explicitly granted consumers get tokens.")
@click.option("--open", "open_", is_flag=True, help="Any verified handle gets a token (the default).")
@_delegation_options
@click.option("--manifest", "manifest_path", default=".aster/manifest.json", show_default=True,
              help="Manifest holding SERVICE (not needed for MODULE:CLASS).")
@click.option("--identity", "identity", metavar="FILE", default=None,
              help="Producer .aster-identity that receives the token (default ./.aster-identity).")
@click.option("--peer", default=None, help="Producer peer in it (default: the first producer).")
@click.option("--endpoint-id", default=None, help="Endpoint id to publish (default: [node] endpoint_id).")
@click.option("--endpoint-addr", "direct_addrs", multiple=True, metavar="HOST:PORT",
              help="A direct address of the endpoint (repeatable).")
@click.option("--relay", default="", help="Relay URL of the endpoint.")
@click.option("--endpoint-ttl", default="5m", show_default=True, help="How long the published endpoint counts as live.")
@_registry_options
@json_option
def publish(target: str, description: str, status_: str, visibility: str | None, closed: bool, open_: bool,
            token_ttl: str, rate_limit: str | None, roles: tuple[str, ...], manifest_path: str, identity: str | None,
            peer: str | None, endpoint_id: str | None, direct_addrs: tuple[str, ...], relay: str,
            endpoint_ttl: str, registry: str | None, root_key: str | None, timeout: float, as_json: bool) -> None:
    """Publish a service under your verified handle; the producer token goes into .aster-identity.

    A producer started where that file is registers its live endpoints with the registry
    (every 225 s), so `aster call @HANDLE/SERVICE.method` finds it.
    """
    if closed and open_:
        raise UsageError("--open and --closed contradict each other", "give one of them")
    from .actions import publish as run

    data = run(_ctx(registry, root_key, timeout), target, description=description, status=status_,
               visibility=visibility, closed=closed, token_ttl=_seconds(token_ttl, "--token-ttl"),
               rate_limit=rate_limit, roles=roles, relay=relay, endpoint_ttl=_seconds(endpoint_ttl, "--endpoint-ttl"),
               endpoint_id=endpoint_id, direct_addrs=direct_addrs, identity=identity, peer=peer,
               manifest_path=manifest_path)

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
@click.option("--identity", "identity", metavar="FILE", default=None, help="The .aster-identity holding the token.")
@_registry_options
@json_option
def unpublish(service: str, identity: str | None, registry: str | None, root_key: str | None, timeout: float,
              as_json: bool) -> None:
    """Withdraw SERVICE from the registry and forget its producer token."""
    from .actions import unpublish as run

    data = run(_ctx(registry, root_key, timeout), service, identity=identity)
    emit(data, as_json, lambda d: click.echo(f"Unpublished @{d['handle']}/{d['service']}."
                                             + (" Removed the stored producer token." if d["token_removed"] else "")))


@click.command("visibility")
@click.argument("service")
@click.argument("visibility", type=click.Choice(["public", "private"]))
@_registry_options
@json_option
def visibility(service: str, visibility: str, registry: str | None, root_key: str | None, timeout: float,
               as_json: bool) -> None:
    """Make SERVICE public (listed by discover) or private (resolvable only)."""
    from .actions import set_visibility

    data = set_visibility(_ctx(registry, root_key, timeout), service, visibility)
    emit(data, as_json, lambda d: click.echo(f"Set @{d['handle']}/{d['service']} visibility to {d['visibility']}."))


@click.command("update-service")
@click.argument("service")
@click.option("--description", default=None, help="New description ('' clears it).")
@click.option("--status", "status_", type=click.Choice(["experimental", "stable", "deprecated"]), default=None)
@click.option("--replacement", default=None, metavar="@HANDLE/SERVICE", help="The service that replaces this one.")
@_registry_options
@json_option
def update_service(service: str, description: str | None, status_: str | None, replacement: str | None,
                   registry: str | None, root_key: str | None, timeout: float, as_json: bool) -> None:
    """Change a published service's description, status or replacement."""
    from .actions import update_service as run

    data = run(_ctx(registry, root_key, timeout), service, description=description, status=status_,
               replacement=replacement)
    emit(data, as_json, lambda d: click.echo(f"Updated @{d['handle']}/{d['service']}."))


@click.command("discover")
@click.argument("query", required=False, default="")
@click.option("--limit", type=int, default=20, show_default=True, help="At most this many results (1-100).")
@click.option("--offset", type=int, default=0, show_default=True, help="Skip this many results.")
@_registry_options
@json_option
def discover(query: str, limit: int, offset: int, registry: str | None, root_key: str | None, timeout: float,
             as_json: bool) -> None:
    """Search published services (words, a service name, or @handle for one handle's services)."""
    from .actions import discover as run

    data = run(_ctx(registry, root_key, timeout, ends_process=True), query, limit=limit, offset=offset)

    def render(d: dict[str, Any]) -> None:
        click.echo(f"Found {d['total']} service(s).")
        for s in d["services"]:
            click.echo(f"  @{s['handle']}/{s['service_name']} [v{s['version']}] {s['status'] or 'unknown'} "
                       f"{s['visibility'] or 'public'} {s['delegation_mode'] or 'open'} "
                       f"({s['endpoint_count']} live endpoint(s))")
            if s["description"]:
                click.echo(f"    {s['description']}")

    _print_and_exit(data, as_json, render)


# ── access ────────────────────────────────────────────────────────────────────


@click.group("access")
def access() -> None:
    """Who may use your published services: grants, delegation, visibility."""


def _service_and_consumer(args: tuple[str, ...], service: str | None, verb: str) -> tuple[str, str]:
    """Both spellings: ``@alice --service S`` (the seed's) and ``S alice`` (aster-cli 0.1.2's)."""
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
@_registry_options
@json_option
def grant(args: tuple[str, ...], service: str | None, role: str, scope: str, scope_node_id: str | None,
          registry: str | None, root_key: str | None, timeout: float, as_json: bool) -> None:
    """Grant a consumer handle access to a service."""
    from .actions import grant as run

    svc, consumer = _service_and_consumer(args, service, "grant")
    data = run(_ctx(registry, root_key, timeout), svc, consumer, role=role, scope=scope, scope_node_id=scope_node_id)
    emit(data, as_json, lambda d: click.echo(f"Granted {d['role']} access to @{d['consumer_handle']} for "
                                             f"{d['service']} ({d['scope']})."))


@access.command("revoke")
@click.argument("args", nargs=-1, metavar="@CONSUMER --service S | S CONSUMER")
@click.option("--service", default=None, help="The published service.")
@_registry_options
@json_option
def revoke(args: tuple[str, ...], service: str | None, registry: str | None, root_key: str | None, timeout: float,
           as_json: bool) -> None:
    """Revoke a consumer's grant (exit 4 when there was none)."""
    from .actions import revoke as run

    svc, consumer = _service_and_consumer(args, service, "revoke")
    data = run(_ctx(registry, root_key, timeout), svc, consumer)
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
@_registry_options
@json_option
def list_(service_arg: str | None, service: str | None, registry: str | None, root_key: str | None,
          timeout: float, as_json: bool) -> None:
    """The grants of a service."""
    from .actions import list_access

    data = list_access(_ctx(registry, root_key, timeout, ends_process=True),
                       _one_service(service_arg, service, "list"))

    def render(d: dict[str, Any]) -> None:
        from aster_core.output import print_table

        print_table(["consumer", "role", "scope", "granted at"],
                    [(f"@{g['consumer_handle']}", g["role"] or "consumer", g["scope"] or "handle", g["granted_at"])
                     for g in d["grants"]], title=f"{d['service']}: {len(d['grants'])} grant(s)")

    _print_and_exit(data, as_json, render)


@access.command("delegation")
@click.argument("service_arg", required=False, metavar="[SERVICE]")
@click.option("--service", default=None, help="The published service.")
@click.option("--open", "open_", is_flag=True, help="Any verified handle gets a token.")
@click.option("--closed", is_flag=True, help="Only granted consumers get tokens.")
@_delegation_options
@_registry_options
@json_option
def delegation(service_arg: str | None, service: str | None, open_: bool, closed: bool, token_ttl: str,
               rate_limit: str | None, roles: tuple[str, ...], registry: str | None, root_key: str | None,
               timeout: float, as_json: bool) -> None:
    """Set how consumer tokens are issued for a service (open or closed)."""
    if open_ and closed:
        raise UsageError("--open and --closed contradict each other", "give one of them")
    from .actions import update_delegation

    data = update_delegation(_ctx(registry, root_key, timeout), _one_service(service_arg, service, "delegation"),
                             closed=closed, token_ttl=_seconds(token_ttl, "--token-ttl"), rate_limit=rate_limit,
                             roles=roles)
    emit(data, as_json, lambda d: click.echo(f"Updated {d['service']} delegation to {d['mode']}."))


def _visibility_command(value: str) -> click.Command:
    @click.command(value)
    @click.argument("service_arg", required=False, metavar="[SERVICE]")
    @click.option("--service", default=None, help="The published service.")
    @_registry_options
    @json_option
    def command(service_arg: str | None, service: str | None, registry: str | None, root_key: str | None,
                timeout: float, as_json: bool) -> None:
        from .actions import set_visibility

        data = set_visibility(_ctx(registry, root_key, timeout), _one_service(service_arg, service, value), value)
        emit(data, as_json, lambda d: click.echo(f"Set @{d['handle']}/{d['service']} visibility to {d['visibility']}."))

    command.help = ("List the service in discover." if value == "public"
                    else "Hide the service from discover (it stays resolvable).")
    return command


access.add_command(_visibility_command("public"))
access.add_command(_visibility_command("private"))
