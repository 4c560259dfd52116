import click

from aster_core.hookspecs import CheckResult


@click.command()
def zeta():
    click.echo("zeta ran")


def first():
    return CheckResult("zeta first", "ok", "a tryfirst check")
