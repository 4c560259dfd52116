import click


@click.command()
def rival():
    click.echo("rival a ran")
