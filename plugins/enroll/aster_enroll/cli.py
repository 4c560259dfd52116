"""``aster enroll node``: parses flags, calls :func:`aster_enroll.enrollment.enroll_node`, renders.

Exit codes: 0 ok; 1 the file could not be written; 2 bad input (flags, key file, corrupt
``.aster-identity``); 4 no such profile, key file or keyring entry; 6 no usable keyring.
"""

from __future__ import annotations

import click

from aster_core.completions import complete_profile
from aster_core.errors import UsageError
from aster_core.output import emit, json_option, warn

from .enrollment import DEFAULT_EXPIRY, Enrollment, enroll_node


@click.group()
def enroll() -> None:
    """Enroll nodes into a mesh (node key + signed credential in .aster-identity)."""


@enroll.command("node")
@click.option("-r", "--role", required=True, type=click.Choice(["producer", "consumer"]), help="The node's role.")
@click.option("-n", "--name", metavar="NAME", help="Name of the [[peers]] entry (replaced if it exists). Default: the role.")
@click.option("-i", "--identity", metavar="PATH", help="Identity file to create or update. Default: ./.aster-identity.")
@click.option("-o", "--out", metavar="PATH", help="Same as --identity (the docs' walkthrough spelling).")
@click.option("-t", "--type", "kind", type=click.Choice(["policy", "ott"]), default="policy", show_default=True,
              help="Consumer credential type: policy (reusable) or ott (admitted once).")
@click.option("-c", "--capabilities", metavar="A,B", help="Roles to grant (signed as aster.role). Default: the role.")
@click.option("--attr", "attrs", multiple=True, metavar="KEY=VALUE", help="Extra attribute to sign; repeatable.")
@click.option("-a", "--attributes", metavar="K=V,K2=V2", help="Extra attributes, comma-separated (the 0.1.2 form of --attr).")
@click.option("-e", "--expires", default=DEFAULT_EXPIRY, show_default=True, metavar="DURATION",
              help="30d, 24h, 90m, 45s or an ISO 8601 time (UTC when no zone is given).")
@click.option("--root-key", "root_key", metavar="FILE", help="Root key pair file. Default: the profile's keyring key.")
@click.option("-p", "--profile", metavar="NAME", shell_complete=complete_profile,
              help="Profile whose root key signs (keyring, or its key file). Default: active profile.")
@click.option("--signer", type=click.Choice(["local"]), default="local", show_default=True,
              help="Who signs: local (the root key file or the profile's key; 0.1.2 had no other).")
@click.option("--force", is_flag=True, help="Also write into an existing file that is not an identity file.")
@click.option("-q", "--quiet", is_flag=True, help="Print only: <file> <endpoint_id> <expires>.")
@json_option
def node(role: str, name: str | None, identity: str | None, out: str | None, kind: str, capabilities: str | None,
         attrs: tuple[str, ...], attributes: str | None, expires: str, root_key: str | None, profile: str | None,
         signer: str, force: bool, quiet: bool, as_json: bool) -> None:
    """Generate or reuse this node's key, sign its enrollment and upsert it into .aster-identity."""
    if identity and out and identity != out:
        raise UsageError("--identity and --out name different files", "give only one of them")
    if attributes is not None:
        from aster_trust.attributes import pairs_from_commas

        attrs = (*attrs, *pairs_from_commas(attributes))
    result = enroll_node(role=role, name=name, identity_file=identity or out or ".aster-identity", kind=kind,
                         capabilities=capabilities, attrs=attrs, expires=expires, root_key_file=root_key,
                         profile=profile, force=force)
    if quiet and not as_json:
        click.echo(f"{result.identity_file} {result.endpoint_id} {result.expires}")
    else:
        emit(result.as_dict(), as_json, lambda _: _render(result))
    if result.role == "producer":
        warn(OPEN_GATE_WARNING)


#: The runtime (aster-rpc 0.1.2) takes the root key of a producer's identity entry but still
#: opens the consumer gate unless a root public key is configured: say so every time.
OPEN_GATE_WARNING = ("a server started with this identity alone runs OPEN-GATE (admits every consumer); "
                     "also set ASTER_ROOT_PUBKEY_FILE to the root's public key file")


def _render(result: Enrollment) -> None:
    action = "Updated" if result.replaced else "Added"
    click.echo(f"{action} peer {result.name!r} in {result.identity_file}"
               + (" (new node key)" if result.node_key_created else ""))
    extra = {k: v for k, v in result.attributes.items() if k != "aster.role"}
    rows = [
        ("file", result.identity_file),
        ("peer", result.name),
        ("role", f"{result.role} ({'mesh enrollment' if result.type == 'producer' else result.type})"),
        ("capabilities", ",".join(result.capabilities)),
        ("attributes", ", ".join(f"{k}={v}" for k, v in sorted(extra.items())) or "(none)"),
        ("endpoint id", result.endpoint_id),
        ("trust root", f"{result.root_pubkey}  (from {result.root_key})"),
        ("expires", result.expires),
    ]
    for key, value in rows:  # plain lines: rich costs ~20 ms to import, a fifth of this command's run time
        click.echo(f"  {key:<12}  {value}")
    click.echo("Use it:")
    if result.role == "consumer":
        click.echo(f"  aster call ADDRESS Service.method '{{...}}' --rcan {result.identity_file}")
        click.echo(f"  aster shell ADDRESS --rcan {result.identity_file}")
        if result.type == "ott":
            click.echo("  (a one-time token: the server admits it once)")
    else:
        click.echo(f"  ASTER_IDENTITY_FILE={result.identity_file} ASTER_ROOT_PUBKEY_FILE=<root .pub file> "
                   "python your_server.py")
        click.echo(f"  (or ASTER_ROOT_PUBKEY={result.root_pubkey})")
