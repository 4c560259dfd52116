"""`aster profile create|import|export-key|list|use|show|delete`."""

from __future__ import annotations

from typing import Any

import click

from .. import output, profiles
from ..completions import complete_profile
from ..errors import UsageError


@click.group()
def profile() -> None:
    """Manage operator profiles (one per mesh: dev, staging, prod).

    A profile's root public key is kept in ~/.aster/config.toml (ASTER_HOME
    overrides the home); its private key lives in the OS keyring. On a machine
    without a keyring, `aster profile import NAME --root-key FILE --key-file-only`
    makes a profile that uses the key file instead (each command using it says so),
    and every command that signs also takes --root-key FILE with no profile at all.
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


@profile.command("import")
@click.argument("name")
@click.option("--root-key", "root_key", required=True, metavar="FILE",
              help="Root key pair file (from `aster trust keygen root` or `aster profile export-key`).")
@click.option("--key-file-only", is_flag=True,
              help="Keep the key in FILE and refer to it (for machines without a keyring) instead of "
                   "copying it into the keyring. Every command using the profile says so.")
@output.json_option
def import_(name: str, root_key: str, key_file_only: bool, as_json: bool) -> None:
    """Create profile NAME from an existing root key pair file (the first profile becomes active)."""
    result = profiles.import_profile(name, root_key, key_file_only=key_file_only)

    def render(r: dict[str, Any]) -> None:
        output.print_fields([("profile", r["name"]), ("root public key", r["root_pubkey"]),
                             ("private key", _where(r)),
                             ("active", "yes" if r["active"] else f"no (switch with `aster profile use {r['name']}`)")],
                            title=f"Imported profile {r['name']}")

    output.emit(result, as_json, render)


@profile.command("export-key")
@click.argument("name", shell_complete=complete_profile)
@click.option("--out", required=True, metavar="FILE", help="The key pair file to write (0600; never replaced).")
@output.json_option
def export_key(name: str, out: str, as_json: bool) -> None:
    """Write profile NAME's root key pair to a new file FILE (mode 0600): a backup, or --root-key FILE."""
    from ..rootkey import export_key as export

    result = export(name, out)
    output.emit(result, as_json, lambda r: output.info(
        f"Wrote the root key of profile {r['name']} to {r['file']} (0600). Keep it as secret as the keyring."))


def _where(r: dict[str, Any]) -> str:
    if r.get("key_file"):
        return f"the key file {r['key_file']} (no keyring; every command using it says so)"
    if r.get("plaintext_keyring"):
        return f"PLAINTEXT file keyring {r['keyring_backend']} ({r['keyring']})"
    return f"OS keyring {r['keyring_backend']} ({r['keyring']})"


@profile.command("list")
@output.json_option
@output.wide_option
def list_(as_json: bool) -> None:
    """List profiles; the active one is marked."""
    items = [p.as_dict() for p in profiles.list_profiles()]

    def render(rows: list[dict[str, Any]]) -> None:
        if not rows:
            output.info("No profiles yet. Create one with `aster profile create NAME`.")
            return
        output.print_table(["", "profile", "root public key", "created", "handle"],
                           [("*" if r["active"] else "", r["name"], r["root_pubkey"], r["created_at"],
                             r.get("handle") or "") for r in rows],
                           ids=("profile", "root public key"), optional=("handle", "created"))

    output.emit(items, as_json, render)


@profile.command("use")
@click.argument("name", shell_complete=complete_profile)
def use(name: str) -> None:
    """Make NAME the active profile."""
    profiles.use_profile(name)
    output.info(f"Active profile: {name}")


@profile.command("show")
@click.argument("name", required=False, shell_complete=complete_profile)
@output.json_option
def show(name: str | None, as_json: bool) -> None:
    """Show a profile (default: the selected one). Never prints private material."""
    info = profiles.profile_details(profiles.selected_profile_name(name))
    output.emit(info, as_json, lambda d: output.print_fields(
        [(k.replace("_", " "), v) for k, v in d.items() if k != "name"], title=f"Profile {d['name']}"))


@profile.command("delete")
@click.argument("name", shell_complete=complete_profile)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@output.json_option
def delete(name: str, yes: bool, as_json: bool) -> None:
    """Delete profile NAME and remove its root private key from the keyring."""
    from ..prompts import confirm

    profiles.get_profile(name)  # unknown profile: fail before asking
    if not yes and not confirm(f"Delete profile {name!r} and its root private key? This cannot be undone",
                               action=f"delete profile {name!r}", as_json=as_json):
        raise UsageError(f"profile {name!r} was not deleted", "answer y to delete it, or pass --yes")
    result = profiles.delete_profile(name)
    output.emit(result, as_json, lambda r: output.info(f"Deleted profile {r['name']}" + _key_note(r)))


def _key_note(r: dict[str, Any]) -> str:
    if r.get("key_file"):
        return f" (its key file {r['key_file']} was left as it is)"
    return "" if r["keyring_entry_removed"] else " (no key was in the keyring)"
