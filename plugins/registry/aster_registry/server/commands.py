"""``aster registry serve`` and ``aster registry status`` (click only; the work is imported inside)."""

from __future__ import annotations

import click


@click.command()
def serve() -> None:
    """Serve ProfileService, PublicationService and AccessService (the registry)."""
    raise click.UsageError("not yet")


@click.command()
def status() -> None:
    """Counts, live endpoints, database and mail of a registry database."""
    raise click.UsageError("not yet")
