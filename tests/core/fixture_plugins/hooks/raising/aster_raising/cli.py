import click


@click.command()
def raising():
    click.echo("raising ran")
