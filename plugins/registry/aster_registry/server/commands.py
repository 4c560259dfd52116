"""``aster registry serve`` and ``aster registry status``: click parsing only; the work is in
:mod:`.app`, imported when the command runs (no SQLAlchemy on ``--help``)."""

from __future__ import annotations

import click

from aster_core.output import emit, json_option, print_fields

_DB = click.option("--db", metavar="URL", envvar="ASTER_REGISTRY_DB",
                   help="SQLite file path or postgresql://USER@HOST/DB. Default: "
                        "$ASTER_HOME/servers/registry/registry.db.")


@click.command()
@_DB
@click.option("--smtp", metavar="HOST:PORT", envvar="ASTER_REGISTRY_SMTP", help="Mail verification codes via this SMTP server.")
@click.option("--smtp-starttls", is_flag=True, help="Use STARTTLS with --smtp.")
@click.option("--smtp-user", metavar="USER", help="SMTP login (password from ASTER_REGISTRY_SMTP_PASSWORD).")
@click.option("--mail-from", metavar="ADDR", help="From address of the mails.")
@click.option("--dev-mail", is_flag=True, help="Print verification codes to the server log instead of mailing (development only).")
@click.option("--identity", metavar="FILE", help="Node key file (created when missing). Default: $ASTER_HOME/servers/registry/node.key.")
@click.option("--bind", multiple=True, metavar="HOST", help="Address to advertise in the printed ticket; repeatable.")
@click.option("--resend-cooldown", type=click.IntRange(0, 86400), default=60, show_default=True, metavar="SECONDS",
              envvar="ASTER_REGISTRY_RESEND_COOLDOWN",
              help="Seconds a handle waits before another verification code is mailed.")
@click.option("--read-limit", type=click.IntRange(1), default=600, show_default=True, metavar="COUNT",
              envvar="ASTER_REGISTRY_READ_LIMIT",
              help="Unsigned reads (discover, describe, resolve, ...) one caller may make per minute.")
@click.option("--max-lifetime", type=float, default=None, hidden=True)
def serve(db, smtp, smtp_starttls, smtp_user, mail_from, dev_mail, identity, bind, resend_cooldown,
          read_limit, max_lifetime) -> None:
    """Serve ProfileService, PublicationService and AccessService (the registry).

    Prints one JSON ready line on stdout (address, endpoint_id, services, database, mail)
    and logs one line per request on stderr. Stops on SIGTERM or Ctrl-C.
    """
    from .app import serve as run_serve

    raise SystemExit(run_serve(db=db, smtp=smtp, identity=identity, bind=bind, dev_mail=dev_mail,
                               mail_from=mail_from, starttls=smtp_starttls, smtp_user=smtp_user,
                               resend_cooldown=resend_cooldown, read_limit=read_limit,
                               max_lifetime=max_lifetime))


@click.command()
@_DB
@json_option
def status(db, as_json) -> None:
    """Counts, live endpoints and schema of a registry database."""
    from .app import status as get_status

    data = get_status(db)

    def render(d):
        print_fields([("database", d["database"]["url"]), ("dialect", d["database"]["dialect"]),
                      ("reachable", d["database"]["reachable"]), ("schema", d["schema"] or "-"),
                      *((k, v) for k, v in d.items() if k not in ("database", "schema"))], title="registry")

    emit(data, as_json, render)
