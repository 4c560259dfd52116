"""`aster profile create|list|use|show|delete`."""

from __future__ import annotations

import sys
from typing import Any

import click

from .. import output, profiles
from ..errors import UsageError


@click.group()
def profile() -> None:
    """Manage operator profiles (one per mesh: dev, staging, prod).

    A profile's root public key is kept in ~/.aster/config.toml (ASTER_HOME
    overrides the home); its private key lives only in the OS keyring.
    """


@profile.command("create")
@click.argument("name")
@output.json_option
def create(name: str, as_json: bool) -> None:
    """Create profile NAME with a new root key pair (the first becomes active)."""
    result = profiles.create_profile(name)

    def render(r: dict[str, Any]) -> None:
        output.print_fields([("profile", r["name"]), ("root public key", r["root_pubkey"]),
                             ("created", r["created_at"]), ("private key", _where(r)),
                             ("active", "yes" if r["active"] else f"no (switch with `aster profile use {r['name']}`)")],
                            title=f"Created profile {r['name']}")

    output.emit(result, as_json, render)


def _where(r: dict[str, Any]) -> str:
    if r.get("plaintext_keyring"):
        return f"PLAINTEXT file keyring {r['keyring_backend']} ({r['keyring']})"
    return f"OS keyring {r['keyring_backend']} ({r['keyring']})"


@profile.command("list")
@output.json_option
def list_(as_json: bool) -> None:
    """List profiles; the active one is marked."""
    items = [p.as_dict() for p in profiles.list_profiles()]

    def render(rows: list[dict[str, Any]]) -> None:
        if not rows:
            output.info("No profiles yet. Create one with `aster profile create NAME`.")
            return
        output.print_table(["", "profile", "root public key", "created", "handle"],
                           [("*" if r["active"] else "", r["name"], r["root_pubkey"], r["created_at"],
                             r.get("handle") or "") for r in rows])

    output.emit(items, as_json, render)


@profile.command("use")
@click.argument("name")
def use(name: str) -> None:
    """Make NAME the active profile."""
    profiles.use_profile(name)
    output.info(f"Active profile: {name}")


@profile.command("show")
@click.argument("name", required=False)
@output.json_option
def show(name: str | None, as_json: bool) -> None:
    """Show a profile (default: the selected one). Never prints private material."""
    info = profiles.profile_details(profiles.selected_profile_name(name))
    output.emit(info, as_json, lambda d: output.print_fields(
        [(k.replace("_", " "), v) for k, v in d.items() if k != "name"], title=f"Profile {d['name']}"))


@profile.command("delete")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@output.json_option
def delete(name: str, yes: bool, as_json: bool) -> None:
    """Delete profile NAME and remove its root private key from the keyring."""
    profiles.get_profile(name)  # unknown profile: fail before asking
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError(f"refusing to delete profile {name!r} without confirmation",
                             "pass --yes to delete it non-interactively")
        click.confirm(f"Delete profile {name!r} and its root private key? This cannot be undone", abort=True)
    result = profiles.delete_profile(name)
    output.emit(result, as_json, lambda r: output.info(
        f"Deleted profile {r['name']}" + ("" if r["keyring_entry_removed"] else " (no key was in the keyring)")))
