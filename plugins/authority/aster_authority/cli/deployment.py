"""``aster svc``, ``aster grants``, ``aster authority``: parse, call :mod:`aster_authority.ops`, render.

Resource-first, as in the Trellis design: ``aster svc list`` and ``aster svc <id> <action>``.
Exit codes: 0 ok; 1 refused or failed; 2 bad input (the message names the field); 3 denied
(not an admin, wrong root key, namespace); 4 not found (deployment, plan, file); 7 the
authority is unreachable.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import click

from aster_core.errors import UsageError
from aster_core.output import emit, info, json_option, print_fields, print_table


def _kind() -> str:
    """The kind of deployment the running command is about: `aster svc` or `aster dev` (set by
    :class:`_ResourceGroup`), so one command serves both families."""
    return click.get_current_context().meta.get("aster_authority.kind", "service")


def _pfx() -> str:
    from .plans import PREFIX

    return PREFIX[_kind()]


def _conn_options(func: Callable) -> Callable:
    func = click.option("--rcan", metavar="FILE",
                        help="Admin credential (JSON or .aster-identity). Default: ASTER_AUTHORITY_CREDENTIAL, "
                             "[authority] credential.")(func)
    return click.option("--authority", "authority_addr", metavar="ADDR",
                        help="The authority's address. Default: ASTER_AUTHORITY_ADDR, [authority] address.")(func)


def _paging(func: Callable) -> Callable:
    func = click.option("--all", "all_pages", is_flag=True, help="Follow every page.")(func)
    return click.option("--limit", type=int, default=100, show_default=True, help="Rows per page (at most 500).")(func)


def _auth(authority_addr: str | None, rcan: str | None):
    from .client import Authority

    return Authority.open(authority_addr, rcan)


def _dep_id() -> str:
    return click.get_current_context().meta["aster_authority.deployment_id"]


def _ts(epoch: Any) -> str:
    from aster_core.durations import iso_utc

    return iso_utc(epoch) if isinstance(epoch, int) else ""


def _more(page: dict[str, Any]) -> None:
    if page.get("next_offset") is not None:
        info(f"(more rows: pass --all, or --limit N up to 500)")


# ── resource-first groups ──────────────────────────────────────────────────────────


class _ResourceGroup(click.Group):
    """``svc list`` is a command; any other first word is a deployment id followed by an action."""

    def __init__(self, *args: Any, deployment: click.Group, kind: str = "service", **kw: Any):
        super().__init__(*args, **kw)
        self.deployment = deployment
        self.kind = kind

    def resolve_command(self, ctx: click.Context, args: list[str]):
        ctx.meta["aster_authority.kind"] = self.kind
        name = args[0] if args else ""
        if name in self.commands or name.startswith("-"):
            return super().resolve_command(ctx, args)
        from .plans import check_deployment_id, Refusal

        try:
            check_deployment_id(name)
        except Refusal as exc:
            raise UsageError(f"{name!r} is neither a command of `aster {self.name}` nor a deployment id",
                             f"use `aster {self.name} list` or `aster {self.name} ID show`; " + (exc.hint or "")) \
                from None
        ctx.meta["aster_authority.deployment_id"] = name
        return name, self.deployment, args[1:]

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "list [OPTIONS] | ID COMMAND [ARGS]...")

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_commands(ctx, formatter)
        rows = [(name, cmd.get_short_help_str(70)) for name, cmd in self.deployment.commands.items()]
        with formatter.section(f"Commands on one deployment (aster {self.name} ID COMMAND)"):
            formatter.write_dl(rows)


@click.group("deployment")
def deployment() -> None:
    """One service deployment."""


@click.group(cls=_ResourceGroup, deployment=deployment)
def svc() -> None:
    """Service deployments: reviewed authority plans, instances, reconcile (Trellis-style).

    \b
    aster svc list
    aster svc payments create --namespace 'Payment*' --role payments
    aster svc payments apply --manifest .aster/manifest.json
    aster svc payments authority plan list
    aster svc payments authority accept-update PLAN --reconcile
    """


@svc.command("list")
@click.option("--disabled", is_flag=True, help="Include disabled deployments.")
@_paging
@_conn_options
@json_option
def svc_list(disabled: bool, limit: int, all_pages: bool, authority_addr, rcan, as_json: bool) -> None:
    """List the deployments (of this family: services or devices)."""
    from . import ops

    with _auth(authority_addr, rcan) as auth:
        page = ops.list_deployments(auth, kind=_kind(), include_disabled=disabled, limit=limit, all_pages=all_pages)

    def render(p: dict[str, Any]) -> None:
        print_table(["deployment", "version", "services", "roles", "disabled"],
                    [(d["deployment_id"], d["version"], ", ".join(d["desired_services"]) or "-",
                      ",".join(d["roles"]), "yes" if d["disabled"] else "") for d in p["items"]])
        _more(p)

    emit(page, as_json, render)


def _render_deployment(d: dict[str, Any]) -> None:
    rows = [("deployment", f"{_pfx()}/{d['deployment_id']}"), ("version", d["version"])]
    if "review_mode" in d:
        rows.append(("review mode", d["review_mode"]))
    else:
        rows += [("namespaces", ", ".join(d.get("namespaces", []))), ("compatibility", d.get("compatibility"))]
    rows += [("roles", ",".join(d["roles"]) or "(none)"), ("disabled", "yes" if d["disabled"] else "no"),
            ("contract", ", ".join(d["desired_services"]) or "(none accepted yet)"),
            ("digest", d["desired_digest"] or "-")]
    for key in ("pending_plans", "stale_plans", "instances", "grants", "pending_reviews"):
        if key in d:
            rows.append((key.replace("_", " "), d[key]))
    if d.get("devices"):
        rows.append(("devices", ", ".join(f"{n} {state}" for state, n in sorted(d["devices"].items()))))
    print_fields(rows)


@deployment.command("show")
@_conn_options
@json_option
def dep_show(authority_addr, rcan, as_json: bool) -> None:
    """Show the deployment: desired contract, version, roles, counts, recent history."""
    from . import ops

    with _auth(authority_addr, rcan) as auth:
        emit(ops.show(auth, _dep_id(), kind=_kind()), as_json, _render_deployment)


@deployment.command("create")
@click.option("--namespace", "namespaces", multiple=True, metavar="NS",
              help="Service names it may serve (glob; repeatable). Default: any (*).")
@click.option("--compatibility", type=click.Choice(["strict", "mutable-dev"]), default="strict", show_default=True,
              help="mutable-dev: a proposal keeping the same service versions is accepted at once.")
@click.option("--role", "roles", multiple=True, metavar="R", help="aster.role its instances get (repeatable).")
@_conn_options
@json_option
def dep_create(namespaces, compatibility, roles, authority_addr, rcan, as_json: bool) -> None:
    """Create the deployment."""
    from . import ops

    with _auth(authority_addr, rcan) as auth:
        d = ops.create(auth, _dep_id(), kind=_kind(), namespaces=namespaces, compatibility=compatibility, roles=roles)
    emit(d, as_json, lambda d: (click.echo(f"Created {_pfx()}/{d['deployment_id']} (version {d['version']})"),
                                info(f"Next: aster {_pfx()} {d['deployment_id']} apply --manifest FILE")))


@deployment.command("apply")
@click.option("--source", metavar="MODULE:CLASS", help="Build the manifest from service classes (comma-separated).")
@click.option("--manifest", metavar="PATH", help="A manifest (or export) made by `aster contract gen`.")
@click.option("--image", metavar="REF", help="An OCI image (local layout directory or archive; podman/docker).")
@click.option("--ttl", metavar="DURATION", help="Plan expiry (default 7d).")
@_conn_options
@json_option
def dep_apply(source, manifest, image, ttl, authority_addr, rcan, as_json: bool) -> None:
    """Propose a contract: the authority classifies it (update or migration) and makes a plan."""
    from aster_core.durations import parse_duration

    from . import ops

    manifests = ops.load_proposal(source=source, manifest=manifest, image=image)
    seconds = int(parse_duration(ttl).total_seconds()) if ttl else None
    dep_id = _dep_id()
    with _auth(authority_addr, rcan) as auth:
        result = ops.apply(auth, dep_id, manifests, kind=_kind(), ttl=seconds)

    def render(r: dict[str, Any]) -> None:
        if r["unchanged"]:
            click.echo(f"{_pfx()}/{dep_id} already has this contract; nothing to review")
            return
        p = r["plan"]
        if r.get("auto_accepted"):
            click.echo(f"Plan {p['plan_id']} ({p['classification']}) accepted at once (mutable-dev); "
                       f"desired version {r['desired_version']}")
            info(f"Next: aster {_pfx()} {dep_id} authority reconcile")
            return
        click.echo(f"{'New' if r['created'] else 'Existing identical'} plan {p['plan_id']}: {p['classification']}, "
                   f"{len(p['changes'])} change(s), {p['breaking']} breaking; expires {_ts(p['expires_at'])}")
        _render_changes(p)
        verb = "accept-migration PLAN --acknowledgement TEXT" if p["classification"] == "migration" else \
            "accept-update PLAN"
        info(f"Next: aster {_pfx()} {dep_id} authority {verb.replace('PLAN', p['plan_id'])}")

    emit(result, as_json, render)


def _render_changes(p: dict[str, Any]) -> None:
    for c in p.get("changes", []):
        where = ".".join(x for x in (c["service"], c.get("method"), c.get("field")) if x)
        click.echo(f"  {'compatible' if c['compatible'] else 'BREAKING  '}  {where}: {c['detail']}")
    for w in p.get("warnings", []):
        click.echo(f"  warning: {w}")


def _toggle(disabled: bool) -> Callable:
    @_conn_options
    @json_option
    def command(authority_addr, rcan, as_json: bool) -> None:
        from . import ops

        with _auth(authority_addr, rcan) as auth:
            d = ops.set_disabled(auth, _dep_id(), disabled, kind=_kind())
        word = "disabled" if disabled else "enabled"
        emit(d, as_json, lambda d: click.echo(f"{_pfx()}/{d['deployment_id']} {word} (version {d['version']})"
                                              if d["changed"] else f"{_pfx()}/{d['deployment_id']} was already {word}"))

    command.__doc__ = f"{'Disable' if disabled else 'Enable'} the deployment (a new authority version)."
    return command


deployment.command("disable")(_toggle(True))
deployment.command("enable")(_toggle(False))


@deployment.command("remove")
@click.option("-f", "--force", is_flag=True, help="Do not ask for the typed confirmation.")
@click.option("--cascade", is_flag=True, help="Also revoke its instances and grants.")
@click.option("--purge", is_flag=True, help="Also delete its plans, history and stored credentials.")
@_conn_options
@json_option
def dep_remove(force, cascade, purge, authority_addr, rcan, as_json: bool) -> None:
    """Remove the deployment (asks for the typed `svc/ID` or `dev/ID` unless -f)."""
    from . import ops

    dep_id = _dep_id()
    if not force:
        if as_json:
            raise UsageError("--json never prompts: removing needs -f", f"pass -f to remove {_pfx()}/{dep_id}")
        typed = click.prompt(f"Type {_pfx()}/{dep_id} to remove it", default="", show_default=False, err=True)
        if typed.strip() != f"{_pfx()}/{dep_id}":
            raise UsageError("confirmation did not match; nothing was removed", f"type {_pfx()}/{dep_id} exactly, or pass -f")
    with _auth(authority_addr, rcan) as auth:
        r = ops.remove(auth, dep_id, kind=_kind(), cascade=cascade, purge=purge)

    def render(r: dict[str, Any]) -> None:
        click.echo(f"Removed {_pfx()}/{dep_id}" + (f"; revoked {len(r['revoked'])} endpoint(s)" if r["revoked"] else ""))
        if r["kept"]:
            kept = ", ".join(f"{n} {k}" for k, n in r["kept"].items())
            info(f"Kept: {kept} (--purge removes them)")
        else:
            info("Purged: " + ", ".join(f"{n} {k}" for k, n in r["purged"].items()))

    emit(r, as_json, render)


@deployment.command("instances")
@click.option("--disabled", is_flag=True, help="Include disabled and revoked instances.")
@_paging
@_conn_options
@json_option
def dep_instances(disabled, limit, all_pages, authority_addr, rcan, as_json: bool) -> None:
    """List the deployment's service instances."""
    from . import ops

    with _auth(authority_addr, rcan) as auth:
        page = ops.instances(auth, _dep_id(), kind=_kind(), include_disabled=disabled, limit=limit, all_pages=all_pages)

    def render(p: dict[str, Any]) -> None:
        print_table(["instance", "endpoint", "state", "credential expires"],
                    [(i["instance_id"], i["endpoint_id"][:16] + "...", i["state"], _ts(i["credential_expires_at"]))
                     for i in p["items"]])
        _more(p)

    emit(page, as_json, render)


def _signing_options(func: Callable) -> Callable:
    func = click.option("--profile", metavar="NAME", help="Profile whose keyring root key signs.")(func)
    return click.option("--root-key", "root_key", metavar="FILE", help="Root key pair file instead of the keyring.")(func)


@deployment.command("provision")
@click.option("--instance-seed", metavar="SEED", help="The node key seed: base64url, exactly 32 bytes.")
@click.option("--out", default=".aster-identity", show_default=True, metavar="PATH", help="Identity file to write.")
@click.option("--force", is_flag=True, help="Replace an existing --out file.")
@_signing_options
@_conn_options
@json_option
def dep_provision(instance_seed, out, force, root_key, profile, authority_addr, rcan, as_json: bool) -> None:
    """Make an instance: node key, producer credential signed here, registered, written to --out (0600)."""
    from . import ops

    with _auth(authority_addr, rcan) as auth:
        r = ops.provision(auth, _dep_id(), kind=_kind(), instance_seed=instance_seed, out=out, force=force,
                          root_key_file=root_key, profile=profile)
    emit(r, as_json, lambda r: (
        click.echo(f"Provisioned {r['instance_id']} of {_pfx()}/{r['deployment_id']} into {r['identity_file']}"),
        print_fields([("endpoint id", r["endpoint_id"]), ("expires", _ts(r["expires_at"])),
                      ("attributes", ", ".join(f"{k}={v}" for k, v in sorted(r["attributes"].items())))]),
        info(f"Run the service with ASTER_IDENTITY_FILE={r['identity_file']} and ASTER_ROOT_PUBKEY={r['root_pubkey']}")))


# ── svc ID authority ... ─────────────────────────────────────────────────────────


@deployment.group("authority")
def dep_authority() -> None:
    """The deployment's authority: desired state, plans, decisions, reconcile."""


@dep_authority.command("show")
@_conn_options
@json_option
def auth_show(authority_addr, rcan, as_json: bool) -> None:
    """Desired version, contract and what reconcile would do."""
    from . import ops

    with _auth(authority_addr, rcan) as auth:
        d = ops.show(auth, _dep_id(), kind=_kind())
        d["reconcile"] = ops.reconcile(auth, _dep_id(), kind=_kind(), dry_run=True)

    def render(d: dict[str, Any]) -> None:
        _render_deployment(d)
        c = d["reconcile"]["counts"]
        click.echo(f"  reconcile      {c['current']} current, {c['pending']} pending")

    emit(d, as_json, render)


@dep_authority.group("plan")
def auth_plan() -> None:
    """Authority plans: list and show."""


@auth_plan.command("list")
@click.option("--state", type=click.Choice(["pending", "accepted", "rejected", "expired"]))
@click.option("--classification", type=click.Choice(["update", "migration"]))
@click.option("--stale", is_flag=True, help="Only pending plans made against an older version.")
@_paging
@_conn_options
@json_option
def plan_list(state, classification, stale, limit, all_pages, authority_addr, rcan, as_json: bool) -> None:
    """List plans (oldest first)."""
    from . import ops

    with _auth(authority_addr, rcan) as auth:
        page = ops.plan_list(auth, _dep_id(), kind=_kind(), state=state, classification=classification, stale=stale,
                             limit=limit, all_pages=all_pages)

    def render(p: dict[str, Any]) -> None:
        print_table(["plan", "class", "state", "breaking", "services", "expires"],
                    [(x["plan_id"], x["classification"], x["state"] + (" (stale)" if x["stale"] else ""),
                      x["breaking"], ", ".join(x["services"]), _ts(x["expires_at"])) for x in p["items"]])
        _more(p)

    emit(page, as_json, render)


def _render_plan(p: dict[str, Any]) -> None:
    print_fields([("plan", p["plan_id"]), ("deployment", f"{_pfx()}/{p['deployment_id']}"),
                  ("classification", p["classification"]),
                  ("state", p["state"] + (" (STALE: re-apply to get a current plan)" if p["stale"] else "")),
                  ("base version", p["base_version"]), ("desired version", p.get("desired_version")),
                  ("services", ", ".join(p["services"])), ("digest", p["digest"]),
                  ("created", _ts(p["created_at"])), ("expires", _ts(p["expires_at"])),
                  ("decided", f"{_ts(p['decided_at'])} by {(p['decided_by'] or {}).get('name') or (p['decided_by'] or {}).get('endpoint_id', '')[:16]}"
                   if p.get("decided_at") else "-"),
                  ("reason", p.get("decision_reason") or "-")])
    _render_changes(p)


@auth_plan.command("show")
@click.argument("plan_id")
@_conn_options
@json_option
def plan_show(plan_id, authority_addr, rcan, as_json: bool) -> None:
    """Show one plan with every change."""
    from . import ops

    with _auth(authority_addr, rcan) as auth:
        emit(ops.plan_show(auth, _dep_id(), plan_id, kind=_kind()), as_json, _render_plan)


def _accept(classification: str, plan_id: str, acknowledgement: str | None, expected: str | None, yes: bool,
            do_reconcile: bool, root_key: str | None, profile: str | None, authority_addr, rcan, as_json: bool) -> None:
    from . import ops

    dep_id = _dep_id()
    if not yes and as_json:
        raise UsageError("--json never prompts: accepting needs --yes", "pass --yes to accept without the prompt")
    with _auth(authority_addr, rcan) as auth:
        if not yes:
            plan = ops.plan_show(auth, dep_id, plan_id, kind=_kind())
            _render_plan(plan)
            if not click.confirm(f"Accept {plan['classification']} {plan_id} for {_pfx()}/{dep_id}?", err=True):
                raise UsageError("not accepted", "nothing was changed; pass --yes to skip the question")
        r = ops.accept(auth, dep_id, plan_id, classification, kind=_kind(), acknowledgement=acknowledgement,
                       expected_version=expected)
        if do_reconcile:
            r["reconcile"] = ops.reconcile(auth, dep_id, kind=_kind(), desired_version=r["desired_version"],
                                           root_key_file=root_key, profile=profile)

    def render(r: dict[str, Any]) -> None:
        click.echo(f"Accepted {r['plan']['plan_id']}: {_pfx()}/{dep_id} desired version {r['previous_version']} -> "
                   f"{r['desired_version']}")
        if "reconcile" in r:
            _render_reconcile(r["reconcile"])
        else:
            info(f"Reconcile needed: aster {_pfx()} {dep_id} authority reconcile")

    emit(r, as_json, render)
    _exit_on_failed(r.get("reconcile"))


@dep_authority.command("accept-update")
@click.argument("plan_id")
@click.option("--expected-desired-version", "expected", metavar="V", help="Refuse unless the desired version is V.")
@click.option("--reconcile", "do_reconcile", is_flag=True, help="Reconcile right after accepting.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask.")
@_signing_options
@_conn_options
@json_option
def accept_update(plan_id, expected, do_reconcile, yes, root_key, profile, authority_addr, rcan, as_json) -> None:
    """Accept a plan classified as an update (every change compatible)."""
    _accept("update", plan_id, None, expected, yes, do_reconcile, root_key, profile, authority_addr, rcan, as_json)


@dep_authority.command("accept-migration")
@click.argument("plan_id")
@click.option("--acknowledgement", required=True, metavar="TEXT", help="Why breaking callers is acceptable.")
@click.option("--expected-desired-version", "expected", metavar="V", help="Refuse unless the desired version is V.")
@click.option("--reconcile", "do_reconcile", is_flag=True, help="Reconcile right after accepting.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask.")
@_signing_options
@_conn_options
@json_option
def accept_migration(plan_id, acknowledgement, expected, do_reconcile, yes, root_key, profile, authority_addr, rcan,
                     as_json) -> None:
    """Accept a plan classified as a migration (breaking changes), with an acknowledgement."""
    _accept("migration", plan_id, acknowledgement, expected, yes, do_reconcile, root_key, profile, authority_addr,
            rcan, as_json)


@dep_authority.command("reject")
@click.argument("plan_id")
@click.option("--reason", metavar="TEXT")
@_conn_options
@json_option
def reject(plan_id, reason, authority_addr, rcan, as_json) -> None:
    """Reject a pending plan (stale ones too)."""
    from . import ops

    with _auth(authority_addr, rcan) as auth:
        r = ops.reject(auth, _dep_id(), plan_id, kind=_kind(), reason=reason)
    emit(r, as_json, lambda r: click.echo(f"Rejected {r['plan']['plan_id']}"))


def _render_reconcile(r: dict[str, Any]) -> None:
    print_table(["subject", "id", "status", "action", "reason"],
                [(i["subject"], i["id"][:24], i["status"], i["action"], i["reason"]) for i in r["items"]])
    c = r["counts"]
    click.echo(f"{_pfx()}/{r['deployment_id']} at {r['desired_version']}: {c['current']} current, {c['pending']} pending, "
               f"{c['failed']} failed")


def _exit_on_failed(r: dict[str, Any] | None) -> None:
    if r and r["counts"]["failed"]:
        from aster_core.errors import AsterError

        raise AsterError(f"{r['counts']['failed']} credential(s) were refused by the authority",
                         "see the reasons above (or in --json), fix the root key or desired state and reconcile again")


@dep_authority.command("reconcile")
@click.option("--desired-version", metavar="V", help="Refuse unless the desired version is V.")
@click.option("--dry-run", is_flag=True, help="Only report what would be signed.")
@_signing_options
@_conn_options
@json_option
def reconcile(desired_version, dry_run, root_key, profile, authority_addr, rcan, as_json) -> None:
    """Sign here what is missing, expiring or different; upload it; report each item."""
    from . import ops

    with _auth(authority_addr, rcan) as auth:
        r = ops.reconcile(auth, _dep_id(), kind=_kind(), desired_version=desired_version, root_key_file=root_key,
                          profile=profile, dry_run=dry_run)
    emit(r, as_json, _render_reconcile)
    _exit_on_failed(r)


# ── grants ──────────────────────────────────────────────────────────────────────


@click.group()
def grants() -> None:
    """Deployment grants: consumer endpoint ids and the roles reconcile signs for them."""


@grants.command("list")
@click.option("--deployment", metavar="D", help="Only this deployment.")
@_paging
@_conn_options
@json_option
def grants_list(deployment, limit, all_pages, authority_addr, rcan, as_json) -> None:
    """List grants."""
    from . import ops

    with _auth(authority_addr, rcan) as auth:
        page = ops.grants_list(auth, deployment, limit=limit, all_pages=all_pages)

    def render(p: dict[str, Any]) -> None:
        print_table(["deployment", "consumer", "role", "since"],
                    [(g["deployment_id"], g["consumer"][:16] + "...", g["role"], _ts(g["created_at"]))
                     for g in p["items"]])
        _more(p)

    emit(page, as_json, render)


def _grant_command(add: bool) -> Callable:
    @click.option("--deployment", required=True, metavar="D")
    @click.option("--consumer", required=True, metavar="ENDPOINT_ID", help="The consumer node's endpoint id (hex).")
    @click.option("--role", "roles", required=True, multiple=True, metavar="R", help="Repeatable.")
    @_conn_options
    @json_option
    def command(deployment, consumer, roles, authority_addr, rcan, as_json) -> None:
        from . import ops

        with _auth(authority_addr, rcan) as auth:
            r = ops.grant(auth, deployment, consumer, roles, add=add)

        def render(r: dict[str, Any]) -> None:
            verb = "Granted" if add else "Removed"
            click.echo(f"{verb} {', '.join(r['changed']) or 'nothing new'} for {r['consumer'][:16]}... on "
                       f"{r['deployment_id']}; roles now: {', '.join(r['roles']) or '(none: revoked)'}")
            if r["reconcile_needed"]:
                info(f"Reconcile needed: aster svc {r['deployment_id']} authority reconcile")

        emit(r, as_json, render)

    command.__doc__ = "Grant roles to a consumer (atomic)." if add else "Remove roles from a consumer (atomic)."
    return command


grants.command("add")(_grant_command(True))
grants.command("remove")(_grant_command(False))


# ── authority ───────────────────────────────────────────────────────────────────


@click.group()
def authority() -> None:
    """Run the deployment authority, fetch a node's credentials, check the authority."""


@authority.command("serve")
@click.option("--db", metavar="URL", help="SQLite path or postgresql://... Default: $ASTER_HOME/servers/authority/authority.db.")
@click.option("--root-pubkey", metavar="FILE", help="The mesh root public key. Default: the profile's root_pubkey.")
@click.option("--identity", metavar="FILE", help="The server's node key file (made if missing): a stable address.")
@click.option("--profile", metavar="NAME", help="Profile whose root public key to trust.")
@click.option("--bind", "binds", multiple=True, metavar="HOST", help="Host to advertise in the ticket (repeatable).")
@click.option("--plan-ttl", metavar="DURATION", help="How long plans stay pending (default 7d).")
@click.option("--max-lifetime", type=float, hidden=True)
def serve_cmd(db, root_pubkey, identity, profile, binds, plan_ttl, max_lifetime) -> None:
    """Run the authority (prints one JSON ready line with its address)."""
    from aster_core.durations import parse_duration

    from aster_trust.keys import load_public_key, profile_public_key

    from .server import serve

    key = load_public_key(root_pubkey) if root_pubkey else profile_public_key(profile)
    ttl = int(parse_duration(plan_ttl).total_seconds()) if plan_ttl else None
    from aster_server.lifecycle import parse_bind

    raise SystemExit(serve(db=db, root_pubkey=key, identity=identity, advertise=parse_bind(binds),
                           max_lifetime=max_lifetime, plan_ttl=ttl))


@authority.command("fetch")
@click.option("--identity", default=".aster-identity", show_default=True, metavar="FILE",
              help="The node's identity file: its key connects, its credentials are rewritten.")
@click.option("--authority", "authority_addr", metavar="ADDR",
              help="Default: the file's [authority] address, ASTER_AUTHORITY_ADDR, [authority] address.")
@json_option
def fetch_cmd(identity, authority_addr, as_json) -> None:
    """Fetch this node's current credentials and write them into its identity file."""
    from . import ops

    r = ops.fetch(authority_addr, identity)
    emit(r, as_json, lambda r: [click.echo(f"{'Updated' if w['replaced'] else 'Added'} peer {w['peer']!r} "
                                           f"({w['subject']}, {w['deployment_id']}, roles {','.join(w['roles'])}, "
                                           f"expires {_ts(w['expires_at'])}) in {r['identity_file']}")
                                for w in r["written"]])


@authority.command("status")
@_conn_options
@json_option
def status_cmd(authority_addr, rcan, as_json) -> None:
    """Reach the authority and show what it says about itself and about us."""
    from . import ops

    r = ops.status(authority_addr, rcan)
    emit(r, as_json, lambda r: print_fields([
        ("address", r["address"][:40] + "..."), ("root", r["root_pubkey"]), ("caller", r["caller"]),
        ("admin", "yes" if r["admin"] else "no (no authority.admin role)"),
        ("database", f"{r['database']['dialect']} {r['database']['url']} "
                     f"({'reachable' if r['database']['reachable'] else 'UNREACHABLE'})")]))
