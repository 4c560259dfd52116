"""``aster join``, ``verify``, ``whoami``/``status`` and ``recover``: the handle's commands."""

from __future__ import annotations

from typing import Any

import click

from aster_core.errors import UsageError
from aster_core.output import emit, json_option

from .options import command_context, demo_option, interactive, registry_options


@click.command("join")
@click.option("--handle", default=None, help="The handle to claim (3-39 of a-z, 0-9, '-').")
@click.option("--email", default=None, help="Where the verification code is mailed.")
@click.option("--announcements", is_flag=True, help="Opt into the registry operator's announcements.")
@demo_option
@registry_options
@json_option
def join(handle: str | None, email: str | None, announcements: bool, registry: str | None, root_key: str | None,
         timeout: float, as_json: bool) -> None:
    """Claim a handle on the registry; a 6-digit code is mailed to you (finish with `aster verify`)."""
    from aster_core.prompts import ask

    if interactive():
        handle = handle or ask("Handle", flag="--handle")
        email = email or ask("Email", flag="--email")
    if not handle or not email:
        raise UsageError("join needs --handle and --email", "e.g. aster join --handle alice --email alice@example.com")
    from .handles import join as run

    data = run(command_context(registry, root_key, timeout), handle, email, announcements=announcements)
    emit(data, as_json, lambda d: click.echo(f"Reserved @{d['handle']}. A verification code was sent to "
                                             f"{d['email']}.\nFinish within the hour with: aster verify CODE"))


@click.command("verify")
@click.argument("code", required=False)
@click.option("--code", "code_opt", default=None, metavar="CODE", help="The 6-digit code from the mail.")
@click.option("--resend", is_flag=True, help="Mail a new code instead.")
@demo_option
@registry_options
@json_option
def verify(code: str | None, code_opt: str | None, resend: bool, registry: str | None, root_key: str | None,
           timeout: float, as_json: bool) -> None:
    """Finish registration with the mailed code (or --resend it)."""
    from . import handles

    if code and code_opt and code != code_opt:
        raise UsageError("two different codes given", "give the code once: aster verify CODE")
    code = code or code_opt
    ctx = command_context(registry, root_key, timeout)
    if resend:
        if code:
            raise UsageError("--resend takes no code", "run aster verify --resend, then aster verify CODE")
        data = handles.resend(ctx)
        emit(data, as_json, lambda d: click.echo(f"A new code for @{d['handle']} is on its way."))
        return
    if not code:
        if not interactive():
            raise UsageError("no verification code given", "aster verify CODE (the 6 digits from the mail)")
        from aster_core.prompts import ask

        code = ask("Verification code", flag="CODE")
    data = handles.verify(ctx, code)
    emit(data, as_json, lambda d: click.echo(f"Handle @{d['handle']} verified."))


def _render_status(d: dict[str, Any]) -> None:
    local = d["local"]
    lines = [("Profile", local["profile"] or "(none: signed with --root-key FILE)"), ("Handle", f"@{local['handle']}" if local["handle"] else "(none)"),
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
    @registry_options
    @json_option
    def command(local: bool, registry: str | None, root_key: str | None, timeout: float, as_json: bool) -> None:
        """Who you are on the registry: local profile state and the registry's view of your key."""
        from .handles import status

        emit(status(command_context(registry, root_key, timeout), local=local), as_json, _render_status)

    return command


whoami = _status_command("whoami")
status = _status_command("status")


@click.command("recover")
@click.argument("handle")
@click.option("--code", "code", required=True, metavar="CODE", help="One of the recovery codes of your first publish.")
@registry_options
@json_option
def recover(handle: str, code: str, registry: str | None, root_key: str | None, timeout: float,
            as_json: bool) -> None:
    """Bind HANDLE to this profile's root key with a recovery code (after losing the old key)."""
    from .handles import recover as run

    data = run(command_context(registry, root_key, timeout), handle, code)
    emit(data, as_json, lambda d: click.echo(f"@{d['handle']} now belongs to root key {d['root_pubkey'][:16]}... "
                                             f"({d['recovery_codes_remaining']} recovery code(s) left)."))
