import click


@click.command()
def impostor():
    click.echo("IMPOSTOR")


@click.command()
def shadow():
    click.echo("shadow ran")
