"""`aster contract`: thin click layer over the library modules of this package.

Exit codes: 0 ok; 1 ``verify`` found a mismatch, ``diff`` found a breaking
change, or an operation failed; 2 bad input (malformed or wrong-version file,
bad flag, a module that cannot be imported, a class that is no service, a
recursive type the runtime cannot handle); 3 a producer refused admission;
4 a named file, module, class or service does not exist; 7 a producer could
not be reached.
"""

from __future__ import annotations

import keyword
import math
import re
from pathlib import Path
from typing import Any

import click
from aster_core.errors import UsageError
from aster_core.output import console, emit, info, json_option, print_fields, print_table, progress, warn
from aster_core.text import shown, whole_match

DEFAULT_MANIFEST = ".aster/manifest.json"
_FORCE = click.option("--force", is_flag=True,
                      help="Replace what is at the output path even if this command did not write it.")


@click.group()
def contract() -> None:
    """Generate, verify, diff and export service contracts; generate typed clients."""


def _short(contract_id: str) -> str:
    return contract_id.removeprefix("blake3:")[:16]


@contract.command()
@click.option("--service", "services", multiple=True, metavar="MODULE:CLASS", required=True,
              help="The @service class to describe (repeatable: several services, one manifest array).")
@click.option("--out", default=DEFAULT_MANIFEST, show_default=True, type=click.Path(path_type=Path),
              help="Manifest file to write.")
@click.option("--semver", default=None, help="Semantic version recorded in the manifest.")
@_FORCE
@json_option
def gen(services: tuple[str, ...], out: Path, semver: str | None, force: bool, as_json: bool) -> None:
    """Write the contract manifest the server checks at startup (replacing only a manifest)."""
    from .manifest import build_manifests, check_manifest_target, write_manifests

    check_manifest_target(out, force)
    result = build_manifests(list(services), semver=semver)
    for message in result.warnings:
        warn(message)
    path = write_manifests(result.manifests, out)
    rows = [{"service": m["service"], "version": m["version"], "contract_id": m["contract_id"],
             "methods": m["method_count"], "scoped": m["scoped"]} for m in result.manifests]

    def render(data: dict[str, Any]) -> None:
        for row in data["services"]:
            click.echo(f"{row['service']} v{row['version']}: {row['methods']} methods, {row['scoped']}, "
                       f"contract {row['contract_id']}")
        info(f"wrote {data['path']}")

    emit({"path": str(path), "services": rows, "warnings": result.warnings}, as_json, render)


@contract.command()
@click.option("--manifest", "manifest_path", default=DEFAULT_MANIFEST, show_default=True,
              type=click.Path(path_type=Path), help="Manifest to export.")
@click.option("-o", "--out", "out_dir", default=".", show_default=True, type=click.Path(path_type=Path),
              help="Directory for <Service>.aster.json files (default: the current directory).")
@_FORCE
@json_option
def export(manifest_path: Path, out_dir: Path, force: bool, as_json: bool) -> None:
    """Export each service of a manifest to a portable .aster.json file (replacing only exports)."""
    from .export import write_exports

    def render(rows: list[dict[str, Any]]) -> None:
        for row in rows:
            click.echo(f"{row['service']} v{row['version']} -> {row['path']}")

    emit(write_exports(manifest_path, out_dir, force=force), as_json, render)


@contract.command(name="import")
@click.argument("file", type=click.Path(path_type=Path))
@json_option
def import_(file: Path, as_json: bool) -> None:
    """Validate an .aster.json export and store it under ~/.aster/contracts/."""
    from .store import import_contract

    stored = import_contract(file)
    emit(stored, as_json, lambda s: click.echo(
        f"{'replaced' if s['replaced'] else 'imported'} {s['service']} v{s['version']} "
        f"({_short(s['contract_id'])}) -> {s['path']}"))


@contract.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--manifest", "manifest_path", default=DEFAULT_MANIFEST, show_default=True,
              type=click.Path(path_type=Path), help="Local manifest to compare with.")
@json_option
@click.pass_context
def verify(ctx: click.Context, file: Path, manifest_path: Path, as_json: bool) -> None:
    """Check that an export matches the local manifest (exit 1 and what differs when not)."""
    from .export import verify_export

    result = verify_export(file, manifest_path)

    def render(r: dict[str, Any]) -> None:
        if r["match"]:
            click.echo(f"OK: {r['service']} v{r['version']} matches {manifest_path} "
                       f"(contract {_short(r['manifest_contract_id'])})")
        else:
            click.echo(f"MISMATCH: {r['service']} v{r['version']} differs from {manifest_path}")
            for line in r["differences"]:
                click.echo(f"  {line}")

    emit(result.as_dict(), as_json, render)
    if not result.ok:
        ctx.exit(1)


@contract.command()
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@json_option
@click.pass_context
def diff(ctx: click.Context, old: Path, new: Path, as_json: bool) -> None:
    """Compare two manifests or exports; exit 1 when a change breaks callers of OLD."""
    from .diff import diff_contracts
    from .export import load_contract_file

    result = diff_contracts(load_contract_file(old), load_contract_file(new))

    def render(data: dict[str, Any]) -> None:
        if not data["changes"]:
            click.echo("no changes")
            return
        print_table(["", "service", "method", "field", "change"],
                    [["compatible" if c["compatible"] else "BREAKING", c["service"], c["method"] or "",
                      c["field"] or "", c["detail"]] for c in data["changes"]])
        breaking = sum(1 for c in data["changes"] if not c["compatible"])
        click.echo(f"{len(data['changes'])} change(s), {breaking} breaking")

    emit(result.as_dict(), as_json, render)
    if result.breaking:
        ctx.exit(1)


@contract.command()
@click.option("--service", "services", multiple=True, metavar="MODULE:CLASS",
              help="Describe a service class (repeatable).")
@click.option("--manifest", "manifest_path", type=click.Path(path_type=Path),
              help="Describe the services of a manifest or export instead.")
@json_option
def preview(services: tuple[str, ...], manifest_path: Path | None, as_json: bool) -> None:
    """Show a service's messages and methods in a readable form."""
    from .preview import describe

    if bool(services) == bool(manifest_path):
        raise UsageError("pass either --service MODULE:CLASS or --manifest PATH", "see `aster contract preview --help`")
    if services:
        from .manifest import build_manifests

        manifests = build_manifests(list(services)).manifests
    else:
        from .export import load_contract_file

        manifests = load_contract_file(manifest_path)
    emit(describe(manifests), as_json, _render_preview)


def _render_preview(views: list[dict[str, Any]]) -> None:
    out = console()
    for view in views:
        print_fields([("version", view["version"]), ("scope", view["scoped"]),
                      ("serialization", ", ".join(view["serialization_modes"])),
                      ("contract", view["contract_id"])], title=view["service"])
        out.print("")
        print_table(["method", "pattern", "request", "response", "options"],
                    [[m["name"], m["pattern"], m["request"], m["response"], m["options"]] for m in view["methods"]])
        for message in view["messages"]:
            out.print("")
            out.print(f"[bold]{message['name']}[/bold]  ({message['kind']}, {message['wire_tag']})")
            for line in message["lines"]:
                out.print(f"    {line}", markup=False)
        out.print("")


_PKG = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TS_PKG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def _default_package(manifests: list[dict[str, Any]], lang: str) -> str:
    base = re.sub(r"(?<!^)(?=[A-Z])", "_", manifests[0]["service"]).lower()
    base = re.sub(r"[^0-9a-z_]", "_", base).strip("_") or "service"
    if base[0].isdigit():
        base = "_" + base
    return f"{base}_client" if lang == "python" else f"{base.replace('_', '-')}-client"


@contract.command(name="gen-client")
@click.argument("source")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output directory.")
@click.option("--package", default=None, help="Package name (default: from the first service).")
@click.option("--lang", type=click.Choice(["python", "typescript"]), default="python", show_default=True)
@click.option("--service", "service_name", default=None, help="Only this service of a multi-service SOURCE.")
@click.option("--timeout", default=15.0, show_default=True, help="Seconds to wait for a live producer.")
@click.option("--rcan", type=click.Path(dir_okay=False), default=None,
              help="Live SOURCE: the credential to present (credential JSON or .aster-identity).")
@click.option("--aster", "--registry", "registry", metavar="ADDR", default=None,
              help="@handle/Service SOURCE: the registry to ask (default: ASTER_SERVICE_ADDR, then config).")
@_FORCE
@json_option
def gen_client(source: str, out_dir: Path, package: str | None, lang: str, service_name: str | None,
               timeout: float, rcan: str | None, registry: str | None, force: bool, as_json: bool) -> None:
    """Generate a typed client from an .aster.json, a manifest, or a live address (aster1...).

    Every name that becomes an identifier is checked first (exit 2, nothing written); an
    existing package directory is replaced only when gen-client wrote it, or with --force.
    """
    from .export import load_contract_file
    from .live import fetch_manifests, is_address
    from .manifest import select_service
    from .outputs import write_package

    if not math.isfinite(timeout) or not 0 < timeout <= 3600:
        raise UsageError(f"--timeout {timeout:g} is not a number of seconds from 0 to 3600", "e.g. --timeout 15")
    if is_address(source):
        from .store import stored_manifest

        if source.startswith("@") and service_name is None:  # @handle/Service names its service
            service_name = source.partition("/")[2].partition("@")[0] or None

        if registry:
            import os

            # the registry family's resolver reads its address from the environment or config
            # (it is another distribution); this process only generates and then ends
            os.environ["ASTER_SERVICE_ADDR"] = registry
        # an imported export of the same contract also describes nested types
        with progress("Reading the producer's published manifests..."):
            published = fetch_manifests(source, timeout=timeout, rcan=rcan)
        manifests = [stored_manifest(m["service"], m["contract_id"]) or m for m in published]
    else:
        manifests = load_contract_file(Path(source))
    manifests = select_service(manifests, service_name, source)
    package = package or _default_package(manifests, lang)
    if lang == "python" and (not whole_match(_PKG, package) or keyword.iskeyword(package)):
        raise UsageError(f"--package {shown(package)} is not a Python package name", "use letters, digits and '_'")
    if lang == "typescript" and (not whole_match(_TS_PKG, package) or ".." in package):
        raise UsageError(f"--package {shown(package)} is not a directory name", "use letters, digits, '-', '_', '.'")
    if lang == "python":
        from .codegen_python import generate
    else:
        from .codegen_typescript import generate
    files, warnings = generate(manifests, package, f"{source[:24]}…" if is_address(source) else source)
    for message in warnings:
        warn(message)
    paths = write_package(out_dir, package, files, force=force)
    data = {"package": package, "lang": lang, "services": [m["service"] for m in manifests],
            "files": [str(p) for p in paths]}
    emit(data, as_json, lambda d: click.echo(
        f"generated {d['lang']} client {d['package']} for {', '.join(d['services'])} in {out_dir}"))
