import click


@click.command()
def rival():
    click.echo("rival b ran")
