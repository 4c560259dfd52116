"""What the authority's click modules share: the resource-first group, the kind and deployment
a command runs on, connection, paging and signing options, and renderers used by more than
one command. Imports nothing heavy (no runtime: ``--help`` of a command loads this module).
"""

from __future__ import annotations

from typing import Any, Callable

import click

from aster_core.errors import AsterError, UsageError
from aster_core.output import info, print_fields, print_table

KIND_KEY = "aster_authority.kind"
DEPLOYMENT_KEY = "aster_authority.deployment_id"


def kind() -> str:
    """The kind of deployment the running command is about: `aster svc` or `aster dev` (set by
    :class:`ResourceGroup`), so one command serves both families."""
    return click.get_current_context().meta.get(KIND_KEY, "service")


def prefix() -> str:
    """``svc`` or ``dev``: how the running command's family names a deployment (``svc/payments``)."""
    from ..domain.ids import PREFIX

    return PREFIX[kind()]


def given_deployment() -> str:
    """The deployment id the running command was given (``aster svc ID COMMAND``)."""
    return click.get_current_context().meta[DEPLOYMENT_KEY]


def ts(epoch: Any) -> str:
    from aster_core.durations import iso_utc

    return iso_utc(epoch) if isinstance(epoch, int) else ""


# ── options ────────────────────────────────────────────────────────────────────────


def conn_options(func: Callable) -> Callable:
    func = click.option("--rcan", metavar="FILE",
                        help="Admin credential (JSON or .aster-identity). Default: ASTER_AUTHORITY_CREDENTIAL, "
                             "[authority] credential.")(func)
    return click.option("--authority", "authority_addr", metavar="ADDR",
                        help="The authority's address. Default: ASTER_AUTHORITY_ADDR, [authority] address.")(func)


class _LimitOption(click.Option):
    """``--limit``: its default and bound are the wire module's, read only when parsing or
    showing help (that module brings the runtime, which loading a command must not)."""

    def get_default(self, ctx: click.Context, call: bool = True) -> Any:
        from ..wire import DEFAULT_LIMIT

        return DEFAULT_LIMIT

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        from ..wire import MAX_LIMIT

        self.help = f"Rows per page (at most {MAX_LIMIT})."
        return super().get_help_record(ctx)


def paging(func: Callable) -> Callable:
    func = click.option("--all", "all_pages", is_flag=True, help="Follow every page.")(func)
    return click.option("--limit", cls=_LimitOption, type=int, show_default=True)(func)


def signing_options(func: Callable) -> Callable:
    from aster_core.completions import complete_profile

    func = click.option("--profile", metavar="NAME", shell_complete=complete_profile,
                        help="Profile whose root key signs (keyring, or its key file).")(func)
    return click.option("--root-key", "root_key", metavar="FILE", help="Root key pair file instead of the keyring.")(func)


def open_authority(authority_addr: str | None, rcan: str | None) -> Any:
    """A connection to the authority (``with open_authority(...) as auth:``), its module
    imported when a command runs. In the `aster` process itself it is closed at once
    (:meth:`~aster_authority.client.connection.Authority.open`)."""
    from ..client.connection import Authority

    return Authority.open(authority_addr, rcan)


# ── rendering ──────────────────────────────────────────────────────────────────────


def more(page: dict[str, Any]) -> None:
    """Say there are more rows than this page shows."""
    if page.get("next_offset") is not None:
        from ..wire import MAX_LIMIT

        info(f"(more rows: pass --all, or --limit N up to {MAX_LIMIT})")


def render_deployment(d: dict[str, Any], extra: list[tuple[str, Any]] | tuple = ()) -> None:
    """``extra``: more rows after the deployment's own (one aligned block)."""
    rows = [("deployment", f"{prefix()}/{d['deployment_id']}"), ("version", d["version"])]
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
    print_fields(rows + list(extra))


def render_changes(p: dict[str, Any]) -> None:
    for c in p.get("changes", []):
        where = ".".join(x for x in (c["service"], c.get("method"), c.get("field")) if x)
        click.echo(f"  {'compatible' if c['compatible'] else 'BREAKING  '}  {where}: {c['detail']}")
    for w in p.get("warnings", []):
        click.echo(f"  warning: {w}")


def render_reconcile(r: dict[str, Any]) -> None:
    print_table(["subject", "id", "status", "action"],
                [(i["subject"], i["id"], i["status"], i["action"]) for i in r["items"]])
    for i in r["items"]:  # whole lines: a refusal's reason says what differs, too long for a cell
        if i["status"] in ("refused", "failed"):
            click.echo(f"  {i['status']} {i['subject']} {i['endpoint_id']}: {i['reason']}")
    c = r["counts"]
    click.echo(f"{prefix()}/{r['deployment_id']} at {r['desired_version']}: {c['current']} current, "
               f"{c['pending']} pending, {c['failed']} failed, {c.get('refused', 0)} refused (not backed by a "
               "decision, never signed)")
    if r.get("checkpoint_needed"):
        info(f"{prefix()}/{r['deployment_id']} has no decision record yet: a reconcile without --dry-run shows its "
             "state and asks to sign a checkpoint with the root key")


def render_checkpoint(view: dict[str, Any]) -> None:
    """The whole state a checkpoint would sign, and every credential it backs: what the operator
    confirms."""
    st = view["state"]
    ref = f"{prefix()}/{view['deployment_id']}"
    fields = [("deployment", ref), ("kind", st["kind"]), ("roles", ",".join(st["roles"]) or "(none)"),
              ("disabled", "yes" if st["disabled"] else "no"), ("digest", st["desired_digest"] or "-"),
              ("services", ", ".join(f"{s}@{v}" for s, v in st["desired_services"]) or "-")]
    fields += ([("review mode", st["review_mode"])] if st["kind"] == "device" else
               [("namespaces", ", ".join(st["namespaces"])), ("compatibility", st["compatibility"])])
    click.echo(f"{ref} has no signed decision yet. The authority's tables hold this state; confirming signs it "
               "with the ROOT key as the first record of its decision chain:")
    print_fields(fields)
    print_table(["instance", "endpoint", "state", "disabled"],
                [(iid, i["endpoint_id"], i["state"], "yes" if i["disabled"] else "")
                 for iid, i in st["instances"].items()], title="instances")
    print_table(["grantee", "roles"], [(c, ",".join(r)) for c, r in st["grants"].items()], title="grants")
    print_table(["subject", "endpoint", "type", "attributes"],
                [(c["subject"], c["endpoint_id"], c["type"], ", ".join(f"{k}={v}" for k, v in
                                                                    sorted(c["attributes"].items())))
                 for c in view["credentials"]], title="credentials reconcile may then sign")


def checkpoint_confirmation(yes: bool, as_json: bool) -> Callable[[dict[str, Any]], bool]:
    """What reconcile calls when a deployment needs a checkpoint: show the state (unless
    ``--json``) and ask; ``--yes`` answers in advance; ``--json`` or no terminal without
    ``--yes`` is exit 2 naming ``--yes`` (:mod:`aster_core.prompts`)."""
    def confirm(view: dict[str, Any]) -> bool:
        from aster_core.prompts import confirm as ask, require_answerable

        action = f"sign the checkpoint of {prefix()}/{view['deployment_id']}"
        if not yes:
            require_answerable(action, "--yes", as_json=as_json)
        if not as_json:
            render_checkpoint(view)
        return yes or ask("Is this state right? Sign it as the checkpoint with the root key?", action=action)

    return confirm


def remember_ids(what: str, page: dict[str, Any], key: str, *, filtered: bool, scope: str | None = None) -> None:
    """Keep the ids a listing showed for shell completion (``aster_core.completions``): a
    deployment's plans, reviews or instances under ``svc/ID``, deployments under their kind,
    each under the authority that listed them (:func:`of_authority`). An unfiltered listing of
    every page replaces what was kept; anything less adds to it."""
    from aster_core.completions import remember

    where = of_authority(click.get_current_context(), scope or f"{prefix()}/{given_deployment()}")
    remember(what, where, [x[key] for x in page.get("items", [])],
             complete=not filtered and page.get("next_offset") is None)


def of_authority(ctx: click.Context, scope: str) -> str:
    """``scope`` of the authority the command line names (``--authority``, else the configured
    one): see :func:`authority_scope`."""
    return authority_scope(ctx.params.get("authority_addr"), scope)


def authority_scope(given: str | None, scope: str) -> str:
    """``<digest of the authority's address>/scope`` (``given``, else the configured address),
    where completion ids are kept, so Tab never offers one authority's ids for another's
    deployment of the same name."""
    import hashlib

    from ..client.settings import authority_address

    try:
        address = authority_address(given)
    except AsterError:
        address = ""  # none configured: a command needing one was refused before listing
    return f"{hashlib.blake2b(address.encode(), digest_size=8).hexdigest()}/{scope}"


def completion_scope(ctx: click.Context) -> str | None:
    """``svc/ID`` or ``dev/ID`` of the deployment a command line being completed names, under
    its authority (:func:`of_authority`)."""
    dep = ctx.meta.get(DEPLOYMENT_KEY)
    return of_authority(ctx, f"{'dev' if ctx.meta.get(KIND_KEY) == 'device' else 'svc'}/{dep}") if dep else None


def complete_ids(what: str) -> Callable:
    """``shell_complete`` for an argument naming one of the deployment's ``what`` (plans, ...)."""
    from aster_core.completions import complete_cached

    return complete_cached(what, completion_scope)


def meta_cells(m: dict[str, str], show_all: bool) -> list[str]:
    """A device's metadata as table cells: name, serial, model (and, with ``show_all``, the rest)."""
    from ..domain.devices import PROMOTED

    cells = [m.get(k, "") for k in PROMOTED]
    if show_all:
        cells.append(", ".join(f"{k}={v}" for k, v in sorted(m.items()) if k not in PROMOTED))
    return cells


def exit_on_failed(r: dict[str, Any] | None) -> None:
    """Exit 1 when reconcile refused to sign some of what the authority listed (not backed by a
    decision), or the authority refused some of the credentials it signed."""
    if r and r["counts"].get("refused"):
        raise AsterError(f"{r['counts']['refused']} item(s) the authority listed are not backed by a decision and "
                         "were not signed", "see the reasons above (or in --json): the authority asks for "
                         "credentials no admin decided; check `authority log` and who can write to its database")
    if r and r["counts"]["failed"]:
        raise AsterError(f"{r['counts']['failed']} credential(s) were refused by the authority",
                         "see the reasons above (or in --json), fix the root key or desired state and reconcile again")


# ── resource-first groups ──────────────────────────────────────────────────────────


class ResourceGroup(click.Group):
    """``svc list`` is a command; any other first word is a deployment id followed by an action."""

    def __init__(self, *args: Any, deployment: click.Group, kind: str = "service", **kw: Any):
        super().__init__(*args, **kw)
        self.deployment = deployment
        self.kind = kind

    def resolve_command(self, ctx: click.Context, args: list[str]):
        ctx.meta[KIND_KEY] = self.kind
        name = args[0] if args else ""
        if name in self.commands or name.startswith("-"):
            return super().resolve_command(ctx, args)
        from ..domain.errors import Refusal
        from ..domain.ids import check_deployment_id

        try:
            check_deployment_id(name)
        except Refusal as exc:
            raise UsageError(f"{name!r} is neither a command of `aster {self.name}` nor a deployment id",
                             f"use `aster {self.name} list` or `aster {self.name} ID show`; " + (exc.hint or "")) \
                from None
        ctx.meta[DEPLOYMENT_KEY] = name
        return name, self.deployment, args[1:]

    def shell_complete(self, ctx: click.Context, incomplete: str):
        """Its commands, and the deployment ids the last `list` showed (never a network call)."""
        from aster_core.completions import recall
        from click.shell_completion import CompletionItem

        found = super().shell_complete(ctx, incomplete)
        if incomplete.startswith("-"):
            return found
        kept = recall("deployments", of_authority(ctx, self.kind))
        return found + [CompletionItem(d) for d in kept if d.startswith(incomplete)]

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "list [OPTIONS] | ID COMMAND [ARGS]...")

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_commands(ctx, formatter)
        rows = [(name, cmd.get_short_help_str(70)) for name, cmd in self.deployment.commands.items()]
        with formatter.section(f"Commands on one deployment (aster {self.name} ID COMMAND)"):
            formatter.write_dl(rows)
