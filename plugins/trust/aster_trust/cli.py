"""``aster trust``: keygen, sign, inspect, verify. Parses flags, calls :mod:`aster_trust.actions`, renders.

Exit codes: 0 ok; 1 the operation failed (a credential that does not verify, an unwritable
path); 2 bad input (malformed key or credential, bad hex, bad ``--attr`` or expiry, a file
that exists without ``--force``); 4 a named file, profile or keyring entry does not exist;
6 no usable keyring.
"""

from __future__ import annotations

from typing import Any

import click

from aster_core.completions import complete_profile
from aster_core.errors import AsterError, UsageError
from aster_core.output import emit, json_option, print_fields

from . import actions

_FORCE = click.option("--force", is_flag=True, help="Replace the output file if it exists.")
_ROOT_KEY = click.option("--root-key", "root_key", metavar="FILE",
                         help="Root key pair file. Default: the profile's key in the OS keyring.")
_PROFILE = click.option("--profile", metavar="NAME", shell_complete=complete_profile,
                        help="Profile whose root key signs (keyring, or its key file). Default: active profile.")
_EXPIRES = click.option("--expires", default=actions.DEFAULT_EXPIRY, show_default=True, metavar="DURATION",
                        help="30d, 24h, 90m, 45s or an ISO 8601 time (UTC when no zone is given).")
_ATTR = click.option("--attr", "attrs", multiple=True, metavar="KEY=VALUE", help="Attribute to sign; repeatable.")
#: the released 0.1.2 CLI's default output of the flat ``trust sign``
FLAT_SIGN_OUT = ".aster/credential.json"
_OUT = click.option("--out", metavar="PATH", help="Write the credential here (mode 0600). Default: print it.")


@click.group()
def trust() -> None:
    """Root keys and signed enrollment credentials. Works offline."""


@trust.group(invoke_without_command=True)
@click.option("--out-key", metavar="PATH",
              help="Write a new key pair to PATH and its public key beside it (default: <home>/root.key and root.pub).")
@_FORCE
@json_option
@click.pass_context
def keygen(ctx: click.Context, out_key: str | None, force: bool, as_json: bool) -> None:
    """Generate an ed25519 root key pair (keygen root) or extract its public key (keygen pubkey)."""
    if ctx.invoked_subcommand is not None:
        if out_key:
            raise UsageError("--out-key is a form of its own", "use either `keygen --out-key PATH` or `keygen root --out FILE`")
        return
    if not out_key:  # the released 0.1.2 CLI's default
        out_key = actions.home_file("root.key")
    actions.made_parent(out_key)  # as 0.1.2 did for this form
    emit(actions.keygen_pair(out_key, force=force), as_json, _render_keys)


@keygen.command("root")
@click.option("--out", required=True, metavar="FILE", help="Key pair file to create (JSON, mode 0600).")
@_FORCE
@json_option
def keygen_root(out: str, force: bool, as_json: bool) -> None:
    """Create a root key pair file. An existing file is never replaced without --force."""
    emit(actions.keygen_root(out, force=force), as_json, _render_keys)


@keygen.command("pubkey")
@click.option("--in", "key_file", metavar="FILE", help="Root key pair file. Default: the profile's public key.")
@click.option("--profile", metavar="NAME", help="Without --in: the profile whose public key to write (default: active).")
@click.option("--out", required=True, metavar="FILE", help="Public key file to create (64 hex).")
@_FORCE
@json_option
def keygen_pubkey(key_file: str | None, profile: str | None, out: str, force: bool, as_json: bool) -> None:
    """Write the bare-hex public key of a root key pair or profile (what servers trust)."""
    emit(actions.keygen_pubkey(key_file, out, profile=profile, force=force), as_json, _render_keys)


def _render_keys(data: dict[str, Any]) -> None:
    if "key_file" in data:
        click.echo(f"Private key: {data['key_file']}  (keep it offline; mode 0600)")
    if "public_key_file" in data:
        click.echo(f"Public key:  {data['public_key_file']}")
    click.echo(f"Root public key: {data['public_key']}")


@trust.group(invoke_without_command=True)
@click.option("--type", "flat_type", type=click.Choice(["producer", "policy", "ott"]), default=None,
              help="0.1.2 flat form: the credential type (default producer).")
@click.option("--root-key", "flat_root_key", metavar="PATH", help="0.1.2 flat form: the root key pair file.")
@click.option("--endpoint-id", "flat_endpoint_id", metavar="HEX", help="0.1.2 flat form: bind to this endpoint.")
@click.option("--attributes", "flat_attributes", metavar="JSON", help="0.1.2 flat form: attributes as a JSON object.")
@click.option("--expires", "flat_expires", metavar="WHEN", help="0.1.2 flat form: ISO 8601 or a duration (default 30d).")
@click.option("--out", "flat_out", metavar="PATH", help=f"0.1.2 flat form: the file to create (default {FLAT_SIGN_OUT}).")
@_FORCE
@json_option
@click.pass_context
def sign(ctx: click.Context, flat_type: str | None, flat_root_key: str | None, flat_endpoint_id: str | None,
         flat_attributes: str | None, flat_expires: str | None, flat_out: str | None, force: bool,
         as_json: bool) -> None:
    """Sign enrollment credentials with the root key.

    \b
    The released 0.1.2 CLI's flat form works too (written to a file):
      aster trust sign --root-key root.key --type producer --endpoint-id HEX --out producer.cred
    """
    flat = (flat_type, flat_root_key, flat_endpoint_id, flat_attributes, flat_expires, flat_out)
    if ctx.invoked_subcommand is not None:
        if any(value is not None for value in flat) or force or as_json:
            raise UsageError("the 0.1.2 flat form's flags go without a subcommand",
                             "use `trust sign consumer|producer --flags`, or the flat form without a subcommand")
        return
    if all(value is None for value in flat):
        click.echo(ctx.get_help())
        return
    out = flat_out or FLAT_SIGN_OUT
    actions.made_parent(out)
    sign_flat(flat_type or "producer", root_key=flat_root_key, endpoint_id=flat_endpoint_id,
              attributes=flat_attributes, expires=flat_expires or actions.DEFAULT_EXPIRY, out=out, force=force,
              as_json=as_json)


def sign_flat(kind: str, *, root_key: str | None, endpoint_id: str | None, attributes: str | None, expires: str,
              out: str, force: bool, as_json: bool) -> None:
    """0.1.2's flat signing forms (``trust sign --type``, ``authorize``): ``--attributes`` JSON,
    the credential written to ``out``; the same work as ``sign consumer|producer``."""
    from .attributes import pairs_from_json

    attrs = pairs_from_json(attributes) if attributes is not None else []
    if kind == "producer" and not endpoint_id:
        raise UsageError("a producer credential needs --endpoint-id", "pass the producer node's 64-hex endpoint id")
    result = actions.sign(kind, root_key_file=root_key, expires=expires, attrs=attrs, endpoint_id=endpoint_id,
                          out=out, force=force)
    emit(result, as_json, render_signed)


@sign.command("consumer")
@_ROOT_KEY
@_PROFILE
@click.option("--type", "kind", type=click.Choice(["policy", "ott"]), default="policy", show_default=True,
              help="policy: reusable until it expires; ott: admitted once (carries a fresh nonce).")
@_EXPIRES
@_ATTR
@click.option("--endpoint-id", metavar="HEX", help="Bind the credential to this node's endpoint id.")
@_OUT
@_FORCE
@json_option
def sign_consumer(root_key: str | None, profile: str | None, kind: str, expires: str, attrs: tuple[str, ...],
                  endpoint_id: str | None, out: str | None, force: bool, as_json: bool) -> None:
    """Sign a consumer enrollment credential (grant roles with --attr aster.role=a,b)."""
    _sign(kind, root_key, profile, expires, attrs, endpoint_id, out, force, as_json)


@sign.command("producer")
@_ROOT_KEY
@_PROFILE
@click.option("--endpoint-id", required=True, metavar="HEX", help="The producer node's endpoint id.")
@_EXPIRES
@_ATTR
@_OUT
@_FORCE
@json_option
def sign_producer(root_key: str | None, profile: str | None, endpoint_id: str, expires: str,
                  attrs: tuple[str, ...], out: str | None, force: bool, as_json: bool) -> None:
    """Sign a producer (mesh) enrollment credential bound to one endpoint."""
    _sign("producer", root_key, profile, expires, attrs, endpoint_id, out, force, as_json)


def _sign(kind: str, root_key: str | None, profile: str | None, expires: str, attrs: tuple[str, ...],
          endpoint_id: str | None, out: str | None, force: bool, as_json: bool) -> None:
    result = actions.sign(kind, root_key_file=root_key, profile=profile, expires=expires, attrs=attrs,
                          endpoint_id=endpoint_id, out=out, force=force)
    if out is None and not as_json:
        from aster_core.output import print_json

        print_json(result["credential"])  # the credential itself is the data
        return
    emit(result, as_json, render_signed)


def render_signed(data: dict[str, Any]) -> None:
    # Plain lines, no table: this is the hot path of scripted signing, and rich costs ~20 ms to import.
    cred = data["credential"]
    click.echo(f"Wrote {cred['type']} credential to {data['file']}")
    click.echo(f"  bound to {cred.get('endpoint_id') or 'any endpoint'}; attributes {_attrs_text(cred['attributes'])}; "
               f"expires {data['expires']}")
    click.echo(f"  root {cred['root_pubkey']} (signed with {data['root_key']})")


def _attrs_text(attributes: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(attributes.items())) or "(none)"


_PEER = click.option("--peer", metavar="NAME", help="In an .aster-identity file: the [[peers]] entry to read.")


@trust.command("inspect")
@click.argument("file", type=click.Path(dir_okay=False))
@_PEER
@json_option
def inspect_cmd(file: str, peer: str | None, as_json: bool) -> None:
    """Show a credential (JSON file or .aster-identity peer) and whether its signature verifies."""
    emit(actions.inspect(file, peer=peer), as_json, _render_inspection)


@trust.command("verify")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--root-pubkey", required=True, metavar="FILE|HEX", help="The root public key the server trusts.")
@click.option("--endpoint-id", metavar="HEX", help="Also require the credential to admit this endpoint.")
@_PEER
@json_option
def verify_cmd(file: str, root_pubkey: str, endpoint_id: str | None, peer: str | None, as_json: bool) -> None:
    """Exit 0 only when the signature, the root key and the expiry (and binding) all hold."""
    result = actions.verify(file, root_pubkey, peer=peer, endpoint_id=endpoint_id)
    emit(result, as_json, _render_inspection)
    if not result["valid"]:
        raise AsterError("credential does not verify: " + "; ".join(result["problems"]),
                         "sign a new one with `aster trust sign` using the root key the server trusts")


def _render_inspection(data: dict[str, Any]) -> None:
    state = "valid" if data["valid"] else "NOT valid: " + "; ".join(data["problems"])
    binding = data["endpoint_id"] or "any endpoint"
    rows = [("file", data["file"] + (f" (peer {data['peer']})" if data.get("peer") else "")),
            ("type", data["type"]), ("root", data["root_pubkey"])]
    if data.get("root_trusted") is not None:
        rows.append(("trusted root", "yes" if data["root_trusted"] else f"no (expected {data['trusted_root']})"))
    rows += [("bound to", binding), ("roles", ",".join(data["roles"]) or "(none)"),
             ("attributes", _attrs_text(data["attributes"])),
             ("expires", data["expires"] + (" (expired)" if data["expired"] else "")),
             ("signature", "verifies" if data["signature_valid"] else "does NOT verify"), ("status", state)]
    if data["nonce"]:
        rows.insert(3, ("nonce", data["nonce"]))
    print_fields(rows)
